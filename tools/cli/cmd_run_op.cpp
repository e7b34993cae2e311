// `aat run OP --NAME FILE.npy --PARAM VALUE`: any op of any plugin, its options made from the op's
// signature: an input or output tensor per .npy file, a parameter per value (a flag for a bool).
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/op_run.hpp"
#include "aat/progress.hpp"
#include "aat/tensor_npy.hpp"
#include "commands.hpp"

namespace aat::cli {

namespace {

// The option of a tensor or parameter: --key_lengths, with --key-lengths as its other spelling.
std::string option_names(const std::string& name) {
  std::string dashed = name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return dashed == name ? "--" + name : fmt::format("--{},--{}", dashed, name);
}

std::string option_of(const std::string& name) {
  std::string dashed = name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return "--" + dashed;
}

struct OpArgs {
  std::vector<std::string> paths;               // per tensor, "" when not given
  std::vector<std::string> values;              // per parameter (not bool), "" when not given
  std::vector<std::uint8_t> flags;              // per parameter (bool)
  std::vector<std::uint8_t> given;              // per parameter
  std::string device;
  bool json = false, quiet = false, progress = false;
};

std::unique_ptr<CLI::App> make_op_app(const PluginOp& op, OpArgs& args, const PluginCommand* command) {
  const OpSignature& s = op.signature;
  auto app = std::make_unique<CLI::App>(
      fmt::format("{}\nOp '{}' of plugin '{}': every tensor is a .npy file (inputs read, outputs written), every "
                  "parameter a value.", s.summary, s.name, op.plugin),
      "aat run " + s.name);
  args.paths.assign(s.tensors.size(), "");
  args.values.assign(s.params.size(), "");
  args.flags.assign(s.params.size(), 0);
  args.given.assign(s.params.size(), 0);
  for (std::size_t i = 0; i < s.tensors.size(); ++i) {
    const OpTensorRule& t = s.tensors[i];
    const bool input = t.role == OpRole::input;
    auto* option = app->add_option(option_names(t.name), args.paths[i],
                                   fmt::format("{} ({}{}): {}", input ? "Input .npy" : "Output .npy", t.describe(),
                                               t.optional ? ", optional" : "", t.summary))
                       ->type_name("FILE");
    if (!t.optional) option->required();
  }
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    const OpParamRule& p = s.params[i];
    const std::string help = p.summary + (p.default_value ? fmt::format(" (default {})", *p.default_value) : "");
    if (p.type == OpParamType::boolean) {
      app->add_flag_callback(option_names(p.name), [&args, i] { args.flags[i] = args.given[i] = 1; }, help);
    } else {
      auto* option = app->add_option_function<std::string>(
          option_names(p.name), [&args, i](const std::string& v) { args.values[i] = v, args.given[i] = 1; }, help);
      option->type_name(p.type == OpParamType::integer ? "INT" : p.type == OpParamType::number ? "FLOAT" : "TEXT");
      if (!p.optional && !p.default_value) option->required();
    }
  }
  app->add_flag("--json", args.json,
                "Print a JSON report: kernel (the op), device, gpu_ms, outputs, and what the op reports");
  app->add_option("--device", args.device, "Device index or name substring (overrides --device before 'run' and AAT_DEVICE)");
  app->add_flag("--quiet", args.quiet, "No progress on stderr");
  app->add_flag("--progress", args.progress,
                "Progress on stderr (stage, elapsed, ETA) for runs over a second even when stderr is no terminal");
  if (command)
    app->footer(fmt::format("Plugin '{}' also has a command of this name ({}): options not listed here run it "
                            "instead.", op.plugin, command->summary));
  return app;
}

// The op's report notes: {"param": name, "text": ...} or text; a note about a parameter names its option.
void print_notes(const nlohmann::json& report) {
  if (!report.contains("notes") || !report["notes"].is_array()) return;
  for (const auto& note : report["notes"]) {
    if (note.is_string()) fmt::print(stderr, "aat: note: {}\n", note.get<std::string>());
    else if (note.is_object() && note.contains("text"))
      fmt::print(stderr, "aat: note: {}{}\n",
                 note.contains("param") ? option_of(note["param"].get<std::string>()) + " " : std::string(),
                 note["text"].get<std::string>());
  }
}

Expected<void> run(GlobalOptions& global, const PluginOp& op, const OpArgs& args) {
  const OpSignature& s = op.signature;
  Progress progress(Progress::choose(args.quiet, args.progress), s.name);
  OpArguments arguments;
  arguments.param_label = [](const OpParamRule& p) { return option_of(p.name); };
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    if (!args.given[i]) continue;
    const OpParamRule& p = s.params[i];
    arguments.params.emplace_back(p.name, p.type == OpParamType::boolean ? OpValue(true) : OpValue(args.values[i]));
  }
  GlobalOptions options = global;
  if (!args.device.empty()) options.device = args.device;
  AAT_TRY(auto context, open_context(options));
  std::size_t inputs = 0;
  for (std::size_t i = 0; i < s.tensors.size(); ++i) inputs += s.tensors[i].role == OpRole::input && !args.paths[i].empty();
  progress.stage("reading inputs", static_cast<double>(inputs));
  for (std::size_t i = 0; i < s.tensors.size(); ++i) {
    if (s.tensors[i].role != OpRole::input || args.paths[i].empty()) continue;
    AAT_TRY(Tensor t, with_context(read_npy_tensor(context, args.paths[i]), option_of(s.tensors[i].name)));
    arguments.inputs.emplace_back(s.tensors[i].name, std::move(t));
    progress.advance(static_cast<double>(arguments.inputs.size()));
  }
  progress.stage(fmt::format("{} on {}", s.name, context->device().name));
  auto result = run_op(context, op, arguments);
  const auto messages = context->take_validation_messages();
  if (!messages.empty() || !result) progress.done();
  for (const auto& m : messages) fmt::print(stderr, "aat: {}\n", m);
  if (!result) return std::unexpected(std::move(result.error()));

