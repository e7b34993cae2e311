// A plugin whose commands throw C++ exceptions out through the C ABI: the host must report the
// failure (aat run: exit code 1 and the message), never crash (tests/test_faults.cpp,
// tests/cli/test_cli_faults.sh).
#include <stdexcept>

#include "aat/plugin_abi.h"

namespace {

int throw_std(const aat_host*, int, const char* const*) {
  throw std::runtime_error("the throwing test plugin threw on purpose");
}

int throw_other(const aat_host*, int, const char* const*) { throw 42; }

const aat_plugin_command kCommands[] = {{"throw-std", "throws std::runtime_error", &throw_std},
                                        {"throw-other", "throws an int", &throw_other}};

}  // namespace

extern "C" __attribute__((visibility("default"))) const aat_plugin_descriptor* aat_plugin_entry(void) {
  static const aat_plugin_descriptor descriptor = [] {
    aat_plugin_descriptor d{};
    d.abi_version = AAT_PLUGIN_ABI_VERSION;
    d.descriptor_size = sizeof(aat_plugin_descriptor);
    d.name = "throws";
    d.version = "0";
    d.description = "commands that throw";
    d.commands = kCommands;
    d.command_count = 2;
    return d;
  }();
  return &descriptor;
}
