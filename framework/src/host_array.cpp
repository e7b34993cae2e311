#include "aat/host_array.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace aat {

namespace {

// The dtype a C++ element type of as<T>() views (f16 as raw bits).
template <class T>
constexpr DType viewed_dtype() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  if constexpr (std::is_same_v<T, std::uint16_t>) return DType::f16;
  if constexpr (std::is_same_v<T, std::int32_t>) return DType::i32;
  if constexpr (std::is_same_v<T, std::uint8_t>) return DType::u8;
}

}  // namespace

HostArrayView::HostArrayView(HostArray array) : dtype(array.dtype), shape(array.shape) {
  auto held = std::make_shared<const HostArray>(std::move(array));
  data = held->data;
  owner = std::move(held);
}

Expected<std::uint64_t> array_bytes(DType dtype, std::span<const std::int64_t> shape, std::string_view what) {
  // 2^48 elements: past any device's memory, and far from overflowing 64 bits once multiplied
  // by an element size.
  constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 48;
  for (const std::int64_t d : shape)
    if (d < 0)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("{}: shape {} has a negative dimension", what, shape_to_string(shape)));
  // A zero dimension makes an empty array whatever the others are (a .npy may hold (0, 10^18)).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::uint64_t count = 1;
  for (const std::int64_t d : shape) {
    if (count > kMaxElements / static_cast<std::uint64_t>(d))
      return fail(ErrorCode::invalid_argument, fmt::format("{}: shape {} is too large", what, shape_to_string(shape)));
    count *= static_cast<std::uint64_t>(d);
  }
  return count * size_of(dtype);
}

std::int64_t HostArray::element_count() const {
  std::int64_t count = 1;
  for (const std::int64_t dim : shape) count *= dim;
  return count;
}

template <class T>
Expected<std::span<const T>> HostArray::as() const {
  if (!dtype_matches<T>(dtype))
    return fail(ErrorCode::type_mismatch, fmt::format("array has dtype {}, not the requested {}", to_string(dtype),
                                                      to_string(viewed_dtype<T>())));
  AAT_TRY(const std::uint64_t bytes, array_bytes(dtype, shape, "array"));
  if (bytes != data.size())
    return fail(ErrorCode::size_mismatch, fmt::format("array {}[{}] holds {} bytes; its shape needs {}",
                                                      to_string(dtype), shape_to_string(shape), data.size(), bytes));
  // vector storage comes from operator new, aligned for every supported element type.
  return std::span<const T>(reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T));
}

template Expected<std::span<const float>> HostArray::as<float>() const;
template Expected<std::span<const std::uint16_t>> HostArray::as<std::uint16_t>() const;
template Expected<std::span<const std::int32_t>> HostArray::as<std::int32_t>() const;
template Expected<std::span<const std::uint8_t>> HostArray::as<std::uint8_t>() const;

std::string shape_to_string(std::span<const std::int64_t> shape) {
  if (shape.empty()) return "scalar";
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) text += "x";
    text += std::to_string(shape[i]);
  }
  return text;
}

}  // namespace aat
