// An interface-only copy of a SPIR-V module: same entry point, execution modes, decorations,
// types, constants, specialization constants and global variables, but every function body
// emptied and everything Debian 12's SPIR-V tools cannot parse removed along with whatever
// depends on it: cooperative matrices (NV, KHR), NV_cooperative_matrix2's tensor layouts and
// views, replicated composites. Reflection reads only the interface, so the result is identical.
//
// The reduction needs no grammar for what it removes: function bodies and the unknown global
// instructions are cut by word counts alone, so a module using opcodes newer than SPIRV-Tools
// 2023.1 (coopmat2: glslang >= 15.1) is reduced all the same; the rest is then parsed normally.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "aat/error.hpp"
#include "aat/shader.hpp"

namespace aat::detail {

// True when the module declares a capability Debian 12's SPIRV-Cross cannot parse.
bool needs_interface_reduction(std::span<const std::uint32_t> spirv);

// True when the module declares a capability Debian 12's SPIRV-Tools (2023.1) does not know,
// so spirv-val cannot check it: KHR cooperative matrices and NV cooperative matrix 2.
bool beyond_validator(std::span<const std::uint32_t> spirv);

// The instruction stream is well formed: every instruction's word count is at least one and
// ends inside the module. (What can be checked without the grammar.)
Expected<void> check_instruction_stream(std::span<const std::uint32_t> spirv, std::string_view what);

Expected<Spirv> interface_only(std::span<const std::uint32_t> spirv);

}  // namespace aat::detail
