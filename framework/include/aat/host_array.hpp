// HostArray: an array in host memory with a dtype and a shape, C order, little-endian. What
// crosses between a Tensor and the world outside the device: files (aat/npy.hpp reads and
// writes them), Python buffers, a caller's vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "aat/dtype.hpp"
#include "aat/error.hpp"

namespace aat {

// Which C++ element type stores a dtype (f16 as raw bits).
template <class T>
constexpr bool dtype_matches(DType dtype) {
  if constexpr (std::is_same_v<T, float>) return dtype == DType::f32;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return dtype == DType::f16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return dtype == DType::i32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return dtype == DType::u8;
  else return false;
}

struct HostArray {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;  // C order, little-endian, size = element_count() * size_of(dtype)

  std::int64_t element_count() const;

  // Typed views; the element type must match dtype, and the data the shape (checked, returns an
  // error otherwise: the fields are public, so a hand-built array may disagree with itself).
  template <class T>
  Expected<std::span<const T>> as() const;
};

// An array an upload reads where it lies: its dtype, shape and bytes, borrowed from whoever holds
// them (a mapped .npy file, a NumPy array, a caller's buffer), so nothing is copied on the host.
// `owner`, where set, keeps the bytes alive as long as the view; where empty, the caller must
// (for run_shader: until it returns). Made from a HostArray it takes the array over and owns it,
// so `inputs.emplace_back("X", make_array(...))` with a temporary is safe.
struct HostArrayView {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> data;  // C order, little-endian
  std::shared_ptr<const void> owner;

  HostArrayView() = default;
  HostArrayView(HostArray array);  // NOLINT(google-explicit-constructor): an owned array is a view too
  HostArrayView(DType type, std::vector<std::int64_t> dims, std::span<const std::byte> bytes,
                std::shared_ptr<const void> holder = {})
      : dtype(type), shape(std::move(dims)), data(bytes), owner(std::move(holder)) {}
};

// Bytes of `shape` elements of `dtype`; invalid_argument for a negative dimension or a count past
// 2^48 elements. `what` names the array in messages.
Expected<std::uint64_t> array_bytes(DType dtype, std::span<const std::int64_t> shape, std::string_view what);

// Shape as "2x3x4" (rank 0: "scalar").
std::string shape_to_string(std::span<const std::int64_t> shape);

}  // namespace aat
