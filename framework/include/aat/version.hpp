#pragma once

#include <string_view>

namespace aat {
// The project version (CMakeLists.txt's project(VERSION)), e.g. "0.1.0".
std::string_view version();
}  // namespace aat
