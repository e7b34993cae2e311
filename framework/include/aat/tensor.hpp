// Tensor: a Buffer with a shape and an element type, contiguous in C order.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aat/dtype.hpp"
#include "aat/memory.hpp"
#include "aat/host_array.hpp"

namespace aat {

class Tensor {
 public:
  Tensor() = default;
  static Expected<Tensor> create(const std::shared_ptr<Context>& context, DType dtype,
                                 std::vector<std::int64_t> shape, MemoryKind kind = MemoryKind::device);
  // A new device tensor holding the array's data (files: aat/tensor_npy.hpp).
  static Expected<Tensor> from_host(const std::shared_ptr<Context>& context, const HostArray& array);
  template <class T>
  static Expected<Tensor> from_values(const std::shared_ptr<Context>& context, DType dtype,
                                      std::vector<std::int64_t> shape, std::span<const T> values);

  explicit operator bool() const { return static_cast<bool>(buffer_); }
  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t dim(std::int64_t axis) const;  // negative axes count from the end
  std::int64_t element_count() const;
  std::uint64_t byte_size() const;
  std::vector<std::int64_t> strides() const;  // in elements, C order
  const Buffer& buffer() const { return buffer_; }
  std::string describe() const;               // "f16[2x8x128x64]"

  // Whole-tensor copies; the byte count must equal byte_size().
  Expected<void> upload(std::span<const std::byte> bytes) const;
  Expected<std::vector<std::byte>> download() const;
  template <class T>
  Expected<void> upload_values(std::span<const T> values) const;
  template <class T>
  Expected<std::vector<T>> download_values() const;  // T must match dtype (f16 as std::uint16_t)
  Expected<HostArray> to_host() const;
  // f32 copy of the contents whatever the storage dtype (f16 widened, i32/u8 converted).
  Expected<std::vector<float>> download_f32() const;

 private:
  Tensor(Buffer buffer, DType dtype, std::vector<std::int64_t> shape)
      : buffer_(std::move(buffer)), dtype_(dtype), shape_(std::move(shape)) {}
  Buffer buffer_;
  DType dtype_ = DType::f32;
  std::vector<std::int64_t> shape_;
};

template <class T>
Expected<void> Tensor::upload_values(std::span<const T> values) const {
  if (!dtype_matches<T>(dtype_))
    return fail(ErrorCode::type_mismatch, "upload to " + describe() + ": element type does not match");
  return upload(std::as_bytes(values));
}

template <class T>
Expected<std::vector<T>> Tensor::download_values() const {
  if (!dtype_matches<T>(dtype_))
    return fail(ErrorCode::type_mismatch, "download from " + describe() + ": element type does not match");
  AAT_TRY(auto bytes, download());
  std::vector<T> values(bytes.size() / sizeof(T));
  // An empty tensor has no storage: memcpy from a null pointer is undefined even for 0 bytes.
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

template <class T>
Expected<Tensor> Tensor::from_values(const std::shared_ptr<Context>& context, DType dtype,
                                     std::vector<std::int64_t> shape, std::span<const T> values) {
  AAT_TRY(auto tensor, create(context, dtype, std::move(shape)));
  AAT_CHECK(tensor.upload_values(values));
  return tensor;
}

}  // namespace aat
