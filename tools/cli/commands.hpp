// Subcommands of the `aat` tool; each adds itself to the CLI11 app and runs in its callback.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "aat/context.hpp"
#include "aat/error.hpp"
#include "aat/plugin.hpp"
#include "aat/shader.hpp"

namespace aat::cli {

struct GlobalOptions {
  std::string device;  // --device
  int exit_code = 0;
};

// What `aat version --json` prints.
nlohmann::json version_json();

// Prints "aat: error: ..." to stderr and sets the exit code.
void report(GlobalOptions& global, const Error& error);
// robust_buffer_access: enable it where the device offers it (ContextOptions::robust_buffer_access).
Expected<std::shared_ptr<Context>> open_context(const GlobalOptions& global, bool robust_buffer_access = false);
// `option`'s argument `text` split at its first '=' into two non-empty parts; else a parse error
// naming the option and the expected `form` ("NAME=VALUE").
Expected<std::pair<std::string, std::string>> assignment(const std::string& option, const std::string& text,
                                                          const char* form);
// GLSL compile options from -D arguments, NAME[=VALUE] each (VALUE "1" where none is given).
CompileOptions compile_options(const std::vector<std::string>& defines);

void add_devices_command(CLI::App& app, GlobalOptions& global);
void add_reflect_command(CLI::App& app, GlobalOptions& global);
// `aat run TARGET [args...]`: a shader file (.comp/.glsl/.spv) run with no C++ written, else a plugin command.
void add_run_command(CLI::App& app, GlobalOptions& global);
void add_plugins_command(CLI::App& app, GlobalOptions& global);
// `aat version [--json]`: framework version, shader compilers, kernel families compiled in.
void add_version_command(CLI::App& app, GlobalOptions& global);
// `aat run TARGET args...` where TARGET is not a shader file: the op named TARGET (bound from its
// signature), else the plugin command of that name given the arguments unparsed. Returns the
// exit code (errors already reported).
int run_plugin_command(GlobalOptions& global, const std::string& target, std::vector<std::string> args);
// Parses the arguments after `aat run TARGET` with `app` (a CLI11 parse error is thrown); --help
// prints the help and returns true: the command is done.
bool parse_run_arguments(CLI::App& app, const std::vector<std::string>& args);
// `aat run OP ...`: the op's options made from its signature. nullopt when an option is not the
// op's and `command` (the plugin's command of the same name) should take the arguments instead.
std::optional<int> run_op_command(GlobalOptions& global, const PluginOp& op, const PluginCommand* command,
                                  const std::vector<std::string>& args);

}  // namespace aat::cli
