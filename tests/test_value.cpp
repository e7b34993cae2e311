// Values for push and specialization constants: parsing command-line text as a shader type,
// and encoding a value into the bit pattern the shader reads.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aat/error.hpp"
#include "aat/reflect.hpp"
#include "aat/value.hpp"
#include "device_test.hpp"

namespace {

using aat::ErrorCode;
using aat::Expected;
using aat::ScalarType;
using aat::Value;

using aat::testing::FailsWith;

std::int64_t as_int(const Expected<Value>& value) {
  EXPECT_TRUE(value.has_value()) << value.error().what();
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(*value));
  return std::get<std::int64_t>(*value);
}

double as_double(const Expected<Value>& value) {
  EXPECT_TRUE(value.has_value()) << value.error().what();
  EXPECT_TRUE(std::holds_alternative<double>(*value));
  return std::get<double>(*value);
}

bool as_bool(const Expected<Value>& value) {
  EXPECT_TRUE(value.has_value()) << value.error().what();
  EXPECT_TRUE(std::holds_alternative<bool>(*value));
  return std::get<bool>(*value);
}

std::uint64_t bits(const Value& value, ScalarType type) {
  const auto encoded = aat::encode_value(value, type);
  EXPECT_TRUE(encoded.has_value()) << encoded.error().what();
  return encoded.value_or(0xdeadbeefdeadbeefull);
}

// --- parse_value: integers ---------------------------------------------------------------

TEST(ParseValueTest, DecimalIntegers) {
  EXPECT_EQ(as_int(aat::parse_value("12", ScalarType::u32)), 12);
  EXPECT_EQ(as_int(aat::parse_value("0", ScalarType::i32)), 0);
  EXPECT_EQ(as_int(aat::parse_value("+7", ScalarType::i32)), 7);
}

TEST(ParseValueTest, NegativeIntegers) {
  EXPECT_EQ(as_int(aat::parse_value("-3", ScalarType::i32)), -3);
  EXPECT_EQ(as_int(aat::parse_value("-128", ScalarType::i8)), -128);
}

TEST(ParseValueTest, HexIntegersInEitherCase) {
  EXPECT_EQ(as_int(aat::parse_value("0x10", ScalarType::u32)), 16);
  EXPECT_EQ(as_int(aat::parse_value("0XfF", ScalarType::u32)), 255);
  EXPECT_EQ(as_int(aat::parse_value("-0x10", ScalarType::i32)), -16);
  EXPECT_EQ(as_int(aat::parse_value("0xFFFFFFFF", ScalarType::u32)), 0xffffffffll);
}

TEST(ParseValueTest, SurroundingSpacesAreIgnored) {
  EXPECT_EQ(as_int(aat::parse_value("  42 ", ScalarType::u32)), 42);
}

