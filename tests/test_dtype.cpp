// DType names and sizes, and the binary16 conversion (checked against its definition).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "aat/dtype.hpp"

namespace {

using aat::DType;

bool is_half_nan(std::uint16_t bits) { return (bits & 0x7c00u) == 0x7c00u && (bits & 0x03ffu) != 0; }
bool is_half_inf(std::uint16_t bits) { return (bits & 0x7fffu) == 0x7c00u; }

// The binary16 value straight from the IEEE 754 definition, computed in double.
double half_reference(std::uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  const double magnitude =
      exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return (bits & 0x8000u) != 0 ? -magnitude : magnitude;
}

float bits_to_float(std::uint32_t bits) { return std::bit_cast<float>(bits); }

TEST(DTypeTest, SizeOf) {
  EXPECT_EQ(aat::size_of(DType::f32), 4u);
  EXPECT_EQ(aat::size_of(DType::f16), 2u);
  EXPECT_EQ(aat::size_of(DType::i32), 4u);
  EXPECT_EQ(aat::size_of(DType::u8), 1u);
}

TEST(DTypeTest, ToString) {
  EXPECT_EQ(aat::to_string(DType::f32), "f32");
  EXPECT_EQ(aat::to_string(DType::f16), "f16");
  EXPECT_EQ(aat::to_string(DType::i32), "i32");
  EXPECT_EQ(aat::to_string(DType::u8), "u8");
}

TEST(DTypeTest, ParseAcceptsShortAndNumpyNames) {
  EXPECT_EQ(aat::parse_dtype("f32"), DType::f32);
  EXPECT_EQ(aat::parse_dtype("f16"), DType::f16);
  EXPECT_EQ(aat::parse_dtype("i32"), DType::i32);
  EXPECT_EQ(aat::parse_dtype("u8"), DType::u8);
  EXPECT_EQ(aat::parse_dtype("float32"), DType::f32);
  EXPECT_EQ(aat::parse_dtype("float16"), DType::f16);
  EXPECT_EQ(aat::parse_dtype("int32"), DType::i32);
  EXPECT_EQ(aat::parse_dtype("uint8"), DType::u8);
}

TEST(DTypeTest, ParseRejectsOtherNames) {
  for (const char* name : {"", "F32", "f64", "float64", "int8", "f32 ", "<f4", "float"}) {
    EXPECT_EQ(aat::parse_dtype(name), std::nullopt) << name;
  }
}

TEST(DTypeTest, ParseInvertsToString) {
  for (const DType dtype : {DType::f32, DType::f16, DType::i32, DType::u8}) {
    EXPECT_EQ(aat::parse_dtype(aat::to_string(dtype)), dtype);
  }
}

TEST(HalfTest, EveryBitPatternRoundTrips) {
  for (std::uint32_t i = 0; i <= 0xffffu; ++i) {
    const auto bits = static_cast<std::uint16_t>(i);
    const float value = aat::half_to_float(bits);
    const std::uint16_t back = aat::float_to_half(value);
    if (is_half_nan(bits)) {
      ASSERT_TRUE(std::isnan(value)) << std::hex << i;
      ASSERT_TRUE(is_half_nan(back)) << std::hex << i << " -> " << back;
    } else {
      ASSERT_EQ(back, bits) << std::hex << i;
    }
  }
}

TEST(HalfTest, EveryFiniteBitPatternHasItsDefinedValue) {
  for (std::uint32_t i = 0; i <= 0xffffu; ++i) {
    const auto bits = static_cast<std::uint16_t>(i);
    if ((bits & 0x7c00u) == 0x7c00u) continue;
    ASSERT_EQ(static_cast<double>(aat::half_to_float(bits)), half_reference(bits)) << std::hex << i;
  }
}

TEST(HalfTest, MidpointsBetweenNeighboursRoundToEven) {
  // Every gap between adjacent positive finite halves, subnormals included; the last gap
  // (65504 .. 65536) ends in Inf. A midpoint needs 12 significant bits, so it is exact in float.
  for (std::uint32_t low = 0; low < 0x7c00u; ++low) {
    const auto lo = static_cast<std::uint16_t>(low);
    const auto hi = static_cast<std::uint16_t>(low + 1);
    const double hi_value = hi == 0x7c00u ? 65536.0 : half_reference(hi);
    const auto mid = static_cast<float>((half_reference(lo) + hi_value) / 2);
    const std::uint16_t even = (lo & 1u) == 0 ? lo : hi;
    for (const float sign : {1.0f, -1.0f}) {
      const auto sign_bit = static_cast<std::uint16_t>(sign < 0 ? 0x8000u : 0u);
      ASSERT_EQ(aat::float_to_half(sign * mid), even | sign_bit) << std::hex << low;
      ASSERT_EQ(aat::float_to_half(sign * std::nextafter(mid, 0.0f)), lo | sign_bit) << std::hex << low;
      ASSERT_EQ(aat::float_to_half(sign * std::nextafter(mid, 1e9f)), hi | sign_bit) << std::hex << low;
    }
  }
}

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(aat::float_to_half(0.0f), 0x0000u);
  EXPECT_EQ(aat::float_to_half(-0.0f), 0x8000u);
  EXPECT_EQ(aat::float_to_half(1.0f), 0x3c00u);
  EXPECT_EQ(aat::float_to_half(-2.0f), 0xc000u);
  EXPECT_EQ(aat::float_to_half(0.5f), 0x3800u);
  EXPECT_EQ(aat::float_to_half(0.1f), 0x2e66u);
  EXPECT_EQ(aat::float_to_half(65504.0f), 0x7bffu);
  EXPECT_EQ(aat::float_to_half(-65504.0f), 0xfbffu);
  EXPECT_EQ(aat::half_to_float(0x7bffu), 65504.0f);
}

