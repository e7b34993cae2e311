// `aat reflect FILE.comp|FILE.spv [--json] [--statistics [--spec NAME=VALUE]...]`: the interface
// AAT derives from a shader, and on request what the device's driver makes of it.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "aat/invocation.hpp"
#include "aat/kernel.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"

namespace aat::cli {

Expected<Spirv> load_shader(const std::filesystem::path& path, const CompileOptions& options);

namespace {

struct ReflectArgs {
  std::string file;
  bool json = false;
  bool statistics = false;
  std::vector<std::string> defines, specs;
};

// The pipeline built on the device with the --spec values, and the driver's statistics of it.
Expected<std::vector<KernelStatistic>> driver_statistics(const GlobalOptions& global, const ReflectArgs& args,
                                                         Spirv spirv) {
  std::vector<NamedValue> spec;
  for (const auto& text : args.specs) {
    AAT_TRY(auto parts, assignment("--spec", text, "NAME=VALUE"));
    spec.push_back({parts.first, {}, parts.second});
  }
  AAT_TRY(auto context, open_context(global));
  const std::string name = std::filesystem::path(args.file).stem().string();
  AAT_TRY(Kernel kernel, create_kernel(context, std::move(spirv), name, spec));
  auto statistics = kernel.statistics();
  for (const auto& m : context->take_validation_messages()) fmt::print(stderr, "aat: {}\n", m);
  if (!statistics)
    return fail(statistics.error().code(), fmt::format("--statistics on {}: {}", context->device().name,
                                                     statistics.error().what()));
  return statistics;
}

std::string statistics_text(const std::vector<KernelStatistic>& statistics) {
  std::string text = "driver statistics:\n";
  for (const auto& s : statistics)
    text += fmt::format("  {:<28} {:>10}   {}{}\n", s.name, s.value, s.description,
                        s.executable.empty() ? "" : fmt::format(" [{}]", s.executable));
  return text;
}

nlohmann::json statistics_json(const std::vector<KernelStatistic>& statistics) {
  auto out = nlohmann::json::array();
  for (const auto& s : statistics)
    out.push_back({{"executable", s.executable}, {"name", s.name}, {"description", s.description}, {"value", s.value}});
  return out;
}

}  // namespace

void add_reflect_command(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("reflect", "Print a compute shader's reflected interface: local size, bindings, "
                                            "push constants, specialization constants; with --statistics also "
                                            "what the device's driver reports of the compiled pipeline");
  auto args = std::make_shared<ReflectArgs>();
  cmd->add_option("file", args->file, "A GLSL compute shader (.comp) or SPIR-V module (.spv)")->required();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("-D,--define", args->defines, "Preprocessor define NAME[=VALUE] for GLSL");
  cmd->add_flag("--statistics", args->statistics,
                "Build the pipeline on the device (--device before 'reflect', or AAT_DEVICE) and print the "
                "driver's statistics of it: registers, spills, shared memory, instruction counts "
                "(VK_KHR_pipeline_executable_properties; an error names the device where it is missing)");
  cmd->add_option("--spec", args->specs,
                  "NAME=VALUE: a specialization constant for --statistics, by name or id, typed from the shader "
                  "(e.g. --spec local_size_x=128)")
      ->type_name("NAME=VALUE");
  cmd->callback([&global, args] {
    const CompileOptions options = compile_options(args->defines);
    if (!args->specs.empty() && !args->statistics)
      return report(global, Error{ErrorCode::invalid_argument, "--spec is for --statistics (the interface is "
                                                               "reflected before specialization)"});
    auto spirv = load_shader(args->file, options);
    if (!spirv) return report(global, spirv.error());
    auto interface = reflect(*spirv);
    if (!interface) return report(global, interface.error());
    std::optional<std::vector<KernelStatistic>> statistics;
    if (args->statistics) {
      auto got = driver_statistics(global, *args, *spirv);
      if (!got) return report(global, got.error());
      statistics = std::move(*got);
    }
    if (args->json) {
      auto out = nlohmann::json::parse(interface->to_json());
      if (statistics) out["statistics"] = statistics_json(*statistics);
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}\n", interface->to_text());
      if (statistics) fmt::print("{}", statistics_text(*statistics));
    }
  });
}

Expected<Spirv> load_shader(const std::filesystem::path& path, const CompileOptions& options) {
  if (path.extension() == ".spv") return load_spirv(path);
  ShaderCompiler compiler(default_cache_dir());
  return compiler.compile_file(path, options);
}

}  // namespace aat::cli
