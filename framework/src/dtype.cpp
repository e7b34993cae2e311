#include "aat/dtype.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace aat {
namespace {

struct DTypeNames {
  DType dtype;
  std::string_view short_name;
  std::string_view numpy_name;
};

constexpr std::array<DTypeNames, 4> kDTypeNames{{
    {DType::f32, "f32", "float32"},
    {DType::f16, "f16", "float16"},
    {DType::i32, "i32", "int32"},
    {DType::u8, "u8", "uint8"},
}};

// binary32 bit patterns that mark the edges of what binary16 can represent.
constexpr std::uint32_t kF32AbsMask = 0x7fff'ffffu;
constexpr std::uint32_t kF32Infinity = 0x7f80'0000u;
constexpr std::uint32_t kF32MantissaMask = 0x007f'ffffu;
constexpr std::uint32_t kF32ImplicitOne = 0x0080'0000u;
// 65520 is halfway between 65504 (max half, odd mantissa 0x3ff) and 2^16; ties-to-even
// rounds it up, so it and everything above overflows to Inf.
constexpr std::uint32_t kF32HalfOverflow = 0x477f'f000u;
constexpr std::uint32_t kF32HalfMinNormal = 0x3880'0000u;  // 2^-14
// 2^-25 is halfway between 0 and the smallest subnormal 2^-24; ties-to-even rounds it to 0.
constexpr std::uint32_t kF32HalfUnderflow = 0x3300'0000u;
// Subtracting this from a binary32 pattern turns exponent bias 127 into bias 15.
constexpr std::uint32_t kRebias = (127u - 15u) << 23;
constexpr int kMantissaDrop = 23 - 10;

constexpr std::uint32_t kF16SignMask = 0x8000u;
constexpr std::uint32_t kF16Infinity = 0x7c00u;
constexpr std::uint32_t kF16QuietBit = 0x0200u;

// value >> shift, rounded to nearest with ties to even (shift >= 1).
std::uint32_t shift_round_even(std::uint32_t value, int shift) {
  const std::uint32_t kept = value >> shift;
  const std::uint32_t rest = value & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  const bool round_up = rest > halfway || (rest == halfway && (kept & 1u) != 0);
  return kept + (round_up ? 1u : 0u);
}

std::uint16_t nan_to_half(std::uint32_t sign, std::uint32_t mantissa) {
  // Keeping the top payload bits makes half -> float -> half exact for every NaN; a
  // payload living only in the dropped low bits would read as Inf, so set the quiet bit.
  std::uint32_t payload = mantissa >> kMantissaDrop;
  if (payload == 0) payload = kF16QuietBit;
  return static_cast<std::uint16_t>(sign | kF16Infinity | payload);
}

std::uint16_t subnormal_to_half(std::uint32_t sign, std::uint32_t abs_bits) {
  // value = mantissa * 2^(exponent - 150); the half counts units of 2^-24.
  const std::uint32_t exponent = abs_bits >> 23;
  const std::uint32_t mantissa = (abs_bits & kF32MantissaMask) | kF32ImplicitOne;
  const int shift = 126 - static_cast<int>(exponent);
  // A carry out of the mantissa correctly yields the smallest normal, 0x0400.
  return static_cast<std::uint16_t>(sign | shift_round_even(mantissa, shift));
}

}  // namespace

std::size_t size_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::i32: return 4;
    case DType::u8: return 1;
  }
  return 0;  // out-of-range cast
}

std::string_view to_string(DType dtype) {
  for (const DTypeNames& names : kDTypeNames) {
    if (names.dtype == dtype) return names.short_name;
  }
  return "invalid";  // out-of-range cast
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (const DTypeNames& names : kDTypeNames) {
    if (name == names.short_name || name == names.numpy_name) return names.dtype;
  }
  return std::nullopt;
}

std::uint16_t float_to_half(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (bits >> 16) & kF16SignMask;
  const std::uint32_t abs_bits = bits & kF32AbsMask;
  if (abs_bits > kF32Infinity) return nan_to_half(sign, abs_bits & kF32MantissaMask);
  if (abs_bits >= kF32HalfOverflow) return static_cast<std::uint16_t>(sign | kF16Infinity);
  if (abs_bits >= kF32HalfMinNormal) {
    // A rounding carry out of the mantissa bumps the exponent, which is exactly right.
    return static_cast<std::uint16_t>(sign | shift_round_even(abs_bits - kRebias, kMantissaDrop));
  }
  if (abs_bits <= kF32HalfUnderflow) return static_cast<std::uint16_t>(sign);
  return subnormal_to_half(sign, abs_bits);
}

float half_to_float(std::uint16_t bits) {
  const std::uint32_t half = bits;
  const std::uint32_t sign = (half & kF16SignMask) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  const std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1fu) {
    return std::bit_cast<float>(sign | kF32Infinity | (mantissa << kMantissaDrop));
  }
  if (exponent != 0) {
    const std::uint32_t magnitude = ((half & 0x7fffu) << kMantissaDrop) + kRebias;
    return std::bit_cast<float>(sign | magnitude);
  }
  // Zero or subnormal: mantissa * 2^-24 is exact in binary32 (and keeps the sign of zero).
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return sign != 0 ? -magnitude : magnitude;
}

std::vector<std::uint16_t> to_half(std::span<const float> values) {
  std::vector<std::uint16_t> halves(values.size());
  std::ranges::transform(values, halves.begin(), float_to_half);
  return halves;
}

std::vector<float> from_half(std::span<const std::uint16_t> values) {
  std::vector<float> floats(values.size());
  std::ranges::transform(values, floats.begin(), half_to_float);
  return floats;
}

}  // namespace aat
