// What this build of AAT is made of: its version, the shader compilers its kernels were built
// with (and what each could build), the GLSL compiler it uses at run time, and the kernel
// families compiled in. `aat version [--json]` prints it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aat/kernel_family.hpp"

namespace aat {

struct ShaderCompilerInfo {
  std::string name;                    // "glslc", "glslang", "shaderc"
  std::string version;                 // as the tool reports it, e.g. "15.2.0"
  std::vector<KernelFamily> families;  // what it compiled in the configure-time feature test
};

struct BuildInfo {
  std::string version;                              // the project version, e.g. "0.1.0"
  ShaderCompilerInfo shader_compiler;               // the build-time compiler of the most demanding family built
  std::vector<ShaderCompilerInfo> shader_compilers; // every build-time compiler found
  // The compiler linked into the library for `aat run file.comp` and ShaderCompiler: shaderc,
  // version = the glslang inside it, families = what that glslang knows.
  ShaderCompilerInfo runtime_compiler;
  std::vector<KernelFamily> kernel_families;        // families of the plugin kernels compiled in
};

const BuildInfo& build_info();

// The glslang release that first compiles GLSL `extension` when AAT knows it ("15.1.0" for
// GL_NV_cooperative_matrix2), else empty.
std::string_view glslang_version_introducing(std::string_view extension);

}  // namespace aat
