// An interface-only copy of a SPIR-V module: same entry point, execution modes, decorations,
// types, constants, specialization constants and global variables, but every function body
// emptied and every type SPIRV-Cross cannot parse (cooperative matrices) removed along with
// whatever depends on it. Reflection reads only the interface, so the result is identical.
#pragma once

#include <cstdint>
#include <span>

#include "aat/error.hpp"
#include "aat/shader.hpp"

namespace aat::detail {

// True when the module declares a capability Debian 12's SPIRV-Cross cannot parse.
bool needs_interface_reduction(std::span<const std::uint32_t> spirv);

Expected<Spirv> interface_only(std::span<const std::uint32_t> spirv);

}  // namespace aat::detail
