// `aat version`: the framework version, the shader compilers its kernels were built with, the
// runtime GLSL compiler, and the kernel families compiled in.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "aat/build_info.hpp"
#include "commands.hpp"

namespace aat::cli {

namespace {

std::vector<std::string> family_names(const std::vector<KernelFamily>& families) {
  std::vector<std::string> names;
  for (KernelFamily f : families) names.emplace_back(to_string(f));
  return names;
}

nlohmann::json compiler_json(const ShaderCompilerInfo& c) {
  return {{"name", c.name}, {"version", c.version}, {"families", family_names(c.families)}};
}

}  // namespace

nlohmann::json version_json() {
  const BuildInfo& info = build_info();
  auto compilers = nlohmann::json::array();
  for (const auto& c : info.shader_compilers) compilers.push_back(compiler_json(c));
  return {{"version", info.version},
          {"shader_compiler", compiler_json(info.shader_compiler)},
          {"shader_compilers", compilers},
          {"runtime_compiler", compiler_json(info.runtime_compiler)},
          {"kernel_families", family_names(info.kernel_families)}};
}

void add_version_command(CLI::App& app, GlobalOptions&) {
  auto* cmd = app.add_subcommand("version", "Print the version, the shader compilers and the kernel families compiled in");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON (keys: version, shader_compiler, shader_compilers, runtime_compiler, "
                                 "kernel_families)");
  cmd->callback([json] {
    if (*json) {
      fmt::print("{}\n", version_json().dump(2));
      return;
    }
    const BuildInfo& info = build_info();
    fmt::print("aat {}\n", info.version);
    fmt::print("kernel families compiled in: {}\n", fmt::join(family_names(info.kernel_families), ", "));
    for (const auto& c : info.shader_compilers)
      fmt::print("build-time shader compiler: {} {} (builds {})\n", c.name, c.version, fmt::join(family_names(c.families), ", "));
    fmt::print("runtime GLSL compiler: {} with glslang {} (compiles {})\n", info.runtime_compiler.name,
               info.runtime_compiler.version, fmt::join(family_names(info.runtime_compiler.families), ", "));
  });
}

}  // namespace aat::cli
