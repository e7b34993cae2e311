#include "aat/value.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "aat/dtype.hpp"

namespace aat {

namespace {

bool is_integer_type(ScalarType t) {
  switch (t) {
    case ScalarType::i8: case ScalarType::u8: case ScalarType::i16: case ScalarType::u16:
    case ScalarType::i32: case ScalarType::u32: case ScalarType::i64: case ScalarType::u64: return true;
    default: return false;
  }
}

bool is_float_type(ScalarType t) { return t == ScalarType::f16 || t == ScalarType::f32 || t == ScalarType::f64; }

Expected<std::uint64_t> encode_integer(std::int64_t v, ScalarType type) {
  struct Range { std::int64_t lo; std::uint64_t hi; };
  Range range{};
  switch (type) {
    case ScalarType::i8: range = {-128, 127}; break;
    case ScalarType::u8: range = {0, 255}; break;
    case ScalarType::i16: range = {-32768, 32767}; break;
    case ScalarType::u16: range = {0, 65535}; break;
    case ScalarType::i32: range = {std::numeric_limits<std::int32_t>::min(), 0x7fffffffull}; break;
    case ScalarType::u32: range = {0, 0xffffffffull}; break;
    case ScalarType::i64: range = {std::numeric_limits<std::int64_t>::min(), 0x7fffffffffffffffull}; break;
    // A Value carries u64 values above INT64_MAX as their bit pattern (parse_value makes them).
    case ScalarType::u64: range = {std::numeric_limits<std::int64_t>::min(), ~0ull}; break;
    default: break;
  }
  if (v < range.lo || (v > 0 && static_cast<std::uint64_t>(v) > range.hi))
    return fail(ErrorCode::invalid_argument, fmt::format("{} is out of range for {}", v, to_string(type)));
  const std::uint32_t bytes = size_of(type);
  const std::uint64_t mask = bytes == 8 ? ~0ull : ((1ull << (8 * bytes)) - 1);
  return static_cast<std::uint64_t>(v) & mask;
}

Expected<std::uint64_t> encode_float(double v, ScalarType type) {
  switch (type) {
    case ScalarType::f64: return std::bit_cast<std::uint64_t>(v);
    case ScalarType::f32:
      if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max())
        return fail(ErrorCode::invalid_argument, fmt::format("{} is out of range for float", v));
      return std::bit_cast<std::uint32_t>(static_cast<float>(v));
    case ScalarType::f16:
      if (std::isfinite(v) && std::fabs(v) > 65504.0)
        return fail(ErrorCode::invalid_argument, fmt::format("{} is out of range for float16", v));
      return float_to_half(static_cast<float>(v));
    default: return fail(ErrorCode::internal, "encode_float on a non-float type");
  }
}

}  // namespace

std::string to_string(const Value& value) {
  return std::visit([](auto v) { return fmt::format("{}", v); }, value);
}

Expected<std::uint64_t> encode_value(const Value& value, ScalarType type) {
  if (type == ScalarType::boolean) {
    if (const bool* b = std::get_if<bool>(&value)) return *b ? 1u : 0u;
    return fail(ErrorCode::type_mismatch, fmt::format("expected true or false, got {}", to_string(value)));
  }
  if (std::holds_alternative<bool>(value))
    return fail(ErrorCode::type_mismatch, fmt::format("expected a number of type {}, got a bool", to_string(type)));
  if (is_integer_type(type)) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) return encode_integer(*i, type);
    return fail(ErrorCode::type_mismatch,
                fmt::format("expected an integer of type {}, got {}", to_string(type), to_string(value)));
  }
  if (is_float_type(type)) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) return encode_float(static_cast<double>(*i), type);
    return encode_float(std::get<double>(value), type);
  }
  return fail(ErrorCode::unsupported, fmt::format("values of type {} cannot be set", to_string(type)));
}

Expected<Value> parse_value(std::string_view text, ScalarType type) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  const auto bad = [&](std::string_view expected) {
    return fail(ErrorCode::parse, fmt::format("'{}' is not {}", text, expected));
  };
  if (text.empty()) return bad("a value");
  if (type == ScalarType::boolean) {
    if (text == "true" || text == "1") return Value(true);
    if (text == "false" || text == "0") return Value(false);
    return bad("a bool (true/false/1/0)");
  }
  if (is_integer_type(type)) {
    std::string_view digits = text;
    bool negative = false;
    if (digits.front() == '-' || digits.front() == '+') {
      negative = digits.front() == '-';
      digits.remove_prefix(1);
    }
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      base = 16;
      digits.remove_prefix(2);
    }
    std::uint64_t magnitude = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
      return bad(fmt::format("an integer ({})", to_string(type)));
    if (magnitude > (negative ? 0x8000000000000000ull : 0x7fffffffffffffffull)) {
      if (type == ScalarType::u64 && !negative) return Value(static_cast<std::int64_t>(magnitude));  // bit pattern
      return fail(ErrorCode::invalid_argument, fmt::format("'{}' is out of range for {}", text, to_string(type)));
    }
    const auto v = negative ? -static_cast<std::int64_t>(magnitude - 1) - 1 : static_cast<std::int64_t>(magnitude);
    if (v < 0 && type == ScalarType::u64)  // encode_integer takes a negative u64 for a bit pattern
      return fail(ErrorCode::invalid_argument, fmt::format("'{}' is out of range for {}", text, to_string(type)));
    AAT_CHECK(encode_integer(v, type));
    return Value(v);
  }
  if (is_float_type(type)) {
    std::string copy(text);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size()) return bad(fmt::format("a number ({})", to_string(type)));
    AAT_CHECK(encode_float(v, type));
    return Value(v);
  }
  return fail(ErrorCode::unsupported, fmt::format("values of type {} cannot be parsed", to_string(type)));
}

Expected<std::vector<Value>> parse_values(std::string_view text, ScalarType type) {
  std::vector<Value> values;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    AAT_TRY(Value v, parse_value(text.substr(start, comma == std::string_view::npos ? comma : comma - start), type));
    values.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return values;
}

}  // namespace aat
