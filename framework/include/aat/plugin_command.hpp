// For plugin authors: the shape every `aat run <command>` implementation shares — parse the
// arguments with CLI11, get the host's context (or open one on the requested device), run the
// body, print its error and return the exit code. Header-only; plugins link CLI11 themselves.
//
// Every command gets --quiet and --progress. A body taking (context, Progress&) reports its
// stages there (aat/progress.hpp: shown on stderr after a second, on a terminal or with
// --progress, never with --quiet); a body taking (context) alone is run as before.
#pragma once

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>

#include <CLI/CLI.hpp>

#include "aat/context.hpp"
#include "aat/op.hpp"
#include "aat/plugin_abi.h"
#include "aat/progress.hpp"

namespace aat {

template <class Body>
int run_plugin_command(CLI::App& app, const aat_host* host, int argc, const char* const* argv, Body&& body) {
  if (argc > 0) app.name(argv[0]);
  bool quiet = false, show_progress = false;  // (a command that declares these flags itself keeps its own)
  if (!app.get_option_no_throw("--quiet")) app.add_flag("--quiet", quiet, "No progress on stderr");
  if (!app.get_option_no_throw("--progress"))
    app.add_flag("--progress", show_progress,
                 "Progress on stderr (stage, elapsed, ETA) for runs over a second even when stderr is no terminal");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::shared_ptr<Context> context;
  if (host && host->abi_version == AAT_PLUGIN_ABI_VERSION && host->context) {
    context = context_of(host->context);
  } else {
    ContextOptions options;
    if (host && host->device) options.device = host->device;
    auto created = Context::create(options);
    if (!created) {
      std::fprintf(stderr, "aat: error: %s\n", created.error().what().c_str());
      return 1;
    }
    context = *created;
  }
  // An exception must not leave through the C ABI (the host catches one too, as a last resort).
  try {
    auto result = [&] {
      if constexpr (std::is_invocable_v<Body, const std::shared_ptr<Context>&, Progress&>) {
        std::string task(app.get_name());
        if (task.starts_with("aat run ")) task.erase(0, 8);
        Progress progress(Progress::choose(quiet, show_progress), task);
        return body(context, progress);
      } else {
        return body(context);
      }
    }();
    if (!result) {
      std::fprintf(stderr, "aat: error: %s\n", result.error().what().c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aat: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace aat
