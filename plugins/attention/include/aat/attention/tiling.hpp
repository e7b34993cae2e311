// optimize_tiling: how an attention problem is cut into workgroups on a given device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aat/attention/tile_policy.hpp"
#include "aat/context.hpp"
#include "aat/dtype.hpp"
#include "aat/error.hpp"

namespace aat::attention {

struct AttentionShape {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  DType dtype = DType::f32;
  bool causal = false;
};

enum class KernelPath {
  scalar,                 // any Vulkan device: f32 FMA in shared memory
  cooperative_matrix_nv,  // tensor cores through VK_NV_cooperative_matrix (f16, D = 64 or 128)
  cooperative_matrix_khr, // the same kernel through VK_KHR_cooperative_matrix (AMD, Intel, NVIDIA)
  cooperative_matrix2,    // tensor cores through VK_NV_cooperative_matrix2 (f16, D a multiple of 8 up to 256)
  decode,                 // flash-decoding: (Hq/Hkv) x Nq <= 16 rows per K/V head, f16, one subgroup per split
};
std::string_view to_string(KernelPath path);
std::optional<KernelPath> parse_kernel_path(std::string_view name);  // the names to_string gives
// Every path, fastest first: the order optimize_tiling tries them in. The decode kernel comes
// first for up to kDecodeFirstRows rows per K/V head (a 64-row tensor-core tile would be mostly
// padding); past that the coopmat2 kernel with split keys (and the GQA rows packed,
// pack_gqa_rows) is faster where it runs (docs/performance.md, H200), and decode is chosen up to
// kDecodePreferredRows rows elsewhere (AMD, Intel, lavapipe).
inline constexpr KernelPath kKernelPathsFastestFirst[] = {
    KernelPath::cooperative_matrix2, KernelPath::decode, KernelPath::cooperative_matrix_khr,
    KernelPath::cooperative_matrix_nv, KernelPath::scalar};
// The most query rows (Hq/Hkv x Nq) the decode path takes for one K/V head, the most it is
// chosen for where coopmat2 is absent, and the most it is chosen for before coopmat2: its
// per-row work (dot products, shuffles, softmax) grows with the rows while its bytes do not, so
// past one row it is instruction-bound (H200, 2026-12-02: 1.67x faster than coopmat2 with one
// row, 0.38-0.88x with 2-16 rows but MHA Nq = 2; docs/performance.md).
inline constexpr std::int64_t kDecodeMaxRows = 16;
inline constexpr std::int64_t kDecodePreferredRows = 8;
inline constexpr std::int64_t kDecodeFirstRows = 1;

struct Tiling {
  KernelPath path = KernelPath::scalar;
  std::uint32_t block_q = 16;         // Br: query rows per workgroup (decode: the rows of one K/V head)
  std::uint32_t block_kv = 32;        // Bc: keys per shared-memory tile
  std::uint32_t workgroup_size = 128; // invocations per workgroup
  std::uint32_t splits = 1;           // K-split count (flash-decoding); partial states merged exactly
  std::uint32_t shared_bytes = 0;     // shared memory the choice uses (0: managed by the driver)
  // A path's kernel variant. cooperative_matrix2: how row sums of P are formed (0: reduction,
  // 1: P x ones on the tensor cores, 2 and 3: docs/performance.md); decode: the keys each lane
  // loads ahead per step, 1, 2, 4 or 8 (0: the kernel's default, 4); 0 elsewhere.
  std::uint32_t variant = 0;
  std::string reason;                 // why, in a sentence (reported by --json)

