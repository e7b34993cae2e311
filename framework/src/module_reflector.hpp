// SPIRV-Cross's compiler with what its public API does not reach: the module's Workgroup-storage
// variables and the constants (specialization constants, OpSpecConstantOp) that size them.
// Private to the framework (reflect.cpp reflects through it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <spirv_cross/spirv_cross.hpp>

#include "aat/reflect.hpp"

namespace aat::detail {

ScalarType scalar_type(const spirv_cross::SPIRType& type);
// A scalar constant's bit pattern, as wide as `type`.
std::uint64_t constant_bits(const spirv_cross::SPIRConstant& constant, ScalarType type);

class ModuleReflector : public spirv_cross::Compiler {
 public:
  using Compiler::Compiler;
  // Every Workgroup variable, in declaration order, its array lengths as expressions. Throws
  // (as SPIRV-Cross does) where a length is no constant, or where a variable's lengths expand to
  // more than kMaxExpressionNodes (a crafted module's constants can share operands, so that the
  // trees would grow exponentially).
  std::vector<SharedVariable> shared_variables() const;

 private:
  static constexpr std::size_t kMaxExpressionNodes = 4096;
  // `budget`: the nodes the variable may still take.
  SharedType shared_type(const spirv_cross::SPIRType& type, std::size_t& budget) const;
  SpecExpression expression(std::uint32_t id, std::size_t& budget) const;
};

}  // namespace aat::detail
