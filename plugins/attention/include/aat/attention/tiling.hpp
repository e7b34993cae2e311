// optimize_tiling: how an attention problem is cut into workgroups on a given device.
#pragma once

#include <cstdint>
#include <string>

#include "aat/context.hpp"
#include "aat/dtype.hpp"

namespace aat::attention {

struct AttentionShape {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  DType dtype = DType::f32;
  bool causal = false;
};

enum class KernelPath {
  scalar,                 // any Vulkan device: f32 FMA in shared memory
  cooperative_matrix_nv,  // tensor cores through VK_NV_cooperative_matrix (f16, D = 64 or 128)
};
std::string_view to_string(KernelPath path);

struct Tiling {
  KernelPath path = KernelPath::scalar;
  std::uint32_t block_q = 16;         // Br: query rows per workgroup
  std::uint32_t block_kv = 32;        // Bc: keys per shared-memory tile
  std::uint32_t workgroup_size = 128; // invocations per workgroup
  std::uint32_t splits = 1;           // K-split count (flash-decoding); partial states merged exactly
  std::uint32_t shared_bytes = 0;     // shared memory the choice uses
  std::string reason;                 // why, in a sentence (reported by --json)

  std::string to_json() const;
};

// Picks Br, Bc, workgroup size and split count from the device's limits (shared memory,
// invocations, subgroup size, compute units) and the shape. Never exceeds a device limit.
// Splits Nk across workgroups when B * Hq * ceil(Nq / Br) cannot fill the device. Picks the
// cooperative-matrix path when the device offers it and the shape fits it, unless
// `allow_coopmat` is false.
Tiling optimize_tiling(const DeviceInfo& device, const AttentionShape& shape, bool allow_coopmat = true);

// Shared memory a tiling needs for head dim D (Q tile, K/V tile, score tile, row state).
std::uint32_t tiling_shared_bytes(std::uint32_t block_q, std::uint32_t block_kv, std::uint32_t head_dim);
std::uint32_t coopmat_shared_bytes(std::uint32_t block_kv, std::uint32_t head_dim);

// Whether the tensor-core path can run this shape on this device.
bool coopmat_supported(const DeviceInfo& device, const AttentionShape& shape);

// Workgroups the device can keep busy at once (compute units x a few), used for splitting.
std::uint32_t device_parallelism(const DeviceInfo& device);

}  // namespace aat::attention
