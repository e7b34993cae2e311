// `aat reflect FILE.comp|FILE.spv [--json]`: the interface AAT derives from a shader.
#include <fmt/format.h>

#include "commands.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"

namespace aat::cli {

Expected<Spirv> load_shader(const std::filesystem::path& path, const CompileOptions& options);

void add_reflect_command(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("reflect", "Print a compute shader's reflected interface: local size, bindings, "
                                            "push constants, specialization constants");
  struct Args {
    std::string file;
    bool json = false;
    std::vector<std::string> defines;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("file", args->file, "A GLSL compute shader (.comp) or SPIR-V module (.spv)")->required();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("-D,--define", args->defines, "Preprocessor define NAME[=VALUE] for GLSL");
  cmd->callback([&global, args] {
    CompileOptions options;
    for (const auto& d : args->defines) {
      const auto eq = d.find('=');
      options.defines.emplace_back(d.substr(0, eq), eq == std::string::npos ? "1" : d.substr(eq + 1));
    }
    auto spirv = load_shader(args->file, options);
    if (!spirv) return report(global, spirv.error());
    auto interface = reflect(*spirv);
    if (!interface) return report(global, interface.error());
    fmt::print("{}\n", args->json ? interface->to_json() : interface->to_text());
  });
}

Expected<Spirv> load_shader(const std::filesystem::path& path, const CompileOptions& options) {
  if (path.extension() == ".spv") return load_spirv(path);
  ShaderCompiler compiler(default_cache_dir());
  return compiler.compile_file(path, options);
}

}  // namespace aat::cli
