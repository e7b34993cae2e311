// Scalar values for push constants and specialization constants, converted to the type the
// shader declares with range and kind checks, and parsed from command-line text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aat/error.hpp"
#include "aat/reflect.hpp"

namespace aat {

using Value = std::variant<bool, std::int64_t, double>;

std::string to_string(const Value& value);

// The value's bit pattern as the shader type, little-endian in the low size_of(type) bytes.
// Errors: a fractional or out-of-range value for an integer type, a non-finite value lost in
// conversion, or a bool/number mismatch. For u64 a negative integer is taken as the bit pattern
// of a value above INT64_MAX, the only way a Value holds one (parse_value("18446744073709551615")
// gives -1), so any int64 encodes as u64.
Expected<std::uint64_t> encode_value(const Value& value, ScalarType type);

// Parses one value as the given type: "12", "-3", "0x10", "1.5", "1e-3", "inf", "true".
Expected<Value> parse_value(std::string_view text, ScalarType type);
// Parses "a,b,c" for vectors/arrays; a single value for scalars.
Expected<std::vector<Value>> parse_values(std::string_view text, ScalarType type);

}  // namespace aat
