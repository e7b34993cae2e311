#include "aat/pattern/pattern.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <span>
#include <tuple>

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "aat/kernel_family.hpp"
#include "pattern/anchor_f16.bindings.hpp"
#include "pattern/anchor_f32.bindings.hpp"
#include "pattern/key_operands.bindings.hpp"
#include "pattern/pattern_bound.bindings.hpp"
#include "pattern/pattern_bound_coopmat.bindings.hpp"
#include "pattern/pattern_map.bindings.hpp"
#include "pattern/pool_f16.bindings.hpp"
#include "pattern/pool_f16_f32.bindings.hpp"
#include "pattern/pool_f32.bindings.hpp"
#include "pattern/row_operands.bindings.hpp"

namespace aat::pattern {

namespace {

namespace pool_gen = plugin_gen::pattern::pool_f32;  // the three pooling kernels share one interface
namespace map_gen = plugin_gen::pattern::pattern_map;
namespace bound_gen = plugin_gen::pattern::pattern_bound;
namespace bound_tc_gen = plugin_gen::pattern::pattern_bound_coopmat;
namespace key_operands_gen = plugin_gen::pattern::key_operands;
namespace row_operands_gen = plugin_gen::pattern::row_operands;
namespace anchor_gen = plugin_gen::pattern::anchor_f32;  // f16 shares the interface
static_assert(sizeof(plugin_gen::pattern::pool_f16::PushConstants) == sizeof(pool_gen::PushConstants));
static_assert(sizeof(plugin_gen::pattern::pool_f16_f32::PushConstants) == sizeof(pool_gen::PushConstants));
static_assert(sizeof(plugin_gen::pattern::anchor_f16::PushConstants) == sizeof(anchor_gen::PushConstants));

constexpr std::uint32_t kPoolWorkgroup = 256;
constexpr std::uint32_t kMapWorkgroup = 128;
// The map kernels keep each invocation's key tiles' levels in registers, 16 at most
// (pattern_blocks.glsl, MAX_OWNED).
static_assert(kMaxKeyTiles <= 16 * kMapWorkgroup);

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) { return static_cast<std::uint32_t>((a + b - 1) / b); }

struct PoolKey {
  DType in, out;
  bool lengths, squares, tile_major;
  auto operator<=>(const PoolKey&) const = default;
};

struct MapKey {
  std::uint32_t head_dim;
  bool causal, lengths, row, variance, bound;
  std::uint32_t max_tiles = kMaxKeyTiles;  // the bound rule's kernel: key tiles it holds
  bool grouped = false;                    // the bound rule's kernel: query groups of 2+ rows
  std::uint32_t groups = 0;                // the bound rule's kernel: groups a pass (0: the default)
  bool tensor = false;                     // the bound rule's kernel: the moments on the tensor cores
  bool q_split = false;                    // ... with Q's low f16 part (Q not f16)
  auto operator<=>(const MapKey&) const = default;
};

// The bound rule's kernel (pattern_bound.comp) runs kBoundSubgroups subgroups per workgroup and
// holds, per key tile of `max_tiles` (a power of two up to kMaxKeyTiles, so that short rows
// leave shared memory to the pool), flags, level and density (12 bytes), and a pool: a scratch
// area (the staged moments of R groups, D floats each or 2 D for groups of rows; or each
// subgroup's binade columns, 16 x (subgroup size + 1) floats), then log Z and the subgroups'
// Jensen sums of the R groups. Its log U per (group, key tile) goes to the Shares buffer, R rows of
// tiles_k floats per workgroup, so R costs registers and staging only. R: kBoundGroups, or as many
// as the device's shared memory holds (spec constant R_MAX).
constexpr std::uint32_t kBoundSubgroups = 4;
// R: query groups a pass over the key tiles' moments. On the H200 (whole pattern stage, f16,
// causal, H = 8) R = 16 was the fastest or within 8% of R = 4 and 8 at 16k-64k, D = 64 and 128
// (docs/adaptive.md, "The bound rule's kernel and its cost").
constexpr std::uint32_t kBoundGroups = 16;
constexpr std::uint32_t kBoundBins = 16;    // NBINS in the shader
constexpr std::uint64_t kBoundFixedBytes = 64;  // flags and margin
// The Shares buffer of one dispatch at most (PatternOptions::bound_scratch_bytes): larger problems
// are dispatched in parts.
constexpr std::uint64_t kBoundSharesBytes = std::uint64_t{256} << 20;

std::uint32_t bound_max_tiles(std::int64_t tiles_k) {
  return std::max(32u, std::bit_ceil(static_cast<std::uint32_t>(std::max<std::int64_t>(tiles_k, 1))));
}

std::uint32_t bound_stage_floats(std::uint32_t head_dim, bool grouped) { return grouped ? 2 * head_dim : head_dim; }

// The workgroup: kBoundSubgroups subgroups of the device's default size.
std::uint32_t bound_workgroup(const DeviceInfo& device) {
  return kBoundSubgroups * std::max(device.limits.subgroup_size, 1u);
}

// The pool on `device` for rows of `max_tiles` key tiles: its floats and the groups it takes a
// pass, at most `wanted` (0 floats: not even one group fits).
struct BoundPool {
  std::uint32_t floats = 0, rows = 0;
};

std::uint64_t bound_fixed_bytes(std::uint32_t max_tiles) { return std::uint64_t{12} * max_tiles + kBoundFixedBytes; }

std::uint64_t bound_pool_floats(const DeviceInfo& device, std::uint32_t head_dim, bool grouped, std::uint64_t rows) {
  // As many subgroups as the workgroup holds at the device's smallest size, each as wide as the
  // largest (the kernel sizes its areas by the subgroups it gets).
  const std::uint64_t subgroups = std::max<std::uint64_t>(bound_workgroup(device) / std::max(device.limits.min_subgroup_size, 1u), 1);
  const std::uint64_t widest = std::max(device.limits.max_subgroup_size, device.limits.subgroup_size);
  return std::max<std::uint64_t>(subgroups * kBoundBins * (widest + 1), rows * bound_stage_floats(head_dim, grouped)) +
         rows + 2 * rows * subgroups;
}

BoundPool bound_pool(const DeviceInfo& device, std::uint32_t head_dim, std::uint32_t max_tiles, bool grouped,
                     std::uint32_t wanted) {
  const std::uint64_t fixed = bound_fixed_bytes(max_tiles);
  const std::uint64_t shared = device.limits.max_shared_memory_bytes;
  const std::uint64_t room = shared > fixed ? (shared - fixed) / 4 : 0;
  for (std::uint32_t rows = wanted; rows >= 1; --rows) {
    const std::uint64_t floats = bound_pool_floats(device, head_dim, grouped, rows);
    if (floats <= room) return {static_cast<std::uint32_t>(floats), rows};
  }
  return {};
}

// The bound rule's tensor-core kernel (pattern_bound_coopmat.comp, bound_moments_coopmat.glsl):
// 4 subgroups of 32, the query tile's rows 64 at a time (16 a subgroup, their operands in
// registers: D <= 128), the pool as the invocation kernel's without the staging area.
constexpr std::uint32_t kTensorRows = 64;  // 16 per subgroup
constexpr std::uint32_t kTensorMaxHeadDim = 128;
constexpr std::uint32_t kTensorLanes = 32;
constexpr std::uint32_t kTensorWorkgroup = kBoundSubgroups * kTensorLanes;
constexpr std::uint32_t kTensorPoolFloats =
    kBoundSubgroups * kBoundBins * (kTensorLanes + 1) + kTensorRows + 2 * kTensorRows * kBoundSubgroups;
constexpr std::uint32_t kOperandWorkgroup = 64;  // row_operands.comp, key_operands.comp

// Fills the tensor-core kernel's generated Specialization (a generic lambda: a build without a
// coopmat_khr compiler declares the struct without members).
auto tensor_spec(std::uint32_t head_dim, std::uint32_t max_tiles, bool causal, bool lengths, bool q_split) {
  return [=](auto& s) {
    s.local_size_x = kTensorWorkgroup;
    s.HEAD_DIM = head_dim;
    s.MAX_TILES = max_tiles;
    s.CAUSAL = causal;
    s.HAS_LENGTHS = lengths;
    s.GROUPED = false;
    s.POOL_FLOATS = kTensorPoolFloats;
    s.R_MAX = kTensorRows;
    s.Q_SPLIT = q_split;
  };
}

// Key tiles rounded up to whole 16-tile matrices (the key operands' rows).
std::int64_t tensor_tiles_pad(std::int64_t tiles_k) { return (tiles_k + 15) / 16 * 16; }

struct AnchorKey {
  DType dtype;
  std::uint32_t head_dim;
  bool causal, lengths;
  std::uint32_t rows = 64, stage_keys = 0;  // from anchor_tiling
  auto operator<=>(const AnchorKey&) const = default;
};

// The anchor kernel (anchor.glsl): 64 rows per workgroup, staging the keys of their windows in
// shared memory (64 + window keys as stored, padded) where that fits kAnchorStageBytes and the
// device; else every key is read from the buffer. (Fewer rows per workgroup to make the staging
// fit measured slower on the H200 than no staging: 16 rows at D = 128 took 2.2 ms at 32k, 8
// heads, against 1.1 ms unstaged.)
constexpr std::uint64_t kAnchorStageBytes = 32768;
constexpr std::uint32_t kAnchorRows = 64;

AnchorKey anchor_tiling(const DeviceInfo& device, DType dtype, std::uint32_t head_dim, bool causal, bool lengths,
                        std::uint32_t window) {
  AnchorKey key{dtype, head_dim, causal, lengths, kAnchorRows, 0};
  const std::uint64_t budget = std::min<std::uint64_t>(kAnchorStageBytes, device.limits.max_shared_memory_bytes);
  const std::uint64_t keys = std::uint64_t{kAnchorRows} + window;
  const std::uint64_t vector_bytes = dtype == DType::f16 ? 8 : 16;
  if (keys * (head_dim / 4 + 1) * vector_bytes <= budget) key.stage_keys = static_cast<std::uint32_t>(keys);
  return key;
}

// The push constants both map kernels share (pattern_map.comp, pattern_bound.comp): shape, tiles,
// scale, forced tiles, halo, query groups and all_full; the rule's own fields are the caller's.
template <class Push>
Push map_push(const attention::AttentionShape& shape, const BlockGrid& g, const PatternOptions& options) {
  const std::uint32_t group = query_group(options);
  Push push{};
  attention::set_problem_push(push, shape, options.scale);
  push.block_q = options.block_q;
  push.block_k = options.block_k;
  push.tiles_q = static_cast<std::uint32_t>(g.tiles_q);
  push.tiles_k = static_cast<std::uint32_t>(g.tiles_k);
  push.sink_tiles = options.sink_tiles;
  push.local_window = options.local_window.value_or(options.block_k);
  push.all_full = thresholds(options).all_full ? 1u : 0u;
  push.halo = options.halo;
  push.query_group = group;
  push.grouped_len = static_cast<std::uint32_t>((shape.q_len + group - 1) / group);
  return push;
}

// One workgroup per (query tile, batch x head).
Workgroups map_grid(const attention::AttentionShape& shape, const BlockGrid& g) {
  return Workgroups{static_cast<std::uint32_t>(g.tiles_q), static_cast<std::uint32_t>(shape.batch * shape.q_heads), 1};
}

// A 2D grid of `groups` workgroups, under the per-axis limit.
Workgroups grid_2d(std::uint32_t groups) {
  const std::uint32_t width = std::min<std::uint32_t>(std::max(groups, 1u), 65535);
  return Workgroups{width, ceil_div(groups, width), 1};
}

}  // namespace