TEST(HalfTest, OneThirdRoundsToNearest) {
  EXPECT_EQ(aat::float_to_half(1.0f / 3.0f), 0x3555u);
  EXPECT_EQ(aat::half_to_float(0x3555u), 0.333251953125f);
}

TEST(HalfTest, SubnormalBoundary) {
  EXPECT_EQ(aat::float_to_half(std::ldexp(1.0f, -14)), 0x0400u);  // 6.1035156e-5, smallest normal
  EXPECT_EQ(aat::float_to_half(6.1e-5f), 0x03ffu);                // just below it: largest subnormal
  EXPECT_EQ(aat::half_to_float(0x03ffu), std::ldexp(1023.0f, -24));
  EXPECT_EQ(aat::half_to_float(0x0400u), std::ldexp(1.0f, -14));
  EXPECT_EQ(aat::float_to_half(std::ldexp(1.0f, -24)), 0x0001u);  // 5.96e-8, smallest subnormal
  EXPECT_EQ(aat::half_to_float(0x0001u), std::ldexp(1.0f, -24));
  // Largest subnormal plus half a step rounds up into the normals (carry out of the mantissa).
  EXPECT_EQ(aat::float_to_half(std::ldexp(1023.5f, -24)), 0x0400u);
}

TEST(HalfTest, Underflow) {
  EXPECT_EQ(aat::float_to_half(std::ldexp(1.0f, -25)), 0x0000u);  // tie between 0 and 2^-24: even
  EXPECT_EQ(aat::float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001u);
  EXPECT_EQ(aat::float_to_half(-std::ldexp(1.0f, -25)), 0x8000u);
  EXPECT_EQ(aat::float_to_half(std::ldexp(1.0f, -26)), 0x0000u);
  EXPECT_EQ(aat::float_to_half(std::numeric_limits<float>::min()), 0x0000u);
  EXPECT_EQ(aat::float_to_half(std::numeric_limits<float>::denorm_min()), 0x0000u);
  EXPECT_EQ(aat::float_to_half(-std::numeric_limits<float>::denorm_min()), 0x8000u);
}

