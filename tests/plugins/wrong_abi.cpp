// A plugin built against a future ABI: the host must refuse it, naming both versions.
#include "aat/plugin_abi.h"

extern "C" __attribute__((visibility("default"))) const aat_plugin_descriptor* aat_plugin_entry(void) {
  static const aat_plugin_descriptor descriptor = [] {
    aat_plugin_descriptor d{};
    d.abi_version = AAT_PLUGIN_ABI_VERSION + 41;
    d.descriptor_size = sizeof(aat_plugin_descriptor);
    d.name = "wrong_abi";
    return d;
  }();
  return &descriptor;
}