  std::string to_json() const;
};

// Parts of a tiling to impose instead of optimize_tiling's choice (tuning, benchmarks). Each
// is checked against the device and the path's rules; an impossible one is an error.
struct TilingOverride {
  std::optional<std::uint32_t> block_q, block_kv, workgroup_size, variant;
  bool empty() const { return !block_q && !block_kv && !workgroup_size && !variant; }
};

// Picks Br, Bc, workgroup size and split count from the device's limits (shared memory,
// invocations, subgroup size, compute units) and the shape. Never exceeds a device limit.
// Splits Nk across workgroups when B * Hq * ceil(Nq / Br) cannot fill the device. Picks the
// cooperative-matrix path when the device offers it and the shape fits it, unless
// `allow_coopmat` is false.
Tiling optimize_tiling(const DeviceInfo& device, const AttentionShape& shape, bool allow_coopmat = true);
// The tiling of a given path (which must be supported: path_supported).
Tiling optimize_tiling_for(const DeviceInfo& device, const AttentionShape& shape, KernelPath path);

// The shape the tensor-core (coopmat2) kernel is given for a GQA/MQA problem whose rows all see
// the same keys (not causal, or one query row): Q [B, Hq, Nq, D] is, in memory, [B, Hkv,
// (Hq/Hkv) Nq, D] with the query heads of one K/V head adjacent, and O and L likewise, so the
// kernel runs it as multi-head attention over Hkv heads of (Hq/Hkv) Nq rows: each K/V tile is
// read once per row block of every head sharing it, not once per query head (decode with GQA,
// short query blocks). nullopt where that does not hold (another path, MHA, causal with several
// rows, an additive bias, whose rows are per query head).
std::optional<AttentionShape> pack_gqa_rows(const AttentionShape& shape, KernelPath path, bool bias);

// The multiple the coopmat2 kernel rounds its matrices' column counts (D, the row statistics) up
// to for a workgroup of `workgroup_size` invocations: NVIDIA's flexible dimensions allow N in
// steps of 16 up to 128 invocations and of 32 at 256 (VkCooperativeMatrixFlexibleDimensions-
// PropertiesNV on the H200, driver 580); the validation layer checks it.
std::uint32_t coopmat2_column_granule(std::uint32_t workgroup_size);

// The shared memory of the forward kernel `path` runs for `dtype`, D and a tile (decode: Br the
// rows of a K/V head, Bc the subgroup; the subgroup-scope tensor-core kernels: Br is theirs, 64),
// asked of that kernel's reflection (aat-bindgen's Specialization::shared_bytes), never repeated
// here from the GLSL. 0 for coopmat2, whose operands the driver stages. `unsupported` for a kernel
// this build skipped.
Expected<std::uint64_t> forward_shared_bytes(KernelPath path, DType dtype, Tile tile, std::uint32_t head_dim);

// Whether the subgroup-scope cooperative-matrix path (NV, or KHR with `khr`) can run this shape
// on this device: f16, D = 64 or 128, 32-lane subgroups.
bool coopmat_supported(const DeviceInfo& device, const AttentionShape& shape, bool khr = false);
// Whether the coopmat2 path can: the device runs the coopmat2 family, this build compiled the
// kernel, f16 with D a multiple of 8 up to 256.
bool coopmat2_supported(const DeviceInfo& device, const AttentionShape& shape);
// Whether this build compiled the kernels of `path` (coopmat2 needs glslang >= 15.1 at build time).
bool path_compiled(KernelPath path);
// Whether the decode path can: f16, D a multiple of 8 up to 256, (Hq/Hkv) x Nq <= kDecodeMaxRows.
bool decode_supported(const DeviceInfo& device, const AttentionShape& shape);
// Whether `path` can run this shape on this device.
bool path_supported(const DeviceInfo& device, const AttentionShape& shape, KernelPath path);

// `tiling` with `change` applied, or an `invalid_argument` error naming the value the device or
// the path cannot take (block sizes, workgroup size, variant).
Expected<Tiling> apply_override(const DeviceInfo& device, const AttentionShape& shape, Tiling tiling,
                                const TilingOverride& change);

// Workgroups the device can keep busy at once (compute units x a few), used for splitting.
std::uint32_t device_parallelism(const DeviceInfo& device);

}  // namespace aat::attention
