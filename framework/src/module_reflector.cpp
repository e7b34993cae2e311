#include "module_reflector.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace aat::detail {

ScalarType scalar_type(const spirv_cross::SPIRType& type) {
  using B = spirv_cross::SPIRType::BaseType;
  switch (type.basetype) {
    case B::Boolean: return ScalarType::boolean;
    case B::SByte: return ScalarType::i8;
    case B::UByte: return ScalarType::u8;
    case B::Short: return ScalarType::i16;
    case B::UShort: return ScalarType::u16;
    case B::Half: return ScalarType::f16;
    case B::Int: return ScalarType::i32;
    case B::UInt: return ScalarType::u32;
    case B::Float: return ScalarType::f32;
    case B::Int64: return ScalarType::i64;
    case B::UInt64: return ScalarType::u64;
    case B::Double: return ScalarType::f64;
    case B::Struct: return ScalarType::structure;
    default: return ScalarType::unknown;
  }
}

std::uint64_t constant_bits(const spirv_cross::SPIRConstant& constant, ScalarType type) {
  return size_of(type) == 8 ? constant.scalar_u64() : constant.scalar();
}

namespace {

SpecExpression literal(ScalarType type, std::uint64_t bits) {
  SpecExpression out;
  out.type = type;
  out.bits = bits;
  return out;
}

}  // namespace

std::vector<SharedVariable> ModuleReflector::shared_variables() const {
  std::vector<SharedVariable> out;
  ir.for_each_typed_id<spirv_cross::SPIRVariable>([&](std::uint32_t id, const spirv_cross::SPIRVariable& variable) {
    // The pointer type repeats its pointee's arrays and members (SPIRV-Cross copies them).
    if (variable.storage != spv::StorageClassWorkgroup) return;
    std::size_t budget = kMaxExpressionNodes;
    out.push_back(SharedVariable{get_name(id), shared_type(get_type(variable.basetype), budget)});
  });
  return out;
}

SharedType ModuleReflector::shared_type(const spirv_cross::SPIRType& type, std::size_t& budget) const {
  SharedType out;
  out.scalar = scalar_type(type);
  out.vector_size = type.vecsize;
  out.columns = type.columns;
  // SPIRV-Cross stores array sizes innermost first; ours are outermost first.
  for (std::size_t i = type.array.size(); i-- > 0;) {
    if (type.array_size_literal[i]) out.array.push_back(literal(ScalarType::u32, type.array[i]));
    else out.array.push_back(expression(type.array[i], budget));
  }
  for (const auto member : type.member_types) out.members.push_back(shared_type(get_type(member), budget));
  return out;
}

SpecExpression ModuleReflector::expression(std::uint32_t id, std::size_t& budget) const {
  if (budget == 0)
    throw std::runtime_error(fmt::format("a shared variable's lengths are expressions of more than {} constants",
                                         kMaxExpressionNodes));
  --budget;
  SpecExpression out;
  switch (ir.ids[id].get_type()) {
    case spirv_cross::TypeConstant: {
      const auto& constant = get<spirv_cross::SPIRConstant>(id);
      const auto& type = get_type(constant.constant_type);
      out.type = scalar_type(type);
      if (!constant.subconstants.empty()) {  // an array or structure
        out.kind = SpecExpression::Kind::composite;
        for (const auto member : constant.subconstants) out.operands.push_back(expression(member, budget));
      } else if (type.vecsize > 1) {  // a vector (gl_WorkGroupSize): members inline, or their ids where specialized
        out.kind = SpecExpression::Kind::composite;
        for (std::uint32_t i = 0; i < type.vecsize; ++i) {
          if (const std::uint32_t member = constant.specialization_constant_id(0, i)) {
            out.operands.push_back(expression(member, budget));
          } else {
            out.operands.push_back(
                literal(out.type, size_of(out.type) == 8 ? constant.scalar_u64(0, i) : constant.scalar(0, i)));
          }
        }
      } else {
        out.bits = constant_bits(constant, out.type);
        // A specialization constant without a SpecId cannot be set: its default is a literal.
        if (constant.specialization && has_decoration(id, spv::DecorationSpecId)) {
          out.kind = SpecExpression::Kind::spec_constant;
          out.spec_id = get_decoration(id, spv::DecorationSpecId);
        }
      }
      return out;
    }
    case spirv_cross::TypeConstantOp: {
      const auto& op = get<spirv_cross::SPIRConstantOp>(id);
      out.kind = SpecExpression::Kind::operation;
      out.type = scalar_type(get_type(op.basetype));
      out.opcode = op.opcode;
      const bool extract = op.opcode == spv::OpCompositeExtract;  // a composite, then literal indices
      for (std::size_t i = 0; i < op.arguments.size(); ++i) {
        if (extract && i > 0) out.indices.push_back(op.arguments[i]);
        else out.operands.push_back(expression(op.arguments[i], budget));
      }
      return out;
    }
    default: throw std::runtime_error(fmt::format("id {} sizes an array but is no constant", id));
  }
}

}  // namespace aat::detail