TEST(HalfTest, OverflowGoesToInfinity) {
  EXPECT_EQ(aat::float_to_half(65519.99f), 0x7bffu);
  EXPECT_EQ(aat::float_to_half(65520.0f), 0x7c00u);  // tie with an odd 65504: rounds up to Inf
  EXPECT_EQ(aat::float_to_half(-65520.0f), 0xfc00u);
  EXPECT_EQ(aat::float_to_half(1e10f), 0x7c00u);
  EXPECT_EQ(aat::float_to_half(std::numeric_limits<float>::max()), 0x7c00u);
  EXPECT_EQ(aat::float_to_half(std::numeric_limits<float>::infinity()), 0x7c00u);
  EXPECT_EQ(aat::float_to_half(-std::numeric_limits<float>::infinity()), 0xfc00u);
  EXPECT_EQ(aat::half_to_float(0x7c00u), std::numeric_limits<float>::infinity());
  EXPECT_EQ(aat::half_to_float(0xfc00u), -std::numeric_limits<float>::infinity());
}

TEST(HalfTest, TiesRoundToEven) {
  EXPECT_EQ(aat::float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00u);      // 1.00048828125: down
  EXPECT_EQ(aat::float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02u);  // up to even
  EXPECT_EQ(aat::float_to_half(2049.0f), 0x6800u);                           // 2048
  EXPECT_EQ(aat::float_to_half(2051.0f), 0x6802u);                           // 2052
  EXPECT_EQ(aat::float_to_half(std::ldexp(1.5f, -24)), 0x0002u);             // subnormal tie: up
  EXPECT_EQ(aat::float_to_half(std::ldexp(2.5f, -24)), 0x0002u);             // subnormal tie: down
}

TEST(HalfTest, NanStaysNan) {
  EXPECT_TRUE(is_half_nan(aat::float_to_half(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_half_nan(aat::float_to_half(std::numeric_limits<float>::signaling_NaN())));
  // A payload only in the low bits that binary16 drops must not turn into Inf.
  const std::uint16_t low_payload = aat::float_to_half(bits_to_float(0x7f80'0001u));
  EXPECT_TRUE(is_half_nan(low_payload));
  EXPECT_FALSE(is_half_inf(low_payload));
  EXPECT_EQ(aat::float_to_half(bits_to_float(0xffc0'0000u)) & 0x8000u, 0x8000u);  // sign kept
  EXPECT_TRUE(std::isnan(aat::half_to_float(0x7e00u)));
  EXPECT_TRUE(std::isnan(aat::half_to_float(0x7c01u)));
  EXPECT_TRUE(std::isnan(aat::half_to_float(0xffffu)));
}

TEST(HalfTest, SignedZero) {
  EXPECT_FALSE(std::signbit(aat::half_to_float(0x0000u)));
  EXPECT_TRUE(std::signbit(aat::half_to_float(0x8000u)));
  EXPECT_EQ(aat::half_to_float(0x8000u), 0.0f);
}

TEST(HalfTest, VectorConversions) {
  const std::vector<float> values{0.0f, 1.0f, -2.5f, 65504.0f, 1e6f};
  const std::vector<std::uint16_t> halves = aat::to_half(values);
  EXPECT_EQ(halves, (std::vector<std::uint16_t>{0x0000u, 0x3c00u, 0xc100u, 0x7bffu, 0x7c00u}));
  const std::vector<float> back = aat::from_half(halves);
  EXPECT_EQ(back, (std::vector<float>{0.0f, 1.0f, -2.5f, 65504.0f, std::numeric_limits<float>::infinity()}));
  EXPECT_TRUE(aat::to_half({}).empty());
  EXPECT_TRUE(aat::from_half({}).empty());
}

}  // namespace
