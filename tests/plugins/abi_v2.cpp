// A plugin built against ABI version 2 (before ops; its host struct carried a C++ shared_ptr):
// the host must refuse it before reading anything past the version, naming both versions.
#include <cstddef>
#include <cstdint>

namespace {

// The version-2 descriptor, as that ABI laid it out.
struct DescriptorV2 {
  std::uint32_t abi_version;
  std::uint32_t descriptor_size;
  const char* name;
  const char* version;
  const char* description;
  const void* kernels;
  std::size_t kernel_count;
  const void* commands;
  std::size_t command_count;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const void* aat_plugin_entry(void) {
  static const DescriptorV2 descriptor{2u, sizeof(DescriptorV2), "old_abi", "0.1.0", "built for ABI 2",
                                       nullptr, 0, nullptr, 0};
  return &descriptor;
}
