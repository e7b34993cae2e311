#include "aat/build_info.hpp"

#include <algorithm>

#include <glslang/build_info.h>

#include "aat/version.hpp"
// AAT_BUILD_*: written at configure time by cmake/AatBuildInfo.cmake.
#include "aat_build_info.inc"

namespace aat {

namespace {

std::vector<KernelFamily> families_from(std::string_view list) {
  std::vector<KernelFamily> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (auto family = parse_kernel_family(list.substr(0, comma))) out.push_back(*family);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return out;
}

BuildInfo make_build_info() {
  BuildInfo info;
  info.version = std::string(version());
  info.shader_compilers.push_back({"glslc", AAT_BUILD_GLSLC_VERSION, families_from(AAT_BUILD_GLSLC_FAMILIES)});
  if (*AAT_BUILD_GLSLANG_VERSION)
    info.shader_compilers.push_back({"glslang", AAT_BUILD_GLSLANG_VERSION, families_from(AAT_BUILD_GLSLANG_FAMILIES)});
  info.kernel_families = families_from(AAT_BUILD_KERNEL_FAMILIES);
  // The compiler of the most demanding family compiled in: glslc when it could build them all.
  info.shader_compiler = info.shader_compilers.front();
  for (KernelFamily family : info.kernel_families) {
    const auto& glslc = info.shader_compilers.front().families;
    if (std::find(glslc.begin(), glslc.end(), family) == glslc.end() && info.shader_compilers.size() > 1)
      info.shader_compiler = info.shader_compilers.back();
  }
  // The runtime glslang's families follow from its version (the releases that brought them).
  std::vector<KernelFamily> runtime{KernelFamily::scalar, KernelFamily::coopmat_nv};
  constexpr int kRuntime = GLSLANG_VERSION_MAJOR * 100 + GLSLANG_VERSION_MINOR;
  if (kRuntime >= 1300) runtime.push_back(KernelFamily::coopmat_khr);
  if (kRuntime >= 1501) runtime.push_back(KernelFamily::coopmat2);
  info.runtime_compiler = {"shaderc",
                           std::to_string(GLSLANG_VERSION_MAJOR) + "." + std::to_string(GLSLANG_VERSION_MINOR) + "." +
                               std::to_string(GLSLANG_VERSION_PATCH),
                           std::move(runtime)};
  return info;
}

}  // namespace

std::string_view glslang_version_introducing(std::string_view extension) {
  struct Introduced {
    std::string_view extension, version;
  };
  static constexpr Introduced kTable[] = {
      {"GL_KHR_cooperative_matrix", "13.0.0"},
      {"GL_NV_cooperative_matrix2", "15.1.0"},
  };
  for (const auto& row : kTable)
    if (row.extension == extension) return row.version;
  return {};
}

const BuildInfo& build_info() {
  static const BuildInfo info = make_build_info();
  return info;
}

}  // namespace aat
