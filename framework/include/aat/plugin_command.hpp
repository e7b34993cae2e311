// For plugin authors: the shape every `aat run <command>` implementation shares — parse the
// arguments with CLI11, get the host's context (or open one on the requested device), run the
// body, print its error and return the exit code. Header-only; plugins link CLI11 themselves.
#pragma once

#include <cstdio>
#include <exception>
#include <memory>

#include <CLI/CLI.hpp>

#include "aat/context.hpp"
#include "aat/plugin_abi.h"

namespace aat {

template <class Body>
int run_plugin_command(CLI::App& app, const aat_host* host, int argc, const char* const* argv, Body&& body) {
  if (argc > 0) app.name(argv[0]);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::shared_ptr<Context> context;
  if (host && host->abi_version == AAT_PLUGIN_ABI_VERSION && host->context) {
    context = *static_cast<const std::shared_ptr<Context>*>(host->context);
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
    auto result = body(context);
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