std::string_view to_string(BlockLevel level) {
  switch (level) {
    case BlockLevel::full: return "full";
    case BlockLevel::pool2: return "pool2";
    case BlockLevel::pool4: return "pool4";
    case BlockLevel::skip: return "skip";
    case BlockLevel::masked: return "masked";
  }
  return "?";
}

std::string_view to_string(Estimator estimator) { return estimator == Estimator::row ? "row" : "tile"; }

std::string_view to_string(Mode mode) { return mode == Mode::bound ? "bound" : "mass"; }

std::optional<Mode> parse_mode(std::string_view name) {
  if (name == "mass") return Mode::mass;
  if (name == "bound") return Mode::bound;
  return std::nullopt;
}

std::string_view to_string(MomentsPath path) {
  switch (path) {
    case MomentsPath::invocations: return "invocations";
    case MomentsPath::tensor_cores: return "tensor-cores";
  }
  return "?";
}

std::uint32_t pool_size(BlockLevel level) {
  switch (level) {
    case BlockLevel::full: return 1;
    case BlockLevel::pool2: return 2;
    case BlockLevel::pool4: return 4;
    default: return 0;
  }
}

LevelThresholds thresholds(const PatternOptions& o) {
  LevelThresholds t;
  const double rest = 1.0 - std::clamp(o.mass, 0.0, 1.0);
  t.full = std::clamp(o.mass, 0.0, 1.0);
  t.pool2 = t.full + rest * o.pool2_share;
  t.pool4 = t.full + rest * (o.pool2_share + o.pool4_share);
  const double epsilon = std::clamp(o.epsilon, 0.0, 1.0);
  t.tail_pool2 = epsilon;
  t.tail_pool4 = epsilon * (1.0 - o.pool2_share);
  t.tail_skip = epsilon * std::max(0.0, 1.0 - o.pool2_share - o.pool4_share);
  t.all_full = o.mode == Mode::bound ? !(o.epsilon > 0.0) : o.mass >= 1.0;
  return t;
}

