#include "aat/kernel_family.hpp"

namespace aat {

std::string_view to_string(KernelFamily family) {
  switch (family) {
    case KernelFamily::scalar: return "scalar";
    case KernelFamily::coopmat_nv: return "coopmat_nv";
    case KernelFamily::coopmat_khr: return "coopmat_khr";
    case KernelFamily::coopmat2: return "coopmat2";
  }
  return "scalar";
}

std::optional<KernelFamily> parse_kernel_family(std::string_view name) {
  for (KernelFamily family : kAllKernelFamilies)
    if (to_string(family) == name) return family;
  return std::nullopt;
}

bool can_run(const DeviceInfo& device, KernelFamily family) {
  const DeviceFeatures& f = device.features;
  const bool half = f.shader_float16 && f.storage_buffer_16bit;
  switch (family) {
    case KernelFamily::scalar: return true;
    case KernelFamily::coopmat_nv: return f.cooperative_matrix_nv && half && f.vulkan_memory_model;
    case KernelFamily::coopmat_khr: return f.cooperative_matrix_khr && half && f.vulkan_memory_model;
    case KernelFamily::coopmat2:
      return f.cooperative_matrix_khr && f.cooperative_matrix2.all() && half && f.vulkan_memory_model;
  }
  return false;
}

std::vector<KernelFamily> runnable_kernel_families(const DeviceInfo& device) {
  std::vector<KernelFamily> out;
  for (KernelFamily family : kAllKernelFamilies)
    if (can_run(device, family)) out.push_back(family);
  return out;
}

}  // namespace aat
