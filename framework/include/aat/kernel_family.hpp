// Kernel families: what a kernel needs of the shader compiler and of the device. A kernel
// states its family (`// REQUIRES: coopmat2` in its GLSL); the build compiles the families its
// compilers support, and at run time a plugin picks the best family the device can run.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "aat/context.hpp"

namespace aat {

enum class KernelFamily {
  scalar,       // plain GLSL: any Vulkan 1.2 device
  coopmat_nv,   // VK_NV_cooperative_matrix (subgroup scope)
  coopmat_khr,  // VK_KHR_cooperative_matrix (subgroup scope; NVIDIA, AMD, Intel)
  coopmat2,     // VK_NV_cooperative_matrix2: workgroup scope, reductions, per-element ops, tensor loads
};

std::string_view to_string(KernelFamily family);
std::optional<KernelFamily> parse_kernel_family(std::string_view name);
inline constexpr KernelFamily kAllKernelFamilies[] = {KernelFamily::scalar, KernelFamily::coopmat_nv,
                                                      KernelFamily::coopmat_khr, KernelFamily::coopmat2};

// Whether the device offers every feature kernels of `family` use (16-bit storage, float16 and
// the Vulkan memory model for the tensor-core families; all coopmat2 features for coopmat2).
bool can_run(const DeviceInfo& device, KernelFamily family);

// The families the device can run, scalar first.
std::vector<KernelFamily> runnable_kernel_families(const DeviceInfo& device);

}  // namespace aat
