#include "aat/tensor.hpp"

#include <fmt/format.h>

namespace aat {

Expected<Tensor> Tensor::create(const std::shared_ptr<Context>& context, DType dtype,
                                std::vector<std::int64_t> shape, MemoryKind kind) {
  AAT_TRY(const std::uint64_t bytes, array_bytes(dtype, shape, "tensor"));
  AAT_TRY(auto buffer, Buffer::create(context, bytes, kind));
  return Tensor(std::move(buffer), dtype, std::move(shape));
}

Expected<Tensor> Tensor::from_host(const std::shared_ptr<Context>& context, const HostArray& array) {
  AAT_TRY(auto tensor, create(context, array.dtype, array.shape));
  AAT_CHECK(tensor.upload(array.data));
  return tensor;
}

std::int64_t Tensor::dim(std::int64_t axis) const {
  const std::int64_t r = rank();
  if (axis < 0) axis += r;
  return (axis >= 0 && axis < r) ? shape_[static_cast<std::size_t>(axis)] : 1;
}

std::int64_t Tensor::element_count() const {
  std::int64_t count = 1;
  for (std::int64_t d : shape_) count *= d;
  return count;
}

std::uint64_t Tensor::byte_size() const {
  return static_cast<std::uint64_t>(element_count()) * size_of(dtype_);
}

std::vector<std::int64_t> Tensor::strides() const {
  std::vector<std::int64_t> strides(shape_.size(), 1);
  for (std::size_t i = shape_.size(); i-- > 1;) strides[i - 1] = strides[i] * shape_[i];
  return strides;
}

std::string Tensor::describe() const {
  return fmt::format("{}[{}]", to_string(dtype_), shape_to_string(shape_));
}

Expected<void> Tensor::upload(std::span<const std::byte> bytes) const {
  if (!buffer_) return fail(ErrorCode::invalid_argument, "upload to an empty Tensor handle");
  if (bytes.size() != byte_size())
    return fail(ErrorCode::size_mismatch,
                fmt::format("upload to {}: got {} bytes, the tensor holds {}", describe(), bytes.size(), byte_size()));
  return buffer_.write(bytes);
}

Expected<std::vector<std::byte>> Tensor::download() const {
  if (!buffer_) return fail(ErrorCode::invalid_argument, "download from an empty Tensor handle");
  std::vector<std::byte> bytes(byte_size());
  AAT_CHECK(buffer_.read(bytes));
  return bytes;
}

Expected<HostArray> Tensor::to_host() const {
  AAT_TRY(auto bytes, download());
  return HostArray{dtype_, shape_, std::move(bytes)};
}

Expected<std::vector<float>> Tensor::download_f32() const {
  AAT_TRY(auto bytes, download());
  const std::size_t n = static_cast<std::size_t>(element_count());
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (dtype_) {
      case DType::f32: std::memcpy(&out[i], bytes.data() + 4 * i, 4); break;
      case DType::f16: {
        std::uint16_t bits;
        std::memcpy(&bits, bytes.data() + 2 * i, 2);
        out[i] = half_to_float(bits);
        break;
      }
      case DType::i32: {
        std::int32_t v;
        std::memcpy(&v, bytes.data() + 4 * i, 4);
        out[i] = static_cast<float>(v);
        break;
      }
      case DType::u8: out[i] = static_cast<float>(static_cast<std::uint8_t>(bytes[i])); break;
    }
  }
  return out;
}

}  // namespace aat