std::uint32_t query_group(const PatternOptions& o) {
  const std::uint32_t group = o.query_group > 0 ? o.query_group : o.mode == Mode::bound ? 1u : 4u;
  return std::gcd(group, std::max(o.block_q, 1u));
}

// ---------------------------------------------------------------------------------------------
// BlockGrid

BlockGrid BlockGrid::make(const attention::AttentionShape& shape, std::int64_t block_q, std::int64_t block_k,
                          std::vector<std::int32_t> key_lengths) {
  BlockGrid g;
  g.shape = shape;
  g.block_q = block_q;
  g.block_k = block_k;
  g.tiles_q = (shape.q_len + block_q - 1) / block_q;
  g.tiles_k = (shape.kv_len + block_k - 1) / block_k;
  g.key_lengths = std::move(key_lengths);
  return g;
}

std::int64_t BlockGrid::rows(std::int64_t i) const { return std::min(block_q, shape.q_len - i * block_q); }
std::int64_t BlockGrid::cols(std::int64_t j) const { return std::min(block_k, shape.kv_len - j * block_k); }

std::int64_t BlockGrid::key_limit(std::int64_t b) const {
  if (key_lengths.empty()) return shape.kv_len;
  return std::clamp<std::int64_t>(key_lengths[static_cast<std::size_t>(b)], 0, shape.kv_len);
}

namespace {

// End (exclusive) of the key prefix query row `a` sees (see shaders/aat/block_geometry.glsl).
std::int64_t row_key_end(const BlockGrid& g, std::int64_t b, std::int64_t a) {
  const std::int64_t limit = g.key_limit(b);
  if (!g.shape.causal) return limit;
  return std::clamp<std::int64_t>(a + g.shape.kv_len - g.shape.q_len + 1, 0, limit);
}

}  // namespace

Visibility BlockGrid::visibility(std::int64_t b, std::int64_t i, std::int64_t j) const {
  const std::int64_t q0 = i * block_q, q1 = q0 + rows(i), k0 = j * block_k, k1 = k0 + cols(j);
  if (q1 <= q0 || k1 <= k0 || row_key_end(*this, b, q1 - 1) <= k0) return Visibility::masked;
  if (row_key_end(*this, b, q0) >= k1) return Visibility::full;
  return Visibility::partial;
}

std::int64_t BlockGrid::visible_pairs(std::int64_t b, std::int64_t i, std::int64_t j) const {
  const std::int64_t q0 = i * block_q, q1 = q0 + rows(i), k0 = j * block_k, k1 = k0 + cols(j);
  std::int64_t pairs = 0;
  for (std::int64_t a = q0; a < q1; ++a) pairs += std::clamp<std::int64_t>(std::min(k1, row_key_end(*this, b, a)) - k0, 0, k1 - k0);
  return pairs;
}

std::string BlockGrid::describe() const {
  return fmt::format("{}x{} tiles of {}x{} (B={} Hq={} Nq={} Nk={}{})", tiles_q, tiles_k, block_q, block_k,
                     shape.batch, shape.q_heads, shape.q_len, shape.kv_len, shape.causal ? " causal" : "");
}

std::int64_t LevelCounts::visible() const {
  std::int64_t n = 0;
  for (int l = 0; l < kLevelCount; ++l)
    if (l != static_cast<int>(BlockLevel::masked)) n += blocks[static_cast<std::size_t>(l)];
  return n;
}

double LevelCounts::share(BlockLevel level) const {
  const auto n = visible();
  return n > 0 ? static_cast<double>(blocks[static_cast<std::size_t>(level)]) / static_cast<double>(n) : 0.0;
}

MapCost map_cost(const BlockGrid& g, std::span<const std::uint8_t> levels, const PatternOptions& options) {
  MapCost cost;
  const auto& s = g.shape;
  const double per_pair = 4.0 * static_cast<double>(s.head_dim);
  double visible_row_tiles = 0;  // (query row, key tile) pairs with a visible key, roughly
  // Visible pairs per (b, i, j), shared by the heads.
  std::vector<std::int64_t> pairs(static_cast<std::size_t>(g.tiles_q * g.tiles_k));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t i = 0; i < g.tiles_q; ++i)
      for (std::int64_t j = 0; j < g.tiles_k; ++j)
        pairs[static_cast<std::size_t>(i * g.tiles_k + j)] = g.visible_pairs(b, i, j);
    for (std::int64_t h = 0; h < s.q_heads; ++h) {
      for (std::int64_t i = 0; i < g.tiles_q; ++i) {
        for (std::int64_t j = 0; j < g.tiles_k; ++j) {
          const auto n = pairs[static_cast<std::size_t>(i * g.tiles_k + j)];
          const auto index = static_cast<std::size_t>(((b * s.q_heads + h) * g.tiles_q + i) * g.tiles_k + j);
          auto level = index < levels.size() ? levels[index] : std::uint8_t{4};
          if (n == 0) level = static_cast<std::uint8_t>(BlockLevel::masked);
          if (level >= kLevelCount) level = static_cast<std::uint8_t>(BlockLevel::skip);
          cost.levels.blocks[level] += 1;
          if (n > 0) visible_row_tiles += static_cast<double>(g.rows(i));
          cost.dense_flops += per_pair * static_cast<double>(n);
          const auto lvl = static_cast<BlockLevel>(level);
          if (lvl == BlockLevel::full || ((lvl == BlockLevel::pool2 || lvl == BlockLevel::pool4) &&
                                          g.visibility(b, i, j) == Visibility::partial)) {
            cost.attention_flops += per_pair * static_cast<double>(n);
          } else if (lvl == BlockLevel::pool2 || lvl == BlockLevel::pool4) {
            const std::int64_t p = pool_size(lvl);
            cost.attention_flops += per_pair * static_cast<double>(g.rows(i) * ((g.cols(j) + p - 1) / p));
          }
        }
      }
    }
  }
  const double d = static_cast<double>(s.head_dim);
  // Means (one add per element), then 2 D per block score: once per tile (tile estimate) or
  // twice per query row and visible key tile (row estimate: the normaliser and density passes).
  PatternOptions grid_options = options;
  grid_options.block_q = static_cast<std::uint32_t>(g.block_q);
  const double group = static_cast<double>(query_group(grid_options));
  const double rows = static_cast<double>(s.batch * s.q_heads * s.q_len);
  const double keys = static_cast<double>(s.batch * s.kv_heads * s.kv_len);
  if (options.mode == Mode::bound) {
    // Means and means of squares of Q (groups) and K (tiles); the anchor scores, 2 D per
    // (row, anchor key); one pass of 11 D per (group, visible key tile) score: dot 2 D, key
    // spread 5 D, query spread 4 D.
    const double anchors = static_cast<double>(options.anchor_sinks + options.anchor_window);
    cost.pattern_flops = d * (2.0 * rows + 2.0 * keys) + 2.0 * d * anchors * rows + 11.0 * d * visible_row_tiles / group;
    return cost;
  }
  const double scores = options.estimator == Estimator::row ? 2.0 * visible_row_tiles / group
                                                            : static_cast<double>(cost.levels.visible());
  const double key_passes = options.variance ? 2.0 : 1.0;  // means (and means of squares) of K
  cost.pattern_flops = d * (rows + key_passes * keys) +
                       (options.variance ? 7.0 : 2.0) * d * scores;  // dot 2 D; spread x^2 (m2 - m^2): 5 D
  return cost;
}

