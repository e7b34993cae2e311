// What aat-bindgen writes for one shader: the typed header and the embedded SPIR-V source.
#pragma once

#include <string>

#include "aat/reflect.hpp"
#include "aat/shader.hpp"

namespace aat::bindgen {

struct ShaderNames {
  std::string plugin;  // C++ identifier
  std::string kernel;  // C++ identifier
  std::string source;  // file name, for the comment
  std::string family = "scalar";  // the kernel family it needs (cmake/AatShaderCompiler.cmake)
};

// A C++ identifier from arbitrary text ("local-size" -> "local_size", "3d" -> "_3d").
std::string identifier(const std::string& text);

// The header: push-constant struct with explicit padding and static_asserts on every
// reflected offset and the total size, binding names and indices, spec-constant ids.
Expected<std::string> generate_header(const ShaderNames& names, const KernelInterface& interface);
std::string generate_source(const ShaderNames& names, const Spirv& spirv);

}  // namespace aat::bindgen
