#include "aat/attention/tiling.hpp"

#include <algorithm>
#include <bit>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aat::attention {

namespace {

std::uint32_t pow2_at_least(std::int64_t n) {
  return std::bit_ceil(static_cast<std::uint32_t>(std::clamp<std::int64_t>(n, 1, 1 << 20)));
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

std::uint32_t tiling_shared_bytes(std::uint32_t block_q, std::uint32_t block_kv, std::uint32_t head_dim) {
  // sQ[Br*D] + sKV[Bc*(D+1)] + sS[Br*Bc] + three per-row floats, all f32.
  return 4 * (block_q * head_dim + block_kv * (head_dim + 1) + block_q * block_kv + 3 * block_q);
}

std::string_view to_string(KernelPath path) {
  return path == KernelPath::cooperative_matrix_nv ? "cooperative_matrix_nv" : "scalar";
}

std::uint32_t coopmat_shared_bytes(std::uint32_t block_kv, std::uint32_t head_dim) {
  // attention_coopmat.glsl: sKV (padded uvec4 rows), sS (f32, +4), sP (f16, +8), row state, row-index matrix.
  constexpr std::uint32_t block_q = 64;
  return block_kv * (head_dim / 8 + 1) * 16 + block_q * (block_kv + 4) * 4 + block_q * (block_kv + 8) * 2 +
         3 * block_q * 4 + 16 * 16 * 4;
}

bool coopmat_supported(const DeviceInfo& device, const AttentionShape& shape) {
  return device.features.cooperative_matrix_nv && device.features.shader_float16 &&
         device.features.storage_buffer_16bit && shape.dtype == DType::f16 &&
         (shape.head_dim == 64 || shape.head_dim == 128) && device.limits.max_workgroup_invocations >= 128 &&
         device.limits.subgroup_size == 32 && coopmat_shared_bytes(32, static_cast<std::uint32_t>(shape.head_dim)) <=
                                                   device.limits.max_shared_memory_bytes;
}

std::uint32_t device_parallelism(const DeviceInfo& device) {
  if (device.limits.compute_units) return device.limits.compute_units * 4;  // a few workgroups per SM
  if (device.type == DeviceType::cpu) return std::max(1u, std::thread::hardware_concurrency());
  return 64;  // an unknown GPU: assume a mid-size part
}

namespace {

void choose_scalar_tiles(const DeviceLimits& limits, std::uint32_t head_dim, const AttentionShape& shape, Tiling& t) {

  // Largest Br first (each K/V tile is reused by more rows), then the largest Bc that fits;
  // neither larger than the problem needs.
  const std::uint32_t br_max = std::min<std::uint32_t>(32, pow2_at_least(shape.q_len));
  const std::uint32_t bc_max = std::min<std::uint32_t>(64, std::max<std::uint32_t>(8, pow2_at_least(shape.kv_len)));
  bool found = false;
  for (std::uint32_t br = br_max; br >= 1 && !found; br /= 2) {
    for (std::uint32_t bc = bc_max; bc >= 8 && !found; bc /= 2) {
      if (tiling_shared_bytes(br, bc, head_dim) <= limits.max_shared_memory_bytes && bc >= std::min(br, 16u)) {
        t.block_q = br;
        t.block_kv = bc;
        found = true;
      }
    }
  }
  if (!found) {  // tiny shared memory: the smallest tile
    t.block_q = 1;
    t.block_kv = 8;
  }
  t.shared_bytes = tiling_shared_bytes(t.block_q, t.block_kv, head_dim);

  // Workgroup: up to 128 invocations, a whole number of subgroups, no more than the rows x D
  // outputs it owns.
  const std::uint32_t subgroup = std::max<std::uint32_t>(1, limits.subgroup_size);
  std::uint32_t size = std::min<std::uint32_t>({128u, limits.max_workgroup_invocations, limits.max_workgroup_size[0],
                                                t.block_q * head_dim});
  size = std::max(subgroup, size / subgroup * subgroup);
  t.workgroup_size = std::min(size, limits.max_workgroup_invocations);
}

// Split Nk when the (batch, head, query-tile) grid leaves the device idle: decode shapes.
void choose_splits(const DeviceInfo& device, const AttentionShape& shape, Tiling& t, std::string& why) {
  const std::uint64_t groups =
      static_cast<std::uint64_t>(shape.batch * shape.q_heads) * ceil_div(static_cast<std::uint64_t>(shape.q_len), t.block_q);
  const std::uint64_t tiles = ceil_div(static_cast<std::uint64_t>(std::max<std::int64_t>(shape.kv_len, 1)), t.block_kv);
  const std::uint32_t parallelism = device_parallelism(device);
  // lavapipe (Mesa 22.3) returns wrong results when one workgroup does more than ~14 MFLOP
  // (seen: N = 1800, D = 64 unsplit). On CPU devices each split covers at most 1024 keys,
  // i.e. at most Br x 1024 x D x 4 <= 8.4 MFLOP for every tiling this file picks.
  if (device.type == DeviceType::cpu && shape.kv_len > 1024) {
    const std::uint64_t cap = 1024 / t.block_kv;
    const std::uint64_t per_split = std::min<std::uint64_t>(cap, tiles);
    t.splits = static_cast<std::uint32_t>(ceil_div(tiles, per_split));
    why += fmt::format("; CPU device: {} splits of at most 1024 keys (a lavapipe workaround)", t.splits);
    return;
  }
  if (groups > 0 && groups < parallelism && tiles >= 4) {
    const std::uint64_t wanted = ceil_div(parallelism, groups);
    const std::uint64_t splits = std::min<std::uint64_t>({wanted, tiles / 2, 64});
    if (splits > 1) {
      const std::uint64_t per_split = ceil_div(tiles, splits);
      t.splits = static_cast<std::uint32_t>(ceil_div(tiles, per_split));
      why += fmt::format("; {} workgroups cannot fill {} slots, so {} K tiles are split {} ways", groups, parallelism,
                         tiles, t.splits);
    }
  }
}

}  // namespace

Tiling optimize_tiling(const DeviceInfo& device, const AttentionShape& shape, bool allow_coopmat) {
  const auto& limits = device.limits;
  const auto head_dim = static_cast<std::uint32_t>(shape.head_dim);
  Tiling t;
  std::string why;
  if (allow_coopmat && coopmat_supported(device, shape)) {
    // Four subgroups x 16 query rows; the largest key tile that fits shared memory.
    t.path = KernelPath::cooperative_matrix_nv;
    t.block_q = 64;
    t.block_kv = coopmat_shared_bytes(64, head_dim) <= limits.max_shared_memory_bytes ? 64 : 32;
    t.workgroup_size = 128;
    t.shared_bytes = coopmat_shared_bytes(t.block_kv, head_dim);
    why = fmt::format("tensor cores (NV cooperative matrix 16x16x16, f16 -> f32); Bc={} uses {} of {} bytes of "
                      "shared memory", t.block_kv, t.shared_bytes, limits.max_shared_memory_bytes);
  } else {
    choose_scalar_tiles(limits, head_dim, shape, t);
    why = fmt::format("Br={} Bc={} fit {} of {} bytes of shared memory", t.block_q, t.block_kv, t.shared_bytes,
                      limits.max_shared_memory_bytes);
  }
  choose_splits(device, shape, t, why);
  t.reason = why;
  return t;
}

std::string Tiling::to_json() const {
  return nlohmann::json{{"path", to_string(path)},
                        {"block_q", block_q},
                        {"block_kv", block_kv},
                        {"workgroup_size", workgroup_size},
                        {"splits", splits},
                        {"shared_bytes", shared_bytes},
                        {"reason", reason}}
      .dump();
}

}  // namespace aat::attention
