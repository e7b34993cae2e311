// Checks for GLSL that the glslang inside Debian 12's shaderc crashes on (a null dereference)
// instead of reporting an error. Run on the preprocessed source before glslang parses it, so a
// user's shader can never take the host process down; each hazard is one the fuzzer found.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aat::detail {

// A compile-error message when `preprocessed` (shaderc's preprocessor output, with #line
// markers) holds a construct glslang crashes on; nullopt otherwise.
std::optional<std::string> glslang_crash_hazard(std::string_view preprocessed);

}  // namespace aat::detail