Expected<void> check_options(const attention::AttentionShape& shape, const PatternOptions& o) {
  if (o.block_q < 1 || o.block_q > 256)
    return fail(ErrorCode::invalid_argument, fmt::format("pattern block_q = {} must be 1..256", o.block_q));
  if (o.block_k < 4 || o.block_k > 1024 || o.block_k % 4 != 0)
    return fail(ErrorCode::invalid_argument,
                fmt::format("pattern block_k = {} must be a multiple of 4 from 4 to 1024", o.block_k));
  if (!(o.mass >= 0.0) || !(o.pool2_share >= 0.0) || !(o.pool4_share >= 0.0) || o.pool2_share + o.pool4_share > 1.0)
    return fail(ErrorCode::invalid_argument,
                fmt::format("pattern shares must satisfy mass >= 0, pool2_share, pool4_share >= 0 and "
                            "pool2_share + pool4_share <= 1; got mass {}, pool2 {}, pool4 {}",
                            o.mass, o.pool2_share, o.pool4_share));
  if (!(o.epsilon >= 0.0 && o.epsilon <= 1.0))
    return fail(ErrorCode::invalid_argument,
                fmt::format("pattern epsilon = {} must be in [0, 1]: the largest share of a query group's mass not "
                            "run at full resolution", o.epsilon));
  if (o.mode == Mode::bound && o.estimator != Estimator::row)
    return fail(ErrorCode::invalid_argument, "the bound rule needs the row estimator (per group of query rows); the "
                                             "tile estimator runs with the mass rule only");
  const std::int64_t tiles_k = (shape.kv_len + o.block_k - 1) / o.block_k;
  if (tiles_k > kMaxKeyTiles)
    return fail(ErrorCode::unsupported, fmt::format("Nk = {} makes {} key tiles of {}; the map kernel holds at most {} "
                                                    "per row: use a larger block_k", shape.kv_len, tiles_k,
                                                    o.block_k, kMaxKeyTiles));
  const std::int64_t tiles_q = (shape.q_len + o.block_q - 1) / o.block_q;
  if (tiles_q > 65535)
    return fail(ErrorCode::unsupported, fmt::format("Nq = {} makes {} query tiles; at most 65535", shape.q_len, tiles_q));
  return {};
}

// ---------------------------------------------------------------------------------------------
// Pattern

// The kernels of a configuration: built by the context's kernel cache on first use and found
// there afterwards (a Pattern keeps no kernel map).
struct Pattern::Pipelines {
  Expected<Kernel> anchor_kernel(const std::shared_ptr<Context>& context, const AnchorKey& key) {
    const std::string name = fmt::format("pattern.anchor_{}", to_string(key.dtype));
    if (key.dtype == DType::f16)
      return Kernel::create(context, plugin_gen::pattern::anchor_f16::spirv(), name,
                            {.spec = anchor_spec<plugin_gen::pattern::anchor_f16::Specialization>(key)});
    return Kernel::create(context, anchor_gen::spirv(), name, {.spec = anchor_spec<anchor_gen::Specialization>(key)});
  }

  Expected<Kernel> pool_kernel(const std::shared_ptr<Context>& context, const PoolKey& key) {
    namespace pattern_gen = plugin_gen::pattern;
    const std::string name = fmt::format("pattern.pool_{}_{}", to_string(key.in), to_string(key.out));
    if (key.in == DType::f32 && key.out == DType::f32)
      return Kernel::create(context, pattern_gen::pool_f32::spirv(), name,
                            {.spec = pool_spec<pattern_gen::pool_f32::Specialization>(key)});
    if (key.in == DType::f16 && key.out == DType::f16)
      return Kernel::create(context, pattern_gen::pool_f16::spirv(), name,
                            {.spec = pool_spec<pattern_gen::pool_f16::Specialization>(key)});
    if (key.in == DType::f16 && key.out == DType::f32)
      return Kernel::create(context, pattern_gen::pool_f16_f32::spirv(), name,
                            {.spec = pool_spec<pattern_gen::pool_f16_f32::Specialization>(key)});
    return fail(ErrorCode::unsupported,
                fmt::format("pooling {} into {} is not supported", to_string(key.in), to_string(key.out)));
  }

