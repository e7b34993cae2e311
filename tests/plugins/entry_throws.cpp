// A plugin whose entry point throws: loading it is a plugin error, not a crash (tests/test_faults.cpp).
#include <stdexcept>

#include "aat/plugin_abi.h"

extern "C" __attribute__((visibility("default"))) const aat_plugin_descriptor* aat_plugin_entry(void) {
  throw std::runtime_error("entry point failed on purpose");
}
