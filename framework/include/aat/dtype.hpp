// Element types a Tensor or .npy file can hold, and f16 <-> f32 conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace aat {

enum class DType : std::uint8_t { f32, f16, i32, u8 };

std::size_t size_of(DType dtype);
std::string_view to_string(DType dtype);             // "f32", "f16", "i32", "u8"
std::optional<DType> parse_dtype(std::string_view);  // accepts the names above and float32/float16/int32/uint8

// IEEE 754 binary16 conversion, round-to-nearest-even; NaN and Inf preserved.
std::uint16_t float_to_half(float value);
float half_to_float(std::uint16_t bits);

std::vector<std::uint16_t> to_half(std::span<const float> values);
std::vector<float> from_half(std::span<const std::uint16_t> values);

}  // namespace aat
