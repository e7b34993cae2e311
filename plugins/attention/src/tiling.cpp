#include "aat/attention/tiling.hpp"

#include "aat/attention/loop_limit.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/kernel.hpp"
#include "aat/kernel_family.hpp"
#include "attention/attention_cm2.bindings.hpp"
#include "attention/attention_coopmat_d128.bindings.hpp"
#include "attention/attention_coopmat_d64.bindings.hpp"
#include "attention/attention_coopmat_khr_d128.bindings.hpp"
#include "attention/attention_coopmat_khr_d64.bindings.hpp"
#include "attention/attention_decode_f16.bindings.hpp"
#include "attention/attention_f16.bindings.hpp"
#include "attention/attention_f32.bindings.hpp"

namespace aat::attention {

namespace {

std::uint32_t pow2_at_least(std::int64_t n) {
  return std::bit_ceil(static_cast<std::uint32_t>(std::clamp<std::int64_t>(n, 1, 1 << 20)));
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

// Four subgroups of 32: what the coopmat2 kernel's default tiles are tuned for.
constexpr std::uint32_t kCoopmat2Workgroup = 128;
// Row statistics 16 columns wide, row sums of P on the tensor cores: 6-14% faster than variant 1
// (row sums on the tensor cores, statistics a tile wide) on the H200, which was 3-31% faster
// than variant 0 (docs/performance.md, "Tile sweep").
constexpr std::uint32_t kCoopmat2DefaultVariant = 2;

// Query rows from which D <= 64 causal attention takes 128-row tiles on the coopmat2 path.
constexpr std::int64_t kCoopmat2TallTileMinRows = 16384;

// The subgroup-scope tensor-core kernels' query tile, compiled into them.
constexpr std::uint32_t kCoopmatRows = 64;

template <class Specialization>
Expected<std::uint64_t> scalar_shared_bytes(Tile tile, std::uint32_t head_dim) {
  return Specialization{.BLOCK_Q = tile.block_q, .BLOCK_KV = tile.block_kv, .HEAD_DIM = head_dim}.shared_bytes();
}

// D = 64 has a kernel of its own; every other D runs the D = 128 one (as attention.cpp picks).
template <class D64, class D128>
Expected<std::uint64_t> coopmat_shared_bytes(std::uint32_t block_kv, std::uint32_t head_dim) {
  const auto set = [&](auto& s) { s.BLOCK_KV = block_kv; };
  return head_dim == 64 ? specialization_shared_bytes<D64>(set) : specialization_shared_bytes<D128>(set);
}

// Narrows a reflected count that fits a device limit (a 32-bit value) into Tiling::shared_bytes.
std::uint32_t narrow(std::uint64_t bytes) { return static_cast<std::uint32_t>(std::min<std::uint64_t>(bytes, UINT32_MAX)); }

// The bytes where the kernel can tell, else "more than any limit" (it cannot run here).
std::uint64_t bytes_or_unbounded(const Expected<std::uint64_t>& bytes) { return bytes ? *bytes : UINT64_MAX; }

}  // namespace

Expected<std::uint64_t> forward_shared_bytes(KernelPath path, DType dtype, Tile tile, std::uint32_t head_dim) {
  namespace gen = plugin_gen::attention;
  switch (path) {
    case KernelPath::scalar:
      return dtype == DType::f16 ? scalar_shared_bytes<gen::attention_f16::Specialization>(tile, head_dim)
                                 : scalar_shared_bytes<gen::attention_f32::Specialization>(tile, head_dim);
    case KernelPath::cooperative_matrix_nv:
      return coopmat_shared_bytes<gen::attention_coopmat_d64::Specialization, gen::attention_coopmat_d128::Specialization>(
          tile.block_kv, head_dim);
    case KernelPath::cooperative_matrix_khr:
      return coopmat_shared_bytes<gen::attention_coopmat_khr_d64::Specialization,
                                  gen::attention_coopmat_khr_d128::Specialization>(tile.block_kv, head_dim);
    case KernelPath::decode:
      return gen::attention_decode_f16::Specialization{
          .local_size_x = tile.block_kv, .ROWS = tile.block_q, .BLOCK_KV = tile.block_kv, .HEAD_DIM = head_dim}
          .shared_bytes();
    case KernelPath::cooperative_matrix2: return 0;
  }
  return 0;
}

std::string_view to_string(KernelPath path) {
  switch (path) {
    case KernelPath::scalar: return "scalar";
    case KernelPath::cooperative_matrix_nv: return "cooperative_matrix_nv";
    case KernelPath::cooperative_matrix_khr: return "cooperative_matrix_khr";
    case KernelPath::cooperative_matrix2: return "cooperative_matrix2";
    case KernelPath::decode: return "decode";
  }
  return "scalar";
}

std::optional<KernelPath> parse_kernel_path(std::string_view name) {
  for (KernelPath path : kKernelPathsFastestFirst)
    if (to_string(path) == name) return path;
  return std::nullopt;
}

bool coopmat_supported(const DeviceInfo& device, const AttentionShape& shape, bool khr) {
  const auto& limits = device.limits;
  // The kernel is written for 32-lane subgroups: the device's default, or one it can be asked for.
  const bool lanes32 = limits.subgroup_size == 32 || (device.features.subgroup_size_control &&
                                                      limits.min_subgroup_size <= 32 && limits.max_subgroup_size >= 32);
  return path_compiled(khr ? KernelPath::cooperative_matrix_khr : KernelPath::cooperative_matrix_nv) &&
         can_run(device, khr ? KernelFamily::coopmat_khr : KernelFamily::coopmat_nv) && device.features.subgroup_shuffle &&
         shape.dtype == DType::f16 &&
         (shape.head_dim == 64 || shape.head_dim == 128) && limits.max_workgroup_invocations >= 128 && lanes32 &&
         bytes_or_unbounded(forward_shared_bytes(khr ? KernelPath::cooperative_matrix_khr : KernelPath::cooperative_matrix_nv,
                                                 shape.dtype, {kCoopmatRows, 32},
                                                 static_cast<std::uint32_t>(shape.head_dim))) <=
             limits.max_shared_memory_bytes;
}

bool coopmat2_supported(const DeviceInfo& device, const AttentionShape& shape) {
  return path_compiled(KernelPath::cooperative_matrix2) && can_run(device, KernelFamily::coopmat2) &&
         shape.dtype == DType::f16 && shape.head_dim % 8 == 0 && shape.head_dim <= 256 &&
         device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size >= kCoopmat2Workgroup &&
         device.limits.max_workgroup_invocations >= kCoopmat2Workgroup;
}

std::uint32_t decode_rows(const AttentionShape& shape) {
  return static_cast<std::uint32_t>(shape.q_heads / std::max<std::int64_t>(1, shape.kv_heads) * shape.q_len);
}

bool decode_supported(const DeviceInfo& device, const AttentionShape& shape) {
  const auto& limits = device.limits;
  const std::uint32_t subgroup = limits.subgroup_size;
  // One subgroup is the workgroup and the chunk: its size must be fixed, or fixable.
  const bool fixed_subgroup = limits.min_subgroup_size == limits.max_subgroup_size || device.features.subgroup_size_control;
  const auto& f = device.features;
  return shape.dtype == DType::f16 && f.shader_float16 && f.storage_buffer_16bit && f.subgroup_shuffle &&
         shape.head_dim % 8 == 0 && shape.head_dim <= 256 && shape.q_len >= 1 && decode_rows(shape) >= 1 &&
         decode_rows(shape) <= kDecodeMaxRows && subgroup >= 4 && subgroup <= 128 && fixed_subgroup &&
         bytes_or_unbounded(forward_shared_bytes(KernelPath::decode, shape.dtype, {decode_rows(shape), subgroup},
                                                 static_cast<std::uint32_t>(shape.head_dim))) <=
             limits.max_shared_memory_bytes;
}

bool path_compiled(KernelPath path) {
  switch (path) {
    case KernelPath::cooperative_matrix2: return plugin_gen::attention::attention_cm2::compiled;
    case KernelPath::cooperative_matrix_khr: return plugin_gen::attention::attention_coopmat_khr_d64::compiled;
    default: return true;  // plain GLSL and GL_NV_cooperative_matrix: every compiler here builds them
  }
}

bool path_supported(const DeviceInfo& device, const AttentionShape& shape, KernelPath path) {
  switch (path) {
    case KernelPath::scalar: return true;
    case KernelPath::cooperative_matrix_nv: return coopmat_supported(device, shape);
    case KernelPath::cooperative_matrix_khr: return coopmat_supported(device, shape, true);
    case KernelPath::cooperative_matrix2: return coopmat2_supported(device, shape);
    case KernelPath::decode: return decode_supported(device, shape);
  }
  return false;
}

std::uint32_t device_parallelism(const DeviceInfo& device) {
  if (device.limits.compute_units) return device.limits.compute_units * 4;  // a few workgroups per SM
  if (device.type == DeviceType::cpu) return std::max(1u, std::thread::hardware_concurrency());
  return 64;  // an unknown GPU: assume a mid-size part
}

namespace {

void choose_scalar_tiles(const DeviceLimits& limits, std::uint32_t head_dim, const AttentionShape& shape, Tiling& t) {
  // Largest Br first (each K/V tile is reused by more rows), then the largest Bc that fits;
  // neither larger than the problem needs, and Bc no smaller than min(Br, 16).
  const std::uint32_t br_max = std::min<std::uint32_t>(32, pow2_at_least(shape.q_len));
  const std::uint32_t bc_max = std::min<std::uint32_t>(64, std::max<std::uint32_t>(8, pow2_at_least(shape.kv_len)));
  std::vector<Tile> candidates;
  for (std::uint32_t br = br_max; br >= 1; br /= 2)
    for (std::uint32_t bc = bc_max; bc >= 8; bc /= 2)
      if (bc >= std::min(br, 16u)) candidates.push_back({br, bc});
  const auto bytes = [&](const Tile& tile) { return forward_shared_bytes(KernelPath::scalar, shape.dtype, tile, head_dim); };
  auto fit = first_fitting_tile(candidates, limits.max_shared_memory_bytes, bytes);
  if (!fit) {  // tiny shared memory: the smallest tile (Kernel::create then names what it lacks)
    const Tile smallest{1, 8};
    fit = TileFit{smallest, bytes_or_unbounded(bytes(smallest))};
  }
  t.block_q = fit->tile.block_q;
  t.block_kv = fit->tile.block_kv;
  t.shared_bytes = narrow(fit->shared_bytes);

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
  const bool decode = t.path == KernelPath::decode;
  const std::uint64_t groups =
      decode ? static_cast<std::uint64_t>(shape.batch * shape.kv_heads)
             : static_cast<std::uint64_t>(shape.batch * shape.q_heads) *
                   ceil_div(static_cast<std::uint64_t>(shape.q_len), t.block_q);
  const std::uint64_t tiles = ceil_div(static_cast<std::uint64_t>(std::max<std::int64_t>(shape.kv_len, 1)), t.block_kv);
  // Decode workgroups are one subgroup each: a device holds many more of them at once.
  const std::uint64_t parallelism = std::uint64_t{device_parallelism(device)} * (decode ? 8 : 1);
  // llvmpipe ends every loop of an invocation after 65535 iterations in all (loop_limit.hpp):
  // on a CPU device each split streams no more key tiles than that budget allows. More splits
  // may still follow below, to fill the device.
  if (const std::uint32_t needed = min_splits(device, shape, t); needed > 1) {
    t.splits = needed;
    why += fmt::format("; CPU device: {} splits of at most {} keys (llvmpipe's loop limit)", t.splits,
                       ceil_div(tiles, needed) * t.block_kv);
  }
  if (groups > 0 && groups * t.splits < parallelism && tiles >= 4) {
    const std::uint64_t wanted = ceil_div(parallelism, groups);
    const std::uint64_t splits = std::min<std::uint64_t>({wanted, decode ? tiles : tiles / 2, std::uint64_t{decode ? 256u : 64u}});
    if (splits > t.splits) {
      const std::uint64_t per_split = ceil_div(tiles, splits);
      t.splits = static_cast<std::uint32_t>(ceil_div(tiles, per_split));
      why += fmt::format("; {} workgroups cannot fill {} slots, so {} K tiles are split {} ways", groups, parallelism,
                         tiles, t.splits);
    }
  }
}

}  // namespace

Tiling optimize_tiling_for(const DeviceInfo& device, const AttentionShape& shape, KernelPath path) {
  const auto& limits = device.limits;
  const auto head_dim = static_cast<std::uint32_t>(shape.head_dim);
  Tiling t;
  t.path = path;
  std::string why;
  switch (path) {
    case KernelPath::cooperative_matrix2:
      // Workgroup-scope matrices: 64 query rows over four subgroups; 64 keys a tile, 32 past
      // D = 128 where the row's registers (O, P, S) would spill. The driver stages operands.
      // At D <= 64, causal and long, 128 rows over eight subgroups (each K/V tile feeds twice the
      // rows): 211 TFLOP/s on the H200 at N = 16k against 196-199 with 64 rows; no gain
      // non-causal, and shorter N is not measured cleanly yet (docs/performance.md).
      t.block_q = 64;
      t.block_kv = head_dim <= 128 ? 64 : 32;
      t.workgroup_size = kCoopmat2Workgroup;
      if (head_dim <= 64 && shape.causal && shape.q_len >= kCoopmat2TallTileMinRows &&
          device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size >= 2 * kCoopmat2Workgroup) {
        t.block_q = 128;
        t.workgroup_size = 2 * kCoopmat2Workgroup;
      }
      t.shared_bytes = 0;
      t.variant = kCoopmat2DefaultVariant;
      why = fmt::format("tensor cores (NV cooperative matrix 2, workgroup scope, softmax in registers); "
                        "Br={} Bc={} over {} invocations", t.block_q, t.block_kv, t.workgroup_size);
      break;
    case KernelPath::cooperative_matrix_nv:
    case KernelPath::cooperative_matrix_khr: {
      // Four subgroups x 16 query rows; the largest key tile that fits shared memory, else 32.
      constexpr Tile kCandidates[] = {{kCoopmatRows, 64}, {kCoopmatRows, 32}};
      const auto bytes = [&](const Tile& tile) { return forward_shared_bytes(path, shape.dtype, tile, head_dim); };
      const auto fit = first_fitting_tile(kCandidates, limits.max_shared_memory_bytes, bytes);
      t.block_q = kCoopmatRows;
      t.block_kv = fit ? fit->tile.block_kv : 32;
      t.workgroup_size = 128;
      t.shared_bytes = narrow(fit ? fit->shared_bytes : bytes_or_unbounded(bytes({kCoopmatRows, 32})));
      why = fmt::format("tensor cores ({} cooperative matrix 16x16x16, f16 -> f32); Bc={} uses {} of {} bytes of "
                        "shared memory", path == KernelPath::cooperative_matrix_khr ? "KHR" : "NV", t.block_kv,
                        t.shared_bytes, limits.max_shared_memory_bytes);
      break;
    }
    case KernelPath::scalar:
      choose_scalar_tiles(limits, head_dim, shape, t);
      why = fmt::format("Br={} Bc={} fit {} of {} bytes of shared memory", t.block_q, t.block_kv, t.shared_bytes,
                        limits.max_shared_memory_bytes);
      break;
    case KernelPath::decode:
      // One subgroup per (batch, K/V head, split): every row of the head, a chunk of subgroup-size keys.
      t.block_q = decode_rows(shape);
      t.block_kv = limits.subgroup_size;
      t.workgroup_size = limits.subgroup_size;
      t.shared_bytes = narrow(bytes_or_unbounded(forward_shared_bytes(path, shape.dtype, {t.block_q, t.block_kv}, head_dim)));
      why = fmt::format("flash-decoding: {} query rows per K/V head, chunks of {} keys, one subgroup per split",
                        t.block_q, t.block_kv);
      break;
  }
  choose_splits(device, shape, t, why);
  t.reason = why;
  return t;
}

std::uint32_t coopmat2_column_granule(std::uint32_t workgroup_size) { return workgroup_size >= 256 ? 32 : 16; }

std::optional<AttentionShape> pack_gqa_rows(const AttentionShape& shape, KernelPath path, bool bias) {
  if (path != KernelPath::cooperative_matrix2 || shape.q_heads <= shape.kv_heads || bias) return std::nullopt;
  if (shape.causal && shape.q_len != 1) return std::nullopt;
  AttentionShape packed = shape;
  packed.q_len = shape.q_len * (shape.q_heads / shape.kv_heads);
  packed.q_heads = shape.kv_heads;
  packed.causal = false;  // one row, bottom-right aligned: it sees every key
  return packed;
}

Tiling optimize_tiling(const DeviceInfo& device, const AttentionShape& shape, bool allow_coopmat) {
  if (allow_coopmat && decode_rows(shape) <= kDecodeFirstRows && path_supported(device, shape, KernelPath::decode))
    return optimize_tiling_for(device, shape, KernelPath::decode);
  for (KernelPath path : kKernelPathsFastestFirst) {
    if (path == KernelPath::decode && decode_rows(shape) > kDecodePreferredRows) continue;
    if ((allow_coopmat || path == KernelPath::scalar) && path_supported(device, shape, path))
      return optimize_tiling_for(device, shape, path);
  }
  return optimize_tiling_for(device, shape, KernelPath::scalar);
}

Expected<Tiling> apply_override(const DeviceInfo& device, const AttentionShape& shape, Tiling t,
                                const TilingOverride& change) {
  if (change.empty()) return t;
  const auto& limits = device.limits;
  const auto head_dim = static_cast<std::uint32_t>(shape.head_dim);
  const auto refuse = [&](std::string what) {
    return fail(ErrorCode::invalid_argument, fmt::format("tiling override for the {} path: {}", to_string(t.path), what));
  };
  std::string changed;
  const bool coopmat1 = t.path == KernelPath::cooperative_matrix_nv || t.path == KernelPath::cooperative_matrix_khr;
  if (coopmat1 && (change.block_q || change.workgroup_size))
    return refuse("Br and the workgroup size are compiled into this kernel (64 rows, 128 invocations)");
  if (change.block_q) t.block_q = *change.block_q;
  if (change.block_kv) t.block_kv = *change.block_kv;
  if (change.workgroup_size) t.workgroup_size = *change.workgroup_size;
  if (change.variant) t.variant = *change.variant;
  const std::uint32_t subgroup = std::max<std::uint32_t>(1, limits.subgroup_size);
  if (t.workgroup_size == 0 || t.workgroup_size % subgroup != 0 || t.workgroup_size > limits.max_workgroup_invocations ||
      t.workgroup_size > limits.max_workgroup_size[0])
    return refuse(fmt::format("a workgroup of {} invocations is not a multiple of the subgroup size {} up to {}",
                              t.workgroup_size, subgroup, limits.max_workgroup_invocations));
  switch (t.path) {
    case KernelPath::cooperative_matrix2:
      if (t.block_q == 0 || t.block_q % 16 != 0 || t.block_q > 256 || t.block_kv == 0 || t.block_kv % 16 != 0 ||
          t.block_kv > 256)
        return refuse(fmt::format("Br={} Bc={}: each must be a multiple of 16 up to 256", t.block_q, t.block_kv));
      if (const std::uint32_t granule = coopmat2_column_granule(t.workgroup_size);
          t.block_q % granule != 0 || t.block_kv % granule != 0)
        return refuse(fmt::format("Br={} Bc={}: over {} invocations each must be a multiple of {}", t.block_q,
                                  t.block_kv, t.workgroup_size, granule));
      if (t.workgroup_size > device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size)
        return refuse(fmt::format("workgroup-scope matrices allow at most {} invocations on this device",
                                  device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size));
      if (t.variant > 3)
        return refuse(fmt::format("variant {} does not exist (0: row sums by reduction, 1: by P x ones, 2: the same "
                                  "with 16-column row statistics, 3: as 2 with P's exponentials in f16)", t.variant));
      break;
    case KernelPath::cooperative_matrix_nv:
    case KernelPath::cooperative_matrix_khr:
      if (t.block_kv != 32 && t.block_kv != 64) return refuse(fmt::format("Bc={}: 32 or 64", t.block_kv));
      break;
    case KernelPath::decode:
      if (change.block_q || change.block_kv || change.workgroup_size)
        return refuse("the rows, the chunk and the workgroup are set by the shape and the subgroup size");
      if (t.variant != 0 && t.variant != 1 && t.variant != 2 && t.variant != 4 && t.variant != 8)
        return refuse(fmt::format("variant {}: the decode kernel's variant is the keys a lane loads ahead per step, "
                                  "1, 2, 4 or 8 (0: its default)", t.variant));
      break;
    case KernelPath::scalar:
      if (!std::has_single_bit(t.block_q) || t.block_q > 32 || !std::has_single_bit(t.block_kv) || t.block_kv < 8 ||
          t.block_kv > 256)
        return refuse(fmt::format("Br={} Bc={}: Br a power of two up to 32, Bc a power of two from 8 to 256",
                                  t.block_q, t.block_kv));
      break;
  }
  if (coopmat1 || t.path == KernelPath::scalar) {  // the tile changed: ask the kernel again
    const auto bytes = forward_shared_bytes(t.path, shape.dtype, {t.block_q, t.block_kv}, head_dim);
    if (!bytes) return refuse(bytes.error().what());
    t.shared_bytes = narrow(*bytes);
  }
  if (t.path != KernelPath::cooperative_matrix2 && t.path != KernelPath::decode && t.variant != 0)
    return refuse(fmt::format("variant {}: this path has only variant 0", t.variant));
  if (t.shared_bytes > limits.max_shared_memory_bytes)
    return refuse(fmt::format("Br={} Bc={} need {} bytes of shared memory; the device has {}", t.block_q, t.block_kv,
                              t.shared_bytes, limits.max_shared_memory_bytes));
  t.reason += fmt::format("; overridden to Br={} Bc={} workgroup={} variant={}", t.block_q, t.block_kv,
                          t.workgroup_size, t.variant);
  t.splits = 1;  // the split rule again, for the new tile sizes
  choose_splits(device, shape, t, t.reason);
  return t;
}

std::string Tiling::to_json() const {
  return nlohmann::json{{"path", to_string(path)},
                        {"variant", variant},
                        {"block_q", block_q},
                        {"block_kv", block_kv},
                        {"workgroup_size", workgroup_size},
                        {"splits", splits},
                        {"shared_bytes", shared_bytes},
                        {"reason", reason}}
      .dump();
}

}  // namespace aat::attention
