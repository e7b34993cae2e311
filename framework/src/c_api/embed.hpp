// Shared by the C API (libaat_c) and the Python module: a shader from a file, compiled or
// read. Running it goes through the one invocation path (aat/invocation.hpp), ops through
// aat/op_run.hpp. Private: not installed.
#pragma once

#include <filesystem>
#include <memory>

#include "aat/aat.hpp"

namespace aat::embed {

// Reads a .spv file, or compiles GLSL (any other extension) through the context's SPIR-V cache.
Expected<Spirv> load_shader(const std::shared_ptr<Context>& context, const std::filesystem::path& path);

}  // namespace aat::embed
