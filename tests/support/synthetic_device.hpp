// A DeviceInfo with chosen limits and no Vulkan device behind it: for the pure-CPU tests of
// tiling rules (which read only the limits).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "aat/context.hpp"

namespace aat::testing {

inline DeviceInfo synthetic_device(std::string name, DeviceType type, std::uint32_t shared_bytes,
                                   std::uint32_t invocations, std::uint32_t subgroup, std::uint32_t compute_units) {
  DeviceInfo d;
  d.name = std::move(name);
  d.type = type;
  d.limits.max_shared_memory_bytes = shared_bytes;
  d.limits.max_workgroup_invocations = invocations;
  d.limits.max_workgroup_size[0] = invocations;
  d.limits.max_workgroup_size[1] = invocations;
  d.limits.max_workgroup_size[2] = 64;
  d.limits.max_workgroup_count[0] = d.limits.max_workgroup_count[1] = d.limits.max_workgroup_count[2] = 65535;
  d.limits.subgroup_size = d.limits.min_subgroup_size = d.limits.max_subgroup_size = subgroup;
  d.limits.compute_units = compute_units;
  d.limits.max_push_constant_bytes = 128;
  return d;
}

// The two limits the pinned tilings are checked on: lavapipe's 32 KiB (a CPU device with 8-lane
// subgroups) and the 48 KiB an NVIDIA GPU gives a kernel that does not opt in to more.
inline DeviceInfo lavapipe_like() { return synthetic_device("llvmpipe-like", DeviceType::cpu, 32 * 1024, 1024, 8, 0); }
inline DeviceInfo nvidia_like_48k() {
  return synthetic_device("H100-like 48K", DeviceType::discrete_gpu, 48 * 1024, 1024, 32, 132);
}

}  // namespace aat::testing