  Expected<Kernel> map_kernel(const std::shared_ptr<Context>& context, const MapKey& key) {
    if (key.bound && key.tensor) {
      KernelOptions options{.spec = specialization_entries<bound_tc_gen::Specialization>(
                                tensor_spec(key.head_dim, key.max_tiles, key.causal, key.lengths, key.q_split))};
      // Written for 32-lane subgroups: ask for them where the size can vary.
      const auto& limits = context->device().limits;
      if (limits.min_subgroup_size != limits.max_subgroup_size) options.required_subgroup_size = kTensorLanes;
      return Kernel::create(context, bound_tc_gen::spirv(), "pattern.bound_coopmat", options);
    }
    if (key.bound) {
      const BoundPool pool = bound_pool(context->device(), key.head_dim, key.max_tiles, key.grouped, key.groups);
      if (pool.floats == 0)
        return fail(ErrorCode::unsupported,
                    Pattern::bound_map_refusal(context->device(), key.head_dim, key.max_tiles, key.grouped));
      const bound_gen::Specialization spec{.local_size_x = bound_workgroup(context->device()),
                                           .HEAD_DIM = key.head_dim,
                                           .MAX_TILES = key.max_tiles,
                                           .CAUSAL = key.causal,
                                           .HAS_LENGTHS = key.lengths,
                                           .GROUPED = key.grouped,
                                           .POOL_FLOATS = pool.floats,
                                           .R_MAX = pool.rows};
      return Kernel::create(context, bound_gen::spirv(), "pattern.bound", {.spec = spec.entries()});
    }
    const map_gen::Specialization spec{.local_size_x = kMapWorkgroup,
                                       .HEAD_DIM = key.head_dim,
                                       .MAX_TILES = kMaxKeyTiles,
                                       .CAUSAL = key.causal,
                                       .HAS_LENGTHS = key.lengths,
                                       .ROW_ESTIMATE = key.row,
                                       .VARIANCE = key.variance};
    return Kernel::create(context, map_gen::spirv(), "pattern.map", {.spec = spec.entries()});
  }

  Expected<Kernel> key_operands_kernel(const std::shared_ptr<Context>& context, std::uint32_t head_dim) {
    const key_operands_gen::Specialization spec{.local_size_x = kOperandWorkgroup, .HEAD_DIM = head_dim};
    return Kernel::create(context, key_operands_gen::spirv(), "pattern.key_operands", {.spec = spec.entries()});
  }

  Expected<Kernel> row_operands_kernel(const std::shared_ptr<Context>& context, std::uint32_t head_dim) {
    const row_operands_gen::Specialization spec{.local_size_x = kOperandWorkgroup, .HEAD_DIM = head_dim};
    return Kernel::create(context, row_operands_gen::spirv(), "pattern.row_operands", {.spec = spec.entries()});
  }

 private:
  // The f32 and f16 variants of a kernel have the same specialization constants, each its own
  // generated struct.
  template <class Specialization>
  static std::vector<std::pair<std::string, Value>> anchor_spec(const AnchorKey& key) {
    return Specialization{.local_size_x = key.rows,
                          .HEAD_DIM = key.head_dim,
                          .CAUSAL = key.causal,
                          .HAS_LENGTHS = key.lengths,
                          .STAGE_KEYS = key.stage_keys}
        .entries();
  }

  template <class Specialization>
  static std::vector<std::pair<std::string, Value>> pool_spec(const PoolKey& key) {
    return Specialization{.local_size_x = kPoolWorkgroup,
                          .HAS_LENGTHS = key.lengths,
                          .SQUARES = key.squares,
                          .TILE_MAJOR = key.tile_major}
        .entries();
  }
};

Expected<Pattern> Pattern::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "Pattern::create: no context");
  const auto& features = context->device().features;
  if (!features.storage_buffer_16bit || !features.shader_float16 || !features.storage_buffer_8bit)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' lacks 8/16-bit storage or float16 arithmetic, which "
                                                    "the pattern kernels need", context->device().name));
  Pattern pattern;
  pattern.context_ = context;
  pattern.pipelines_ = std::make_shared<Pipelines>();
  return pattern;
}