  progress.stage("writing outputs");
  nlohmann::json outputs = nlohmann::json::object();
  std::string written;
  for (std::size_t i = 0, o = 0; i < s.tensors.size(); ++i) {
    if (s.tensors[i].role != OpRole::output) continue;
    const Tensor& t = result->outputs[o++].second;
    if (args.paths[i].empty()) continue;
    AAT_CHECK(with_context(write_npy(args.paths[i], t), option_of(s.tensors[i].name)));
    outputs[s.tensors[i].name] = {{"path", args.paths[i]}, {"dtype", to_string(t.dtype())}, {"shape", t.shape()}};
    written += fmt::format("; {} -> {} ({})", s.tensors[i].name, args.paths[i], t.describe());
  }
  progress.done();

  nlohmann::json report = nlohmann::json::parse(result->report);
  print_notes(report);
  const DeviceInfo& device = context->device();
  const bool timed = device.limits.timestamp_period_ns > 0;
  if (args.json) {
    report.erase("notes");
    report["kernel"] = s.name;
    report["plugin"] = op.plugin;
    report["device"] = device.name;
    report["device_index"] = device.index;
    report["gpu_ms"] = result->gpu_ms;
    report["timestamps"] = timed;
    report["outputs"] = outputs;
    if (report.contains("flops") && report["flops"].is_number())
      report["tflops"] = result->gpu_ms > 0 ? report["flops"].get<double>() / (result->gpu_ms * 1e9) : 0.0;
    fmt::print("{}\n", report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    // "attention: 0.5 GFLOP (Br=32 ...) on DEVICE: 1.234 ms on the GPU; out -> o.npy (f32[...])"
    const std::string summary = report.contains("summary") && report["summary"].is_string()
                                    ? ": " + report["summary"].get<std::string>()
                                    : std::string();
    fmt::print("{}{} on {}: {}{}\n", s.name, summary, device.name,
               timed ? fmt::format("{:.3f} ms on the GPU", result->gpu_ms) : "no GPU timer",
               written.empty() ? "; no outputs written" : written);
  }
  if (!messages.empty())
    return fail(ErrorCode::validation, fmt::format("the validation layer reported {} message(s)", messages.size()));
  return {};
}

}  // namespace

std::optional<int> run_op_command(GlobalOptions& global, const PluginOp& op, const PluginCommand* command,
                                  const std::vector<std::string>& rest) {
  OpArgs args;
  auto app = make_op_app(op, args, command);
  try {
    if (parse_run_arguments(*app, rest)) return 0;
  } catch (const CLI::ExtrasError& e) {
    if (command) return std::nullopt;  // options the op does not have: the plugin's command takes them
    report(global, Error(ErrorCode::parse, fmt::format("run {}: {} (see 'aat run {} --help')", op.signature.name,
                                                       e.what(), op.signature.name)));
    return 1;
  } catch (const CLI::ParseError& e) {
    report(global, Error(ErrorCode::parse, fmt::format("run {}: {} (see 'aat run {} --help')", op.signature.name,
                                                       e.what(), op.signature.name)));
    return 1;
  }
  if (auto done = run(global, op, args); !done) {
    report(global, done.error());
    return 1;
  }
  return 0;
}

}  // namespace aat::cli
