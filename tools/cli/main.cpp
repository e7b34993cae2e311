// The `aat` command-line tool: a thin layer over the public API.
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.hpp"
#include "suggest.hpp"
#include "aat/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"aat - Adaptive Attention Tiling on Vulkan: attention and geometric kernels as Vulkan compute "
               "shaders on any device (GPU, or the CPU through lavapipe)."};
  app.set_version_flag("--version", std::string(aat::version()));
  app.require_subcommand(1);
  aat::cli::GlobalOptions global;
  app.add_option("--device", global.device,
                 "Device index or name substring (overrides AAT_DEVICE; default: the best GPU, then lavapipe)");

  aat::cli::add_devices_command(app, global);
  aat::cli::add_reflect_command(app, global);
  aat::cli::add_run_command(app, global);
  aat::cli::add_plugins_command(app, global);
  aat::cli::add_version_command(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const auto message = aat::cli::unknown_command_message(app, argc, argv)) {
      fmt::print(stderr, "aat: error: {}\n", *message);
      return 1;
    }
    return app.exit(e);
  }
  return global.exit_code;
}
