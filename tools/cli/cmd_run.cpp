// `aat run TARGET [args...]`: a compute shader run with no C++ written (TARGET is a .comp,
// .glsl or .spv file), or a plugin's command (anything else). Everything after TARGET is left
// unparsed by the main parser: the shader form parses it with its own CLI11 app below, a
// plugin command gets it as is.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "aat/npy.hpp"
#include "aat/progress.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"
#include "aat/shader_run.hpp"
#include "aat/value.hpp"

namespace aat::cli {

Expected<Spirv> load_shader(const std::filesystem::path& path, const CompileOptions& options);  // cmd_reflect.cpp

namespace {

constexpr const char* kDescription =
    "Run a compute shader with no C++ written. Arrays come from .npy files and are bound by the\n"
    "shader's own binding names; push constants and specialization constants are set by their\n"
    "reflected names and parsed as the types the shader declares; outputs are written as .npy.\n"
    "\n"
    "  aat run FILE.comp|FILE.glsl|FILE.spv [OPTIONS]   a shader file (GLSL is compiled, SPIR-V loaded)\n"
    "  aat run COMMAND [ARGS...]                         a command of a kernel plugin\n";

constexpr const char* kFooter =
    "Every binding of the shader must be given by --bind or --out. Before anything runs, each array\n"
    "is checked against the reflected block: it must hold at least the block's fixed part; for a\n"
    "block ending in a runtime array (float x[], vec4 v[]) the bytes past the fixed part must be a\n"
    "multiple of the array stride; and its dtype must fit the array's element type (f32: float,\n"
    "vecN; f16: float16_t, f16vecN; i32: int, uint, ivecN, uvecN; u8: int8_t, uint8_t). Errors name\n"
    "the binding, member or constant at fault, and the exit status is 1. With AAT_VALIDATION=1 any\n"
    "validation-layer message is printed and also makes the exit status 1.\n"
    "How far the shader indexes into a runtime array is not known before it runs: the run uses the\n"
    "device's robustBufferAccess where it offers it (lavapipe and most GPUs do; the JSON report says\n"
    "so), so an index past the end of an array reads 0 (Vulkan lets a device return any value from\n"
    "inside that buffer instead; lavapipe returns 0) and a write past the end never reaches another\n"
    "buffer. Size arrays to what the shader indexes: such reads are not errors.\n"
    "\n"
    "Example (y = 2x + y over 1000 floats, examples/shaders/saxpy.comp):\n"
    "  python3 -c 'import numpy as np; np.save(\"x.npy\", np.arange(1000, dtype=np.float32));\n"
    "              np.save(\"y.npy\", np.ones(1000, dtype=np.float32))'\n"
    "  aat run examples/shaders/saxpy.comp --bind X=x.npy --bind Y=y.npy --out Y=y_out.npy \\\n"
    "      --push a=2.0 --push n=1000 --grid 1000\n"
    "  aat run examples/shaders/saxpy.comp --bind X=x.npy --bind Y=y.npy --out Y=y_out.npy \\\n"
    "      --push a=2.0 --push n=1000 --grid 1000 --spec local_size_x=128 --json\n"
    "An output nobody bound is allocated zero-filled from its dtype and shape:\n"
    "  aat run my_kernel.comp --bind X=x.npy --out Z=z.npy:f32:4x1000 --grid 1000,4\n"
    "'aat reflect FILE' lists a shader's bindings, push-constant members and specialization constants.";

struct ShaderArgs {
  std::vector<std::string> binds, outs, pushes, specs, defines, includes;
  std::string grid = "1";
  std::string device;
  bool json = false, quiet = false, progress = false;
};

std::unique_ptr<CLI::App> make_shader_app(ShaderArgs& args) {
  auto app = std::make_unique<CLI::App>(kDescription, "aat run FILE.comp");
  app->footer(kFooter);
  app->add_option("--bind", args.binds,
                  "NAME=FILE.npy: upload the array and bind it to the shader's binding NAME (its instance or "
                  "block name). Repeat for each input")
      ->type_name("NAME=FILE");
  app->add_option("--out", args.outs,
                  "NAME=FILE.npy[:DTYPE:SHAPE]: write binding NAME to FILE.npy after the run. A NAME given by "
                  "--bind is read back with its input's dtype and shape; any other NAME needs DTYPE (f32, f16, i32, "
                  "u8) and SHAPE (D0xD1x..., e.g. 4x1000; 'scalar' for rank 0) and starts zero-filled")
      ->type_name("NAME=FILE[:DTYPE:SHAPE]");
  app->add_option("--push", args.pushes,
                  "MEMBER=VALUE: set a push-constant member, typed from the shader: int/uint (12, -3, 0x10), float "
                  "(1.5, 1e-3, inf), bool (true, false); vectors and arrays as a,b,c")
      ->type_name("MEMBER=VALUE");
  app->add_option("--spec", args.specs,
                  "NAME=VALUE: set a specialization constant by name or id, typed from the shader (e.g. "
                  "local_size_x=128 when the shader declares local_size_x_id)")
      ->type_name("NAME=VALUE");
  app->add_option("--grid", args.grid,
                  "X[,Y[,Z]]: invocations per axis (default 1); the dispatch has ceil(grid / local size) workgroups")
      ->type_name("X[,Y[,Z]]");
  app->add_flag("--json", args.json,
                "Print a JSON object: kernel, device, gpu_ms, grid, workgroups, local_size, outputs (name -> path, "
                "dtype, shape)");
  app->add_option("-D,--define", args.defines, "NAME[=VALUE]: preprocessor define for GLSL")->type_name("NAME[=VALUE]");
  app->add_option("-I,--include", args.includes, "DIR: include directory for GLSL")->type_name("DIR");
  app->add_option("--device", args.device, "Device index or name substring (overrides --device before 'run' and AAT_DEVICE)");
  app->add_flag("--quiet", args.quiet, "No progress on stderr");
  app->add_flag("--progress", args.progress,
                "Progress on stderr (stage, elapsed, ETA) for runs over a second even when stderr is no terminal");
  return app;
}

Expected<std::uint64_t> parse_count(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return fail(ErrorCode::parse, fmt::format("{}: '{}' is not a non-negative integer", what, text));
  return value;
}

// "4x1000", "1000", "2,3" or "scalar".
Expected<std::vector<std::int64_t>> parse_shape(std::string_view text) {
  std::vector<std::int64_t> shape;
  if (text == "scalar") return shape;
  std::size_t start = 0;
  while (true) {
    const std::size_t sep = text.find_first_of("x,", start);
    const auto part = text.substr(start, sep == std::string_view::npos ? sep : sep - start);
    AAT_TRY(const std::uint64_t d, parse_count(part, fmt::format("shape '{}'", text)));
    if (d > (std::uint64_t{1} << 48)) return fail(ErrorCode::parse, fmt::format("shape '{}' is too large", text));
    shape.push_back(static_cast<std::int64_t>(d));
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return shape;
}

Expected<std::array<std::uint64_t, 3>> parse_grid(std::string_view text) {
  std::array<std::uint64_t, 3> grid{1, 1, 1};
  std::size_t start = 0;
  for (std::size_t axis = 0;; ++axis) {
    if (axis == 3) return fail(ErrorCode::parse, fmt::format("--grid '{}': expected X[,Y[,Z]]", text));
    const std::size_t sep = text.find(',', start);
    const auto part = text.substr(start, sep == std::string_view::npos ? sep : sep - start);
    AAT_TRY(grid[axis], parse_count(part, fmt::format("--grid '{}'", text)));
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return grid;
}

struct OutArg {
  ShaderOutput output;
  std::string path;
};

// NAME=FILE.npy or NAME=FILE.npy:DTYPE:SHAPE.
Expected<OutArg> parse_out(const std::string& text) {
  AAT_TRY(auto parts, assignment("--out", text, "NAME=FILE.npy or NAME=FILE.npy:DTYPE:SHAPE"));
  auto& [name, rest] = parts;
  OutArg out{ShaderOutput{name, std::nullopt, std::nullopt}, rest};
  const auto last = rest.rfind(':');
  if (last == std::string::npos) return out;
  const auto before = last == 0 ? std::string::npos : rest.rfind(':', last - 1);
  if (before != std::string::npos) {
    if (const auto dtype = parse_dtype(std::string_view(rest).substr(before + 1, last - before - 1))) {
      auto shape = parse_shape(std::string_view(rest).substr(last + 1));
      if (!shape) return forward(std::move(shape), fmt::format("--out '{}'", text));
      out.output.dtype = dtype;
      out.output.shape = std::move(*shape);
      out.path = rest.substr(0, before);
      if (out.path.empty()) return fail(ErrorCode::parse, fmt::format("--out '{}': no file name", text));
      return out;
    }
  }
  if (parse_dtype(std::string_view(rest).substr(last + 1)))
    return fail(ErrorCode::parse, fmt::format("--out '{}': a DTYPE needs a SHAPE too: NAME=FILE.npy:DTYPE:D0xD1...", text));
  return out;  // a ':' that is part of the file name
}

// The shared checks of the invocation path, with the option at fault named.
Expected<void> check_binding_name(const KernelInterface& interface, const std::string& kernel, const std::string& name,
                                  const char* option) {
  auto index = binding_index(interface, kernel, name);
  if (!index) return forward(std::move(index), fmt::format("{} {}", option, name));
  return {};
}

// An input array, refused from its header when the device cannot hold it (before it is read); a
// regular file stays mapped and is uploaded from the mapping (no copy on the host).
Expected<HostArrayView> read_input(const Context& context, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    AAT_TRY(HostArray array, read_npy(path));
    return HostArrayView(std::move(array));
  }
  AAT_TRY(const MappedNpy file, MappedNpy::open(path));
  const std::uint64_t limit = context.device().limits.max_allocation_bytes;
  if (limit && file.header().data_bytes > limit)
    return fail(ErrorCode::out_of_memory,
                fmt::format("'{}' holds {}[{}], {} bytes, more than device '{}' can allocate at once ({} bytes)",
                            path.string(), to_string(file.header().dtype), shape_to_string(file.header().shape),
                            file.header().data_bytes, context.device().name, limit));
  auto mapping = std::make_shared<const MappedNpy>(file);
  return HostArrayView(file.header().dtype, file.header().shape, mapping->data(), mapping);
}

std::string triple(const std::array<std::uint32_t, 3>& v) { return fmt::format("{}x{}x{}", v[0], v[1], v[2]); }

Expected<void> run_file(GlobalOptions& global, const std::filesystem::path& file, const ShaderArgs& args) {
  Progress progress(Progress::choose(args.quiet, args.progress), file.filename().string());
  progress.stage("compiling");
  CompileOptions compile = compile_options(args.defines);
  for (const auto& dir : args.includes) compile.include_dirs.emplace_back(dir);
  AAT_TRY(Spirv spirv, load_shader(file, compile));
  AAT_TRY(KernelInterface interface, with_context(reflect(spirv), fmt::format("reflecting '{}'", file.string())));

  ShaderRunRequest request;
  request.kernel_name = file.stem().string();
  const std::string& kernel = request.kernel_name;
  // Names first, so a misspelt binding is reported before any file is read.
  for (const auto& text : args.binds) {
    AAT_TRY(auto parts, assignment("--bind", text, "NAME=FILE.npy"));
    AAT_CHECK(check_binding_name(interface, kernel, parts.first, "--bind"));
  }
  std::vector<OutArg> outs;
  for (const auto& text : args.outs) {
    AAT_TRY(OutArg out, parse_out(text));
    AAT_CHECK(check_binding_name(interface, kernel, out.output.binding, "--out"));
    request.outputs.push_back(out.output);
    outs.push_back(std::move(out));
  }
  for (const auto& text : args.pushes) {
    AAT_TRY(auto parts, assignment("--push", text, "MEMBER=VALUE"));
    const NamedValue given{parts.first, {}, parts.second};
    AAT_TRY(auto values, with_context(push_member_values(interface, kernel, given), "--push " + parts.first));
    request.push.push_back({parts.first, std::move(values), std::nullopt});
  }
  for (const auto& text : args.specs) {
    AAT_TRY(auto parts, assignment("--spec", text, "NAME=VALUE"));
    const NamedValue given{parts.first, {}, parts.second};
    AAT_TRY(Value value, with_context(spec_constant_value(interface, kernel, given), "--spec " + parts.first));
    request.spec.push_back({parts.first, {value}, std::nullopt});
  }
  AAT_TRY(request.grid, parse_grid(args.grid));

  GlobalOptions options = global;
  if (!args.device.empty()) options.device = args.device;
  // A shader nobody checked may index past its arrays (the runtime array's length is the host's
  // business): with robust buffer access such reads see 0 and such writes stay inside the buffer.
  AAT_TRY(auto context, open_context(options, true));
  progress.stage("reading inputs", static_cast<double>(args.binds.size()));
  for (const auto& text : args.binds) {
    AAT_TRY(auto parts, assignment("--bind", text, "NAME=FILE.npy"));
    AAT_TRY(HostArrayView array, with_context(read_input(*context, parts.second), fmt::format("--bind {}", parts.first)));
    request.inputs.emplace_back(parts.first, std::move(array));
    progress.advance(static_cast<double>(request.inputs.size()));
  }
  request.spirv = std::move(spirv);
  progress.stage(fmt::format("running on {}", context->device().name));
  auto result = run_shader(context, request);
  const auto messages = context->take_validation_messages();
  if (!messages.empty() || !result) progress.done();
  for (const auto& m : messages) fmt::print(stderr, "aat: {}\n", m);
  if (!result) return std::unexpected(std::move(result.error()));

  progress.stage("writing outputs");
  for (std::size_t i = 0; i < outs.size(); ++i)
    AAT_CHECK(with_context(write_npy(outs[i].path, result->outputs[i].second),
                           fmt::format("--out {}", outs[i].output.binding)));
  progress.done();

  const DeviceInfo& device = context->device();
  const bool timed = device.limits.timestamp_period_ns > 0;
  if (args.json) {
    nlohmann::json out{{"kernel", kernel},
                       {"file", file.string()},
                       {"device", device.name},
                       {"device_index", device.index},
                       {"gpu_ms", result->gpu_ms},
                       {"timestamps", timed},
                       {"robust_buffer_access", device.features.robust_buffer_access},
                       {"grid", request.grid},
                       {"workgroups", result->workgroups},
                       {"local_size", result->local_size},
                       {"outputs", nlohmann::json::object()}};
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const HostArray& array = result->outputs[i].second;
      out["outputs"][outs[i].output.binding] = {
          {"path", outs[i].path}, {"dtype", to_string(array.dtype)}, {"shape", array.shape}};
    }
    // Paths and names can be any bytes; invalid UTF-8 would make dump() throw.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    std::string written;
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const HostArray& array = result->outputs[i].second;
      written += fmt::format("; {} -> {} ({}[{}])", outs[i].output.binding, outs[i].path, to_string(array.dtype),
                             shape_to_string(array.shape));
    }
    fmt::print("{} on {}: {} workgroups of {}, {}{}\n", kernel, device.name, triple(result->workgroups),
               triple(result->local_size), timed ? fmt::format("{:.3f} ms on the GPU", result->gpu_ms) : "no GPU timer",
               written.empty() ? "; no outputs" : written);
  }
  if (!messages.empty())
    return fail(ErrorCode::validation, fmt::format("the validation layer reported {} message(s)", messages.size()));
  return {};
}

int run_shader_command(GlobalOptions& global, const std::string& file, const std::vector<std::string>& rest) {
  ShaderArgs args;
  auto app = make_shader_app(args);
  try {
    if (parse_run_arguments(*app, rest)) return 0;
  } catch (const CLI::ParseError& e) {
    report(global, Error(ErrorCode::parse, fmt::format("run {}: {} (see 'aat run --help')", file, e.what())));
    return 1;
  }
  if (auto done = run_file(global, file, args); !done) {
    report(global, done.error());
    return 1;
  }
  return 0;
}

bool is_shader_file(const std::string& target) {
  const auto extension = std::filesystem::path(target).extension();
  if (extension == ".comp" || extension == ".glsl" || extension == ".spv") return true;
  std::error_code ec;
  return std::filesystem::is_regular_file(target, ec);
}

}  // namespace

void add_run_command(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("run", "Run a compute shader file (.comp, .glsl, .spv) on .npy arrays with no C++ "
                                        "written, or a plugin command; 'aat run --help' for the options");
  // Everything after TARGET stays unparsed here (even --help, so that `aat run COMMAND --help`
  // reaches the plugin); the shader form parses it with its own app.
  cmd->prefix_command();
  cmd->set_help_flag();
  auto target = std::make_shared<std::string>();
  cmd->add_option("target", *target, "A shader file, or a plugin command");
  cmd->callback([cmd, &global, target] {
    std::vector<std::string> rest = cmd->remaining();
    if (target->empty()) {
      if (std::any_of(rest.begin(), rest.end(), [](const auto& a) { return a == "--help" || a == "-h"; })) {
        ShaderArgs unused;
        fmt::print("{}", make_shader_app(unused)->help());
        return;
      }
      return report(global, Error(ErrorCode::invalid_argument,
                                  "run: name a shader file or a plugin command (see 'aat run --help')"));
    }
    global.exit_code = is_shader_file(*target) ? run_shader_command(global, *target, rest)
                                               : run_plugin_command(global, *target, std::move(rest));
  });
}

}  // namespace aat::cli
