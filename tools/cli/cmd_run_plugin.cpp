// `aat run TARGET args...` when TARGET is not a shader file: the op of that name (cmd_run_op.cpp),
// else the plugin command of that name, found through the plugin registry (AAT_PLUGIN_PATH, then
// the build's or install's plugins).
#include <algorithm>
#include <exception>

#include <fmt/format.h>

#include "aat/plugin.hpp"
#include "commands.hpp"
#include "suggest.hpp"

namespace aat::cli {

int run_plugin_command(GlobalOptions& global, const std::string& target, std::vector<std::string> args) {
  const auto registry = PluginRegistry::discover();
  const Plugin* owner = nullptr;
  const PluginCommand* command = registry.find_command(target, &owner);
  if (const PluginOp* op = registry.find_op(target)) {
    if (auto done = run_op_command(global, *op, command, args)) {
      global.exit_code = *done;
      return *done;
    }
  }
  if (!command) {
    std::string known;
    std::vector<std::string> names;
    for (const PluginOp* op : registry.ops()) {
      known += (known.empty() ? "" : ", ") + op->signature.name;
      names.push_back(op->signature.name);
    }
    for (const auto& plugin : registry.plugins())
      for (const auto& c : plugin.commands) {
        if (std::find(names.begin(), names.end(), c.name) != names.end()) continue;
        known += (known.empty() ? "" : ", ") + c.name;
        names.push_back(c.name);
      }
    std::string problems;
    for (const auto& problem : registry.problems()) problems += "\n  skipped: " + problem.error.what();
    const auto guess = closest_name(target, names);
    report(global, Error(ErrorCode::not_found,
                         fmt::format("no shader file, op or plugin command named '{}'{} (a shader file ends in .comp, "
                                     ".glsl or .spv); ops and plugin commands: {}{}",
                                     target, guess ? fmt::format("; did you mean '{}'?", *guess) : std::string(),
                                     known.empty() ? "none found" : known, problems)));
    return 1;
  }
  const std::string program = "aat run " + target;
  std::vector<const char*> argv{program.c_str()};
  for (const auto& a : args) argv.push_back(a.c_str());
  const aat_host host{AAT_PLUGIN_ABI_VERSION, global.device.c_str(), nullptr};  // the command opens its context
  // The plugin boundary: a command that throws (a C++ plugin whose code lets an exception out
  // through the C ABI) is reported as a plugin error with exit code 1, never a crash of the CLI.
  const std::string what = fmt::format("plugin '{}' command '{}'", owner->name, target);
  try {
    global.exit_code = command->run(&host, static_cast<int>(argv.size()), argv.data());
  } catch (const std::exception& e) {
    report(global, Error(ErrorCode::plugin, fmt::format("{} threw an exception: {}", what, e.what())));
  } catch (...) {
    report(global, Error(ErrorCode::plugin, what + " threw an exception that is not a std::exception"));
  }
  return global.exit_code;
}

}  // namespace aat::cli
