// A plugin whose kernel carries words that are not SPIR-V: refused before reflection.
#include "aat/plugin_abi.h"

namespace {
const uint32_t kNotSpirv[] = {0xdeadbeef, 1, 2, 3, 4, 5};
const aat_plugin_kernel kKernels[] = {{"broken", "broken.comp", kNotSpirv, 6}};
}  // namespace

extern "C" __attribute__((visibility("default"))) const aat_plugin_descriptor* aat_plugin_entry(void) {
  static const aat_plugin_descriptor descriptor = [] {
    aat_plugin_descriptor d{};
    d.abi_version = AAT_PLUGIN_ABI_VERSION;
    d.descriptor_size = sizeof(aat_plugin_descriptor);
    d.name = "bad_spirv";
    d.version = "0";
    d.description = "";
    d.kernels = kKernels;
    d.kernel_count = 1;
    return d;
  }();
  return &descriptor;
}
