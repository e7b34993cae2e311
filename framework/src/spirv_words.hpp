// The few SPIR-V opcodes, capabilities and operand values the framework reads by hand, and a
// walk over a module's instructions by word counts alone (no grammar): what spirv_interface.cpp
// and spirv_requirements.cpp share. Private to the framework.
#pragma once

#include <cstdint>
#include <span>

namespace aat::detail::spirv {

inline constexpr std::uint32_t kHeaderWords = 5;

inline constexpr std::uint32_t kOpExtension = 10;
inline constexpr std::uint32_t kOpEntryPoint = 15;
inline constexpr std::uint32_t kOpCapability = 17;
inline constexpr std::uint32_t kOpConstant = 43;
inline constexpr std::uint32_t kOpFunction = 54;
inline constexpr std::uint32_t kOpFunctionEnd = 56;
inline constexpr std::uint32_t kOpLabel = 248;
inline constexpr std::uint32_t kOpReturn = 253;
inline constexpr std::uint32_t kOpExecutionModeId = 331;
inline constexpr std::uint32_t kOpTypeCooperativeMatrixKHR = 4456;
inline constexpr std::uint32_t kOpTypeCooperativeMatrixNV = 5358;

inline constexpr std::uint32_t kExecutionModeLocalSizeId = 38;
inline constexpr std::uint32_t kScopeWorkgroup = 2;

// Calls visit(opcode, words) for every instruction after the header, in order, until visit
// returns false or an instruction's word count is 0 or runs past the end (a broken stream:
// check_instruction_stream reports it).
template <typename Visit>
void for_each_instruction(std::span<const std::uint32_t> module, Visit&& visit) {
  for (std::size_t i = kHeaderWords; i < module.size();) {
    const std::uint32_t count = module[i] >> 16;
    if (count == 0 || i + count > module.size()) return;
    if (!visit(module[i] & 0xffffu, module.subspan(i, count))) return;
    i += count;
  }
}

}  // namespace aat::detail::spirv
