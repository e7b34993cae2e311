// Shared memory of a specialization: the reflected lengths (SpecExpression) evaluated for given
// specialization values, and the std430 layout of each shared variable.
#include <algorithm>
#include <bit>

#include <fmt/format.h>
#include <spirv_cross/spirv.hpp>

#include "aat/reflect.hpp"

namespace aat {

namespace {

std::uint32_t width_bits(ScalarType type) { return type == ScalarType::boolean ? 1 : 8 * size_of(type); }

// `bits` cut to the width of `type` (booleans to 0 or 1).
std::uint64_t truncate(std::uint64_t bits, ScalarType type) {
  if (type == ScalarType::boolean) return bits != 0;
  const std::uint32_t width = width_bits(type);
  return width >= 64 || width == 0 ? bits : bits & ((std::uint64_t{1} << width) - 1);
}

// `bits` of `type` as a signed 64-bit value.
std::int64_t sign_extend(std::uint64_t bits, ScalarType type) {
  const std::uint32_t width = width_bits(type);
  if (width >= 64 || width == 0) return static_cast<std::int64_t>(bits);
  const std::uint64_t sign = std::uint64_t{1} << (width - 1);
  return static_cast<std::int64_t>((truncate(bits, type) ^ sign) - sign);
}

Expected<std::uint64_t> apply_operation(const SpecExpression& e, const std::vector<std::uint64_t>& v) {
  // Operands' types: the first one's for arithmetic and comparisons (SPIR-V requires them alike).
  const ScalarType in = e.operands.empty() ? e.type : e.operands.front().type;
  const auto s = [&](std::size_t i) { return sign_extend(v[i], in); };
  const auto u = [&](std::size_t i) { return truncate(v[i], in); };
  const auto divisor_zero = [&] {
    return fail(ErrorCode::invalid_argument,
                fmt::format("a specialized length divides by zero (SPIR-V opcode {})", e.opcode));
  };
  const auto arity = std::size_t{e.opcode == spv::OpSelect ? 3u : e.operands.size()};
  if (v.size() != arity || v.empty())
    return fail(ErrorCode::reflection, fmt::format("SPIR-V opcode {} has {} operands", e.opcode, v.size()));
  switch (static_cast<spv::Op>(e.opcode)) {
    case spv::OpIAdd: return v[0] + v[1];
    case spv::OpISub: return v[0] - v[1];
    case spv::OpIMul: return v[0] * v[1];
    case spv::OpUDiv:
      if (u(1) == 0) return divisor_zero();
      return u(0) / u(1);
    case spv::OpUMod:
      if (u(1) == 0) return divisor_zero();
      return u(0) % u(1);
    case spv::OpSDiv:
      if (s(1) == 0) return divisor_zero();
      return static_cast<std::uint64_t>(s(0) / s(1));
    case spv::OpSRem:
      if (s(1) == 0) return divisor_zero();
      return static_cast<std::uint64_t>(s(0) % s(1));
    case spv::OpSMod: {  // the sign of the divisor
      if (s(1) == 0) return divisor_zero();
      const std::int64_t r = s(0) % s(1);
      return static_cast<std::uint64_t>(r != 0 && (r < 0) != (s(1) < 0) ? r + s(1) : r);
    }
    case spv::OpSNegate: return std::uint64_t{0} - v[0];
    case spv::OpNot: return ~v[0];
    case spv::OpShiftLeftLogical: return u(1) >= 64 ? 0 : v[0] << u(1);
    case spv::OpShiftRightLogical: return u(1) >= 64 ? 0 : u(0) >> u(1);
    case spv::OpShiftRightArithmetic: return static_cast<std::uint64_t>(s(0) >> std::min<std::uint64_t>(u(1), 63));
    case spv::OpBitwiseOr: return v[0] | v[1];
    case spv::OpBitwiseAnd: return v[0] & v[1];
    case spv::OpBitwiseXor: return v[0] ^ v[1];
    case spv::OpLogicalOr: return (v[0] != 0) || (v[1] != 0);
    case spv::OpLogicalAnd: return (v[0] != 0) && (v[1] != 0);
    case spv::OpLogicalNot: return v[0] == 0;
    case spv::OpLogicalEqual: return (v[0] != 0) == (v[1] != 0);
    case spv::OpLogicalNotEqual: return (v[0] != 0) != (v[1] != 0);
    case spv::OpIEqual: return u(0) == u(1);
    case spv::OpINotEqual: return u(0) != u(1);
    case spv::OpULessThan: return u(0) < u(1);
    case spv::OpULessThanEqual: return u(0) <= u(1);
    case spv::OpUGreaterThan: return u(0) > u(1);
    case spv::OpUGreaterThanEqual: return u(0) >= u(1);
    case spv::OpSLessThan: return s(0) < s(1);
    case spv::OpSLessThanEqual: return s(0) <= s(1);
    case spv::OpSGreaterThan: return s(0) > s(1);
    case spv::OpSGreaterThanEqual: return s(0) >= s(1);
    case spv::OpSelect: return v[0] != 0 ? v[1] : v[2];
    case spv::OpUConvert: return u(0);
    case spv::OpSConvert: return static_cast<std::uint64_t>(s(0));
    default:
      return fail(ErrorCode::unsupported,
                  fmt::format("a specialized length uses SPIR-V opcode {}, which AAT's reflection does not evaluate "
                              "(it evaluates integer and boolean arithmetic, shifts, comparisons, select, width "
                              "conversions and composite extraction)", e.opcode));
  }
}

std::uint64_t round_up(std::uint64_t n, std::uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

Expected<std::uint64_t> SpecExpression::evaluate(const SpecBits& values) const {
  switch (kind) {
    case Kind::literal: return truncate(bits, type);
    case Kind::spec_constant: {
      const auto found = values.find(spec_id);
      return truncate(found != values.end() ? found->second : bits, type);
    }
    case Kind::composite:
      return fail(ErrorCode::reflection, "a composite specialization constant is not a length");
    case Kind::operation: break;
  }
  if (opcode == spv::OpCompositeExtract) {
    const SpecExpression* part = operands.empty() ? nullptr : &operands.front();
    for (std::uint32_t index : indices) {
      if (!part || part->kind != Kind::composite || index >= part->operands.size())
        return fail(ErrorCode::reflection, "OpCompositeExtract in a specialized length reads past its composite");
      part = &part->operands[index];
    }
    if (!part) return fail(ErrorCode::reflection, "OpCompositeExtract in a specialized length has no composite");
    AAT_TRY(const std::uint64_t value, part->evaluate(values));
    return truncate(value, type);
  }
  std::vector<std::uint64_t> operand_values;
  for (const SpecExpression& operand : operands) {
    AAT_TRY(const std::uint64_t value, operand.evaluate(values));
    operand_values.push_back(value);
  }
  AAT_TRY(const std::uint64_t result, apply_operation(*this, operand_values));
  return truncate(result, type);
}

Expected<SharedType::Layout> SharedType::layout(const SpecBits& values) const {
  Layout element;
  if (scalar == ScalarType::structure) {
    for (const SharedType& member : members) {
      AAT_TRY(const Layout m, member.layout(values));
      element.size = round_up(element.size, m.alignment) + m.size;
      element.alignment = std::max(element.alignment, m.alignment);
    }
    element.size = round_up(element.size, element.alignment);
  } else {
    const std::uint64_t component = size_of(scalar);
    if (component == 0)
      return fail(ErrorCode::reflection, fmt::format("shared memory of type {} has no size", to_string(scalar)));
    // A vector of 3 aligns as one of 4; a matrix is an array of its column vectors.
    element.alignment = component * (vector_size == 3 ? 4 : vector_size);
    element.size = columns > 1 ? columns * element.alignment : component * (vector_size == 3 ? 4 : vector_size);
  }
  std::uint64_t count = 1;
  for (const SpecExpression& length : array) {
    AAT_TRY(const std::uint64_t n, length.evaluate(values));
    count *= n;
  }
  if (array.empty()) return element;
  return Layout{count * round_up(element.size, element.alignment), element.alignment};
}

Expected<std::uint64_t> KernelInterface::shared_bytes(const SpecBits& values) const {
  std::uint64_t total = 0;
  for (const SharedVariable& variable : shared_variables) {
    AAT_TRY(const SharedType::Layout layout,
            with_context(variable.type.layout(values), fmt::format("the size of shared variable '{}'", variable.name)));
    total += layout.size;
  }
  return total;
}

}  // namespace aat