TEST(ParseValueTest, IntBoundsAreAcceptedExactly) {
  EXPECT_EQ(as_int(aat::parse_value("2147483647", ScalarType::i32)), std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(as_int(aat::parse_value("-2147483648", ScalarType::i32)), std::numeric_limits<std::int32_t>::min());
}

TEST(ParseValueTest, IntOneBeyondTheBoundsIsOutOfRange) {
  EXPECT_TRUE(FailsWith(aat::parse_value("2147483648", ScalarType::i32), ErrorCode::invalid_argument,
                        {"2147483648", "out of range", "int"}));
  EXPECT_TRUE(FailsWith(aat::parse_value("-2147483649", ScalarType::i32), ErrorCode::invalid_argument,
                        {"-2147483649", "out of range"}));
}

TEST(ParseValueTest, UintBoundsAreAcceptedExactly) {
  EXPECT_EQ(as_int(aat::parse_value("0", ScalarType::u32)), 0);
  EXPECT_EQ(as_int(aat::parse_value("4294967295", ScalarType::u32)), 4294967295ll);
}

TEST(ParseValueTest, UintOneBeyondTheBoundsIsOutOfRange) {
  EXPECT_TRUE(FailsWith(aat::parse_value("4294967296", ScalarType::u32), ErrorCode::invalid_argument,
                        {"4294967296", "out of range", "uint"}));
  EXPECT_TRUE(FailsWith(aat::parse_value("-1", ScalarType::u32), ErrorCode::invalid_argument, {"-1", "uint"}));
}

TEST(ParseValueTest, NarrowIntegerTypesHaveTheirOwnBounds) {
  EXPECT_EQ(as_int(aat::parse_value("255", ScalarType::u8)), 255);
  EXPECT_TRUE(FailsWith(aat::parse_value("256", ScalarType::u8), ErrorCode::invalid_argument, {"256"}));
  EXPECT_EQ(as_int(aat::parse_value("-32768", ScalarType::i16)), -32768);
  EXPECT_TRUE(FailsWith(aat::parse_value("32768", ScalarType::i16), ErrorCode::invalid_argument, {"32768"}));
}

TEST(ParseValueTest, Int64BoundsAreAcceptedAndOverflowIsOutOfRange) {
  EXPECT_EQ(as_int(aat::parse_value("9223372036854775807", ScalarType::i64)), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(as_int(aat::parse_value("-9223372036854775808", ScalarType::i64)), std::numeric_limits<std::int64_t>::min());
  EXPECT_TRUE(FailsWith(aat::parse_value("9223372036854775808", ScalarType::i64), ErrorCode::invalid_argument,
                        {"9223372036854775808"}));
}

TEST(ParseValueTest, FractionIsNotAnInteger) {
  EXPECT_TRUE(FailsWith(aat::parse_value("1.5", ScalarType::u32), ErrorCode::parse, {"'1.5'", "integer"}));
}

TEST(ParseValueTest, GarbageIsAParseErrorNamingTheText) {
  for (const char* text : {"abc", "12abc", "0x", "0xg1", "-", "1 2", "--1"}) {
    EXPECT_TRUE(FailsWith(aat::parse_value(text, ScalarType::i32), ErrorCode::parse, {std::string("'") + text + "'"}))
        << text;
  }
}

TEST(ParseValueTest, EmptyTextIsAParseError) {
  EXPECT_TRUE(FailsWith(aat::parse_value("", ScalarType::u32), ErrorCode::parse));
  EXPECT_TRUE(FailsWith(aat::parse_value("   ", ScalarType::f32), ErrorCode::parse));
}

// --- parse_value: floats -----------------------------------------------------------------

TEST(ParseValueTest, FloatsInDecimalAndExponentForm) {
  EXPECT_DOUBLE_EQ(as_double(aat::parse_value("1.5", ScalarType::f32)), 1.5);
  EXPECT_DOUBLE_EQ(as_double(aat::parse_value("1e-3", ScalarType::f32)), 1e-3);
  EXPECT_DOUBLE_EQ(as_double(aat::parse_value("-2.5E2", ScalarType::f32)), -250.0);
  EXPECT_DOUBLE_EQ(as_double(aat::parse_value("3", ScalarType::f32)), 3.0);
}

TEST(ParseValueTest, InfinityIsAFloat) {
  const double inf = as_double(aat::parse_value("inf", ScalarType::f32));
  EXPECT_TRUE(std::isinf(inf) && inf > 0);
  const double minus_inf = as_double(aat::parse_value("-inf", ScalarType::f16));
  EXPECT_TRUE(std::isinf(minus_inf) && minus_inf < 0);
}

TEST(ParseValueTest, FloatTooLargeForTheTypeIsOutOfRange) {
  EXPECT_TRUE(FailsWith(aat::parse_value("1e39", ScalarType::f32), ErrorCode::invalid_argument, {"float"}));
  EXPECT_TRUE(FailsWith(aat::parse_value("70000", ScalarType::f16), ErrorCode::invalid_argument, {"float16"}));
  EXPECT_DOUBLE_EQ(as_double(aat::parse_value("1e39", ScalarType::f64)), 1e39);
}

TEST(ParseValueTest, FloatGarbageIsAParseErrorNamingTheText) {
  EXPECT_TRUE(FailsWith(aat::parse_value("1.5x", ScalarType::f32), ErrorCode::parse, {"'1.5x'"}));
  EXPECT_TRUE(FailsWith(aat::parse_value("one", ScalarType::f32), ErrorCode::parse, {"'one'"}));
}

// --- parse_value: bools ------------------------------------------------------------------

TEST(ParseValueTest, BoolsAsWordsOrDigits) {
  EXPECT_TRUE(as_bool(aat::parse_value("true", ScalarType::boolean)));
  EXPECT_FALSE(as_bool(aat::parse_value("false", ScalarType::boolean)));
  EXPECT_TRUE(as_bool(aat::parse_value("1", ScalarType::boolean)));
  EXPECT_FALSE(as_bool(aat::parse_value("0", ScalarType::boolean)));
}

TEST(ParseValueTest, OtherBoolSpellingsAreParseErrors) {
  for (const char* text : {"yes", "2", "TRUE!", "truee"})
    EXPECT_TRUE(FailsWith(aat::parse_value(text, ScalarType::boolean), ErrorCode::parse,
                          {std::string("'") + text + "'", "bool"}))
        << text;
}

// --- parse_values ------------------------------------------------------------------------

TEST(ParseValuesTest, CommaSeparatedListForVectors) {
  const auto values = aat::parse_values("1, 2 ,0x3", ScalarType::u32);
  ASSERT_TRUE(values.has_value()) << values.error().what();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ(std::get<std::int64_t>((*values)[0]), 1);
  EXPECT_EQ(std::get<std::int64_t>((*values)[1]), 2);
  EXPECT_EQ(std::get<std::int64_t>((*values)[2]), 3);
}

TEST(ParseValuesTest, SingleValueForScalars) {
  const auto values = aat::parse_values("0.25", ScalarType::f32);
  ASSERT_TRUE(values.has_value()) << values.error().what();
  ASSERT_EQ(values->size(), 1u);
  EXPECT_DOUBLE_EQ(std::get<double>(values->front()), 0.25);
}

TEST(ParseValuesTest, ABadElementNamesThatElement) {
  EXPECT_TRUE(FailsWith(aat::parse_values("1,x,3", ScalarType::f32), ErrorCode::parse, {"'x'"}));
}

TEST(ParseValuesTest, AnEmptyElementIsAParseError) {
  EXPECT_TRUE(FailsWith(aat::parse_values("1,,3", ScalarType::i32), ErrorCode::parse));
  EXPECT_TRUE(FailsWith(aat::parse_values("1,2,", ScalarType::i32), ErrorCode::parse));
}

// --- encode_value ------------------------------------------------------------------------

TEST(EncodeValueTest, Float32IsItsIeeeBitPattern) {
  EXPECT_EQ(bits(Value(1.0), ScalarType::f32), 0x3f800000u);
  EXPECT_EQ(bits(Value(-0.5), ScalarType::f32), std::bit_cast<std::uint32_t>(-0.5f));
  EXPECT_EQ(bits(Value(std::int64_t{3}), ScalarType::f32), std::bit_cast<std::uint32_t>(3.0f));
}

TEST(EncodeValueTest, Float16IsItsBinary16BitPattern) {
  EXPECT_EQ(bits(Value(1.0), ScalarType::f16), 0x3c00u);
  EXPECT_EQ(bits(Value(-2.0), ScalarType::f16), 0xc000u);
  EXPECT_EQ(bits(Value(0.5), ScalarType::f16), 0x3800u);
  EXPECT_EQ(bits(Value(65504.0), ScalarType::f16), 0x7bffu);  // the largest finite half
  EXPECT_EQ(bits(Value(std::ldexp(1.0, -24)), ScalarType::f16), 0x0001u);  // the smallest subnormal
  EXPECT_EQ(bits(Value(std::numeric_limits<double>::infinity()), ScalarType::f16), 0x7c00u);
  EXPECT_EQ(bits(Value(std::int64_t{2}), ScalarType::f16), 0x4000u);
}

TEST(EncodeValueTest, Float16BeyondTheLargestHalfIsOutOfRange) {
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(65536.0), ScalarType::f16), ErrorCode::invalid_argument,
                        {"65536", "float16"}));
}