Expected<Tensor> Pattern::record_pool(Stream& stream, const Tensor& x, std::uint32_t pool, DType out,
                                      const Tensor* key_lengths, const std::string& label, bool squares,
                                      bool tile_major) {
  if (!x || x.rank() < 2)
    return fail(ErrorCode::invalid_argument, fmt::format("pooling needs [..., N, D], got {}", x ? x.describe() : "none"));
  if (pool == 0) return fail(ErrorCode::invalid_argument, "pool size must be at least 1");
  if (key_lengths && (x.rank() != 4 || key_lengths->dtype() != DType::i32 || key_lengths->rank() != 1 ||
                      key_lengths->dim(0) != x.dim(0)))
    return fail(ErrorCode::invalid_argument, fmt::format("pooling with key lengths needs x [B, H, N, D] and i32 [B] "
                                                         "lengths; got {} and {}", x.describe(), key_lengths->describe()));
  const std::int64_t n = x.dim(-2), d = x.dim(-1);
  if (tile_major && d % 4 != 0)
    return fail(ErrorCode::invalid_argument, fmt::format("tile-major pooling needs D a multiple of 4, got {}", x.describe()));
  const std::int64_t groups = n > 0 && d > 0 ? x.element_count() / (n * d) : 0;
  const std::int64_t pooled = (n + pool - 1) / pool;
  auto shape = x.shape();
  shape[shape.size() - 2] = pooled;
  AAT_TRY(Tensor result, with_context(Tensor::create(context_, out, shape), fmt::format("{} (x{} pooled rows)", label, pool)));
  const std::uint64_t elements = static_cast<std::uint64_t>(groups * pooled * d);
  if (elements == 0) return result;
  if (elements >= (std::uint64_t{1} << 31) || static_cast<std::uint64_t>(x.element_count()) >= (std::uint64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("pooling {}: 2^31 or more elements", x.describe()));
  AAT_TRY(Kernel kernel, pipelines_->pool_kernel(context_, PoolKey{x.dtype(), out, key_lengths != nullptr, squares, tile_major}));
  Bindings bindings(kernel);
  AAT_CHECK(bindings.bind(pool_gen::binding::src, x));
  AAT_CHECK(bindings.bind(pool_gen::binding::dst, result));
  AAT_CHECK(bindings.bind_or_unused(pool_gen::binding::KeyLengths, key_lengths));
  pool_gen::PushConstants push{};
  push.groups = static_cast<std::uint32_t>(groups);
  push.rows = static_cast<std::uint32_t>(n);
  push.dim = static_cast<std::uint32_t>(d);
  push.pool = pool;
  push.pooled_rows = static_cast<std::uint32_t>(pooled);
  push.groups_per_batch = x.rank() == 4 ? static_cast<std::uint32_t>(x.dim(1)) : 1u;
  AAT_CHECK(bindings.push_struct(push));
  AAT_CHECK(stream.dispatch(bindings, grid_2d(ceil_div(elements, kPoolWorkgroup)), label));
  return result;
}

Expected<BlockMap> Pattern::record(Stream& stream, const Tensor& q, const Tensor& k, const PatternOptions& options) {
  AAT_TRY(const attention::AttentionShape shape, 
          with_context(attention::check_inputs(q, k, k, attention::AttentionOptions::with_mask(options)), "pattern"));
  AAT_CHECK(check_options(shape, options));
  if (options.mode == Mode::bound) {
    if (const std::string why = bound_rule_refusal(context_->device()); !why.empty())
      return fail(ErrorCode::unsupported, why);
  }
  std::vector<std::int32_t> lengths;
  if (options.key_lengths) {
    AAT_TRY(lengths, options.key_lengths->download_values<std::int32_t>());
  }

  BlockMap map;
  map.grid = BlockGrid::make(shape, options.block_q, options.block_k, std::move(lengths));
  const auto& g = map.grid;
  const std::vector<std::int64_t> map_shape{shape.batch, shape.q_heads, g.tiles_q, g.tiles_k};
  AAT_TRY(map.levels, with_context(Tensor::create(context_, DType::u8, map_shape),
                                   "the block map 'levels' (u8 [B, Hq, tiles_q, tiles_k])"));
  AAT_TRY(map.density, with_context(Tensor::create(context_, DType::f32, map_shape),
                                    "the block map 'density' (f32 [B, Hq, tiles_q, tiles_k])"));
  if (g.blocks() == 0) return map;

  // Row estimate: the means of groups of query rows in f32 (Q itself for groups of 1 in f32);
  // tile estimate: the tile means.
  const bool row = options.estimator == Estimator::row;
  const std::uint32_t group = query_group(options);
  Tensor q_rows = q;
  if (!row || q.dtype() != DType::f32 || group > 1) {
    AAT_TRY(q_rows, record_pool(stream, q, row ? group : options.block_q, DType::f32));
  }
  // The bound rule's kernel reads the key tiles' moments tile-major (pool_mean.glsl).
  const bool tile_major = options.mode == Mode::bound;
  AAT_TRY(Tensor k_mean, record_pool(stream, k, options.block_k, DType::f32, options.key_lengths, "pattern.pool",
                                     false, tile_major));
  Tensor k_square = k_mean;  // unread without the variance term
  if (options.variance || options.mode == Mode::bound) {
    AAT_TRY(k_square, record_pool(stream, k, options.block_k, DType::f32, options.key_lengths, "pattern.pool", true,
                                  tile_major));
  }
  if (options.mode == Mode::bound) {
    // The rows' variances within a group; single rows have none (the kernel does not read it).
    Tensor q_square = q_rows;
    if (group > 1) {
      AAT_TRY(q_square, record_pool(stream, q, group, DType::f32, nullptr, "pattern.pool", true));
    }
    AAT_TRY(map.anchor, record_anchor(stream, q, k, shape, options));
    if (options.bound_moments == MomentsPath::tensor_cores) {
      const std::string why = tensor_moments_refusal(context_->device(), static_cast<std::uint32_t>(shape.head_dim),
                                                     g.tiles_k, group);
      if (!why.empty()) return fail(ErrorCode::unsupported, why);
      AAT_TRY(const TensorOperands operands, record_tensor_operands(stream, q_rows, k_mean, k_square, shape, g.tiles_k));
      AAT_CHECK(record_bound(stream, map, q_rows, q_square, k_mean, k_square, shape, options, &operands));
    } else {
      AAT_CHECK(record_bound(stream, map, q_rows, q_square, k_mean, k_square, shape, options, nullptr));
    }
    return map;
  }

  const MapKey key{static_cast<std::uint32_t>(shape.head_dim), shape.causal, options.key_lengths != nullptr, row,
                   options.variance, false};
  AAT_TRY(Kernel kernel, pipelines_->map_kernel(context_, key));
  Bindings bindings(kernel);
  AAT_CHECK(bindings.bind(map_gen::binding::QMean, q_rows));
  AAT_CHECK(bindings.bind(map_gen::binding::KMean, k_mean));
  AAT_CHECK(bindings.bind(map_gen::binding::KSquare, k_square));
  AAT_CHECK(bindings.bind_or_unused(map_gen::binding::KeyLengths, options.key_lengths));
  AAT_CHECK(bindings.bind(map_gen::binding::Density, map.density));
  AAT_CHECK(bindings.bind(map_gen::binding::Levels, map.levels));
  const LevelThresholds t = thresholds(options);
  auto push = map_push<map_gen::PushConstants>(shape, g, options);
  push.threshold_full = static_cast<float>(t.full);
  push.threshold_pool2 = static_cast<float>(t.pool2);
  push.threshold_pool4 = static_cast<float>(t.pool4);
  push.variance_cap = static_cast<float>(options.variance_cap);
  AAT_CHECK(bindings.push_struct(push));
  AAT_CHECK(stream.dispatch(bindings, map_grid(shape, g), "pattern.map"));
  return map;
}

std::string Pattern::bound_rule_refusal(const DeviceInfo& device) {
  const auto& f = device.features;
  if (f.subgroup_arithmetic && f.subgroup_vote) return {};
  return fmt::format("the bound rule's map kernel needs subgroup {}{}{} operations in compute shaders, which device "
                     "'{}' does not offer: use the mass rule (--mode mass)",
                     f.subgroup_arithmetic ? "" : "arithmetic", !f.subgroup_arithmetic && !f.subgroup_vote ? " and " : "",
                     f.subgroup_vote ? "" : "vote", device.name);
}

std::string Pattern::bound_map_refusal(const DeviceInfo& device, std::uint32_t head_dim, std::int64_t tiles_k,
                                       bool grouped) {
  const std::uint32_t max_tiles = bound_max_tiles(tiles_k);
  if (bound_pool(device, head_dim, max_tiles, grouped, 1).floats > 0) return {};
  return fmt::format("the bound rule's map kernel needs {} bytes of shared memory for {} key tiles of a row at D = {}; "
                     "device '{}' has {}: use a larger block_k",
                     bound_fixed_bytes(max_tiles) + 4 * bound_pool_floats(device, head_dim, grouped, 1), max_tiles,
                     head_dim, device.name, device.limits.max_shared_memory_bytes);
}

std::string Pattern::tensor_moments_refusal(const DeviceInfo& device, std::uint32_t head_dim, std::int64_t tiles_k,
                                            std::uint32_t query_group) {
  if (!bound_tc_gen::compiled)
    return "this build has no tensor-core map kernel (no shader compiler for coopmat_khr kernels was found when it "
           "was built)";
  if (!can_run(device, KernelFamily::coopmat_khr))
    return fmt::format("device '{}' offers no VK_KHR_cooperative_matrix with a 16x16x16 f16 shape, f16 arithmetic and "
                       "the Vulkan memory model, which the tensor-core map kernel needs", device.name);
  if (!device.features.subgroup_shuffle)
    return fmt::format("device '{}' offers no subgroup shuffles, which the tensor-core map kernel needs", device.name);
  const auto& limits = device.limits;
  if (limits.subgroup_size != kTensorLanes &&
      !(device.features.subgroup_size_control && limits.min_subgroup_size <= kTensorLanes &&
        limits.max_subgroup_size >= kTensorLanes))
    return fmt::format("the tensor-core map kernel needs subgroups of {} lanes; device '{}' runs {} to {}", kTensorLanes,
                       device.name, limits.min_subgroup_size, limits.max_subgroup_size);
  if (query_group != 1)
    return fmt::format("the tensor-core map kernel estimates single query rows; query_group is {}", query_group);
  if (head_dim > kTensorMaxHeadDim)
    return fmt::format("the tensor-core map kernel keeps its rows' operands in registers, for D <= {}; D is {}",
                       kTensorMaxHeadDim, head_dim);
  const auto bytes = specialization_shared_bytes<bound_tc_gen::Specialization>(
      tensor_spec(head_dim, bound_max_tiles(tiles_k), false, false, true));
  if (!bytes) return "the tensor-core map kernel: " + bytes.error().message();
  if (*bytes > limits.max_shared_memory_bytes)
    return fmt::format("the tensor-core map kernel needs {} bytes of shared memory at D = {} and {} key tiles; device "
                       "'{}' has {}", *bytes, head_dim, tiles_k, device.name, limits.max_shared_memory_bytes);
  return {};
}

Expected<TensorOperands> Pattern::record_tensor_operands(Stream& stream, const Tensor& q_rows, const Tensor& k_mean,
                                                         const Tensor& k_square,
                                                         const attention::AttentionShape& shape, std::int64_t tiles_k) {
  const std::int64_t d_pad = (shape.head_dim + 15) / 16 * 16;
  const std::int64_t key_heads = shape.batch * shape.kv_heads, tiles_pad = tensor_tiles_pad(tiles_k);
  // Rows past Nq: a 16-row matrix may start at any row of a query tile.
  const std::int64_t row_heads = shape.batch * shape.q_heads, rows_pad = shape.q_len + 16;
  TensorOperands out;
  AAT_TRY(out.rows, with_context(Tensor::create(context_, DType::f16, {row_heads, 4, rows_pad, d_pad}),
                                 "the tensor-core map kernel's query operands (f16 [B x Hq, 4, Nq + 16, D])"));
  AAT_TRY(out.row_scales, with_context(Tensor::create(context_, DType::f32, {row_heads, rows_pad}),
                                       "the tensor-core map kernel's query scales (f32 [B x Hq, Nq + 16])"));
  AAT_TRY(out.keys, with_context(Tensor::create(context_, DType::f16, {key_heads, 4, d_pad, tiles_pad}),
                                 "the tensor-core map kernel's key operands (f16 [B x Hkv, 4, D, tiles])"));
  AAT_TRY(out.key_scales, with_context(Tensor::create(context_, DType::f32, {key_heads, tiles_pad, 2}),
                                       "the tensor-core map kernel's key scales (f32 [B x Hkv, tiles, 2])"));
  if (row_heads == 0 || key_heads == 0) return out;
  const auto head_dim = static_cast<std::uint32_t>(shape.head_dim);
  {
    AAT_TRY(Kernel kernel, pipelines_->row_operands_kernel(context_, head_dim));
    Bindings bindings(kernel);
    AAT_CHECK(bindings.bind(row_operands_gen::binding::Q, q_rows));
    AAT_CHECK(bindings.bind(row_operands_gen::binding::Operands, out.rows));
    AAT_CHECK(bindings.bind(row_operands_gen::binding::Scales, out.row_scales));
    row_operands_gen::PushConstants push{};
    push.heads = static_cast<std::uint32_t>(row_heads);
    push.rows = static_cast<std::uint32_t>(shape.q_len);
    push.rows_pad = static_cast<std::uint32_t>(rows_pad);
    AAT_CHECK(bindings.push_struct(push));
    AAT_CHECK(stream.dispatch(bindings,
                              grid_2d(ceil_div(static_cast<std::uint64_t>(row_heads * rows_pad), kOperandWorkgroup)),
                              "pattern.row_operands"));  // kOperandWorkgroup rows a workgroup
  }
  AAT_TRY(Kernel kernel, pipelines_->key_operands_kernel(context_, head_dim));
  Bindings bindings(kernel);
  AAT_CHECK(bindings.bind(key_operands_gen::binding::KMean, k_mean));
  AAT_CHECK(bindings.bind(key_operands_gen::binding::KSquare, k_square));
  AAT_CHECK(bindings.bind(key_operands_gen::binding::Operands, out.keys));
  AAT_CHECK(bindings.bind(key_operands_gen::binding::Scales, out.key_scales));
  key_operands_gen::PushConstants push{};
  push.heads = static_cast<std::uint32_t>(key_heads);
  push.tiles_k = static_cast<std::uint32_t>(tiles_k);
  push.tiles_pad = static_cast<std::uint32_t>(tiles_pad);
  AAT_CHECK(bindings.push_struct(push));
  AAT_CHECK(stream.dispatch(bindings, grid_2d(ceil_div(static_cast<std::uint64_t>(key_heads * tiles_pad), kOperandWorkgroup)),
                            "pattern.key_operands"));
  return out;
}

Expected<Tensor> Pattern::record_anchor(Stream& stream, const Tensor& q, const Tensor& k,
                                        const attention::AttentionShape& shape, const PatternOptions& options) {
  AAT_TRY(Tensor anchor, with_context(Tensor::create(context_, DType::f32, {shape.batch, shape.q_heads, shape.q_len}),
                                      "the pattern's anchor masses (f32 [B, Hq, Nq])"));
  if (anchor.element_count() == 0) return anchor;
  const AnchorKey key = anchor_tiling(context_->device(), shape.dtype, static_cast<std::uint32_t>(shape.head_dim),
                                      shape.causal, options.key_lengths != nullptr, options.anchor_window);
  const std::int64_t blocks = (shape.q_len + key.rows - 1) / key.rows;
  if (blocks > 65535 || shape.batch * shape.q_heads > 65535)
    return fail(ErrorCode::unsupported, fmt::format("the anchor kernel takes at most 65535 blocks of {} query rows and "
                                                    "65535 batch x heads; got Nq = {}, B x Hq = {}",
                                                    key.rows, shape.q_len, shape.batch * shape.q_heads));
  AAT_TRY(Kernel kernel, pipelines_->anchor_kernel(context_, key));
  Bindings bindings(kernel);
  AAT_CHECK(bindings.bind(anchor_gen::binding::Q, q));
  AAT_CHECK(bindings.bind(anchor_gen::binding::K, k));
  AAT_CHECK(bindings.bind_or_unused(anchor_gen::binding::KeyLengths, options.key_lengths));
  AAT_CHECK(bindings.bind(anchor_gen::binding::Anchor, anchor));
  anchor_gen::PushConstants push{};
  attention::set_problem_push(push, shape, options.scale);
  push.sinks = options.anchor_sinks;
  push.window = options.anchor_window;
  AAT_CHECK(bindings.push_struct(push));
  AAT_CHECK(stream.dispatch(bindings,
                            Workgroups{static_cast<std::uint32_t>(blocks), static_cast<std::uint32_t>(shape.batch * shape.q_heads), 1},
                            "pattern.anchor"));
  return anchor;
}

Expected<void> Pattern::record_bound(Stream& stream, BlockMap& map, const Tensor& q_rows, const Tensor& q_square,
                                     const Tensor& k_mean, const Tensor& k_square,
                                     const attention::AttentionShape& shape, const PatternOptions& options,
                                     const TensorOperands* operands) {
  const auto& g = map.grid;
  const bool tensor = operands != nullptr;
  const std::uint32_t wanted = options.bound_groups > 0 ? std::min(options.bound_groups, kBoundGroups) : kBoundGroups;
  const MapKey key{static_cast<std::uint32_t>(shape.head_dim),
                   shape.causal,
                   options.key_lengths != nullptr,
                   true,
                   true,
                   true,
                   bound_max_tiles(g.tiles_k),
                   query_group(options) > 1,
                   tensor ? kTensorRows : wanted,
                   tensor,
                   tensor && shape.dtype != DType::f16};  // f16 queries have no low part
  AAT_TRY(Kernel kernel, pipelines_->map_kernel(context_, key));
  const std::uint32_t rows =
      tensor ? kTensorRows : bound_pool(context_->device(), key.head_dim, key.max_tiles, key.grouped, wanted).rows;
  // The dispatches: whole batch x head rows of query tiles while Shares stays within its budget,
  // else query tiles of one batch x head at a time.
  const std::uint64_t tile_bytes = std::uint64_t{4} * rows * static_cast<std::uint64_t>(g.tiles_k);
  const std::uint64_t wanted_bytes = options.bound_scratch_bytes > 0 ? options.bound_scratch_bytes : kBoundSharesBytes;
  const std::uint64_t budget = std::min(wanted_bytes, context_->device().limits.max_storage_buffer_range);
  const std::uint64_t tiles_per_dispatch = std::clamp<std::uint64_t>(budget / tile_bytes, 1, 65535);
  const std::uint64_t heads = static_cast<std::uint64_t>(shape.batch * shape.q_heads);
  const std::uint64_t tiles_q = static_cast<std::uint64_t>(g.tiles_q);
  const std::uint64_t heads_per_dispatch = std::clamp<std::uint64_t>(tiles_per_dispatch / tiles_q, 1, 65535);
  const std::uint64_t tiles_each = std::min(tiles_q, tiles_per_dispatch);
  const std::uint64_t workgroups = std::min(heads, heads_per_dispatch) * tiles_each;
  AAT_TRY(Tensor shares, with_context(Tensor::create(context_, DType::f32,
                                                     {static_cast<std::int64_t>(workgroups), rows, g.tiles_k}),
                                      "the bound rule's upper shares (f32 [workgroups, groups, tiles_k])"));

  Bindings bindings(kernel);
  // The two kernels share their bindings (pattern_bound.glsl) but Q's rows and the key moments,
  // which the tensor-core one reads as split operands (record_tensor_operands): those bound by
  // name, since a build without its compiler declares no names.
  if (tensor) {
    AAT_CHECK(bindings.bind("RowOperands", operands->rows));
    AAT_CHECK(bindings.bind("RowScales", operands->row_scales));
    AAT_CHECK(bindings.bind("KeyOperands", operands->keys));
    AAT_CHECK(bindings.bind("KeyScales", operands->key_scales));
  } else {
    AAT_CHECK(bindings.bind(bound_gen::binding::QMean, q_rows));
    AAT_CHECK(bindings.bind(bound_gen::binding::QSquare, q_square));
    AAT_CHECK(bindings.bind(bound_gen::binding::KMean, k_mean));
    AAT_CHECK(bindings.bind(bound_gen::binding::KSquare, k_square));
  }
  AAT_CHECK(bindings.bind(bound_gen::binding::Anchor, map.anchor));
  AAT_CHECK(bindings.bind_or_unused(bound_gen::binding::KeyLengths, options.key_lengths));
  AAT_CHECK(bindings.bind(bound_gen::binding::Density, map.density));
  AAT_CHECK(bindings.bind(bound_gen::binding::Levels, map.levels));
  AAT_CHECK(bindings.bind(bound_gen::binding::Shares, shares));
  const LevelThresholds t = thresholds(options);
  auto push = map_push<bound_gen::PushConstants>(shape, g, options);
  push.tail_pool2 = static_cast<float>(t.tail_pool2);
  push.tail_pool4 = static_cast<float>(t.tail_pool4);
  push.tail_skip = static_cast<float>(t.tail_skip);
  push.anchor_sinks = options.anchor_sinks;
  push.anchor_window = options.anchor_window;
  for (std::uint64_t h = 0; h < heads; h += heads_per_dispatch) {
    const std::uint64_t h_count = std::min(heads - h, heads_per_dispatch);
    for (std::uint64_t i = 0; i < tiles_q; i += tiles_each) {
      push.head_offset = static_cast<std::uint32_t>(h);
      push.tile_offset = static_cast<std::uint32_t>(i);
      AAT_CHECK(bindings.push_struct(push));
      const Workgroups grid{static_cast<std::uint32_t>(std::min(tiles_q - i, tiles_each)),
                            static_cast<std::uint32_t>(h_count), 1};
      AAT_CHECK(stream.dispatch(bindings, grid, "pattern.map"));
    }
  }
  return {};
}

Expected<PatternResult> Pattern::run(const Tensor& q, const Tensor& k, const PatternOptions& options) {
  AAT_TRY(Stream stream, Stream::create(context_));
  PatternResult result;
  AAT_TRY(result.map, record(stream, q, k, options));
  AAT_CHECK(stream.run());
  result.gpu_ms = stream.total_gpu_ms();
  for (const auto& t : stream.timings()) result.stages_ms[t.label] += t.gpu_ms;
  AAT_TRY(auto levels, result.map.levels.download_values<std::uint8_t>());
  result.cost = map_cost(result.map.grid, levels, options);
  return result;
}

}  // namespace aat::pattern
