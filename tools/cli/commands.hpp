// Subcommands of the `aat` tool; each adds itself to the CLI11 app and runs in its callback.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "aat/context.hpp"
#include "aat/error.hpp"

namespace aat::cli {

struct GlobalOptions {
  std::string device;  // --device
  int exit_code = 0;
};

// Prints "aat: error: ..." to stderr and sets the exit code.
void report(GlobalOptions& global, const Error& error);
Expected<std::shared_ptr<Context>> open_context(const GlobalOptions& global);

void add_devices_command(CLI::App& app, GlobalOptions& global);
void add_reflect_command(CLI::App& app, GlobalOptions& global);

}  // namespace aat::cli