TEST(EncodeValueTest, Float64KeepsEveryBit) {
  EXPECT_EQ(bits(Value(0.1), ScalarType::f64), std::bit_cast<std::uint64_t>(0.1));
}

TEST(EncodeValueTest, SignedIntegersAreTwosComplementInTheirWidth) {
  EXPECT_EQ(bits(Value(std::int64_t{-1}), ScalarType::i32), 0xffffffffu);
  EXPECT_EQ(bits(Value(std::int64_t{-1}), ScalarType::i16), 0xffffu);
  EXPECT_EQ(bits(Value(std::int64_t{-2}), ScalarType::i8), 0xfeu);
  EXPECT_EQ(bits(Value(std::int64_t{-1}), ScalarType::i64), ~0ull);
}

TEST(EncodeValueTest, UnsignedIntegersInRange) {
  EXPECT_EQ(bits(Value(std::int64_t{0xffffffff}), ScalarType::u32), 0xffffffffu);
  EXPECT_EQ(bits(Value(std::int64_t{7}), ScalarType::u8), 7u);
}

TEST(EncodeValueTest, NegativeIntoUnsignedIsInvalid) {
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(std::int64_t{-1}), ScalarType::u32), ErrorCode::invalid_argument,
                        {"-1", "uint"}));
}

TEST(EncodeValueTest, TooLargeForTheWidthIsInvalid) {
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(std::int64_t{0x100000000}), ScalarType::u32),
                        ErrorCode::invalid_argument, {"4294967296"}));
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(std::int64_t{128}), ScalarType::i8), ErrorCode::invalid_argument));
}

TEST(EncodeValueTest, FloatIntoIntegerIsATypeMismatch) {
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(2.0), ScalarType::u32), ErrorCode::type_mismatch, {"uint"}));
}

TEST(EncodeValueTest, BoolAndNumbersDoNotMix) {
  EXPECT_EQ(bits(Value(true), ScalarType::boolean), 1u);
  EXPECT_EQ(bits(Value(false), ScalarType::boolean), 0u);
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(true), ScalarType::f32), ErrorCode::type_mismatch, {"bool"}));
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(std::int64_t{1}), ScalarType::boolean), ErrorCode::type_mismatch));
}

TEST(EncodeValueTest, StructuresCannotBeEncoded) {
  EXPECT_TRUE(FailsWith(aat::encode_value(Value(std::int64_t{1}), ScalarType::structure), ErrorCode::unsupported));
}

TEST(EncodeValueTest, ParsedTextEncodesToTheExpectedBits) {
  EXPECT_EQ(bits(aat::parse_value("0x7fffffff", ScalarType::i32).value(), ScalarType::i32), 0x7fffffffu);
  EXPECT_EQ(bits(aat::parse_value("-2147483648", ScalarType::i32).value(), ScalarType::i32), 0x80000000u);
  EXPECT_EQ(bits(aat::parse_value("1e-3", ScalarType::f32).value(), ScalarType::f32),
            std::bit_cast<std::uint32_t>(1e-3f));
  EXPECT_EQ(bits(aat::parse_value("inf", ScalarType::f32).value(), ScalarType::f32), 0x7f800000u);
  EXPECT_EQ(bits(aat::parse_value("1.5", ScalarType::f16).value(), ScalarType::f16), 0x3e00u);
}

TEST(ValueToStringTest, RendersEachAlternative) {
  EXPECT_EQ(aat::to_string(Value(true)), "true");
  EXPECT_EQ(aat::to_string(Value(std::int64_t{-3})), "-3");
  EXPECT_EQ(aat::to_string(Value(0.5)), "0.5");
}

}  // namespace
