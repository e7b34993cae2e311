// The pattern: how much attention mass each (query tile, key tile) block is likely to hold,
// estimated from pooled tiles, and the resolution (level) each block gets from it.
//
// For query tile i (block_q rows) and key tile j (block_k keys) of one (batch, head), from the
// key tile means mean(K_j):
//   tile estimate:  s_ij = scale * mean(Q_i) . mean(K_j) + log n_ij   (n_ij: visible keys per
//                   row; block_k for a fully visible whole tile), density_ij = softmax_j s_ij;
//   row estimate:   the same per group a of `query_group` query rows (q_a their mean),
//                   s_aj = scale * q_a . mean(K_j) + log n_aj, and density_ij = mean over the
//                   tile's groups of softmax_j s_aj (the default: a query tile only some of
//                   whose rows attend to a block keeps its mass);
//   variance:       (default on) + min(scale^2 / 2 * sum_d q_d^2 Var_j(k_d), variance_cap), the
//                   log-normal second moment of the tile's scores, so a tile of a few strong
//                   keys among weak ones is not rated by its mean score alone (capped: a tile of
//                   two key populations makes the log-normal term overshoot).
// The formula is {tile, variance off}.
// Two rules turn the estimates into levels (docs/adaptive.md has the derivation):
//   mass:  blocks ranked by density keep full resolution until they hold `mass` of the row
//          tile's *estimated* mass, the next share is pooled (x2, then x4: mean-pooled keys and
//          values), the rest is skipped;
//   bound (default): per group of query rows, an upper estimate of each block's mass
//          (n exp(mean + variance / 2), the variance uncapped and with the query rows' spread)
//          over a lower bound of the group's mass (the exact mass of a few anchor keys per row
//          plus Jensen's bound n exp(mean) of the other blocks); blocks are promoted
//          (skip -> pooled -> full) until the upper estimate of the mass not run at full
//          resolution is at most `epsilon` of that lower bound, in every group of the tile.
// Blocks next to a block ranked full (within `halo` key tiles) are full too. The first key
// tile and the tiles around the diagonal are always full; masked blocks are marked masked;
// partially masked blocks are never pooled.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aat/attention/attention.hpp"
#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"

namespace aat::pattern {

// One byte per block in the map. Pool size of a kept level: 1 << level.
enum class BlockLevel : std::uint8_t { full = 0, pool2 = 1, pool4 = 2, skip = 3, masked = 4 };
inline constexpr int kLevelCount = 5;
std::string_view to_string(BlockLevel level);
// 1, 2 or 4 for kept levels; 0 for skip and masked.
std::uint32_t pool_size(BlockLevel level);

// The default `mass`: see docs/adaptive.md ("Choosing mass") for the measurements behind it.
inline constexpr double kDefaultMass = 0.9;
// The default `epsilon` of the bound rule: see docs/adaptive.md ("The bound rule").
inline constexpr double kDefaultEpsilon = 0.01;

enum class Estimator : std::uint8_t { tile, row };
std::string_view to_string(Estimator estimator);

// How estimates become levels: a share of the estimated mass (mass) or a bound on the share
// of mass not run at full resolution (bound; the row estimator only).
enum class Mode : std::uint8_t { mass, bound };
std::string_view to_string(Mode mode);
std::optional<Mode> parse_mode(std::string_view name);  // "mass", "bound"

// Where the bound rule's map kernel computes the moments of each (query row, key tile) (docs/
// adaptive.md, "The bound rule's kernel and its cost"): f32 dot products on the invocations (any
// device; the default), or f16 matrix products of split operands on the tensor cores through
// VK_KHR_cooperative_matrix (16x16x16 f16, subgroups of 32, D <= 128, groups of one query row),
// which is correct to the same tolerances but slower on the H200 (1.1-1.4x the map kernel's time:
// the moments are no longer what limits it).
enum class MomentsPath : std::uint8_t { invocations, tensor_cores };
std::string_view to_string(MomentsPath path);

// causal, scale and key_lengths as for attention (attention::AttentionMask).
struct PatternOptions : attention::AttentionMask {
  std::uint32_t block_q = 32;           // Br: query rows per tile (a multiple of 1, at most 256)
  std::uint32_t block_k = 64;           // Bc: keys per tile (a multiple of 4, at most 1024)
  Mode mode = Mode::bound;
  // mass rule: share of each query tile's estimated mass kept at full resolution (0..1; >= 1:
  // every visible block full, which is exact attention).
  double mass = kDefaultMass;
  // bound rule: the largest share of a query group's mass (upper estimate over lower bound) not
  // run at full resolution (0..1; 0: every visible block full).
  double epsilon = kDefaultEpsilon;
  // Of the remainder (1 - mass, or epsilon), the share pooled x2 next, then the share pooled
  // x4; the rest (at most remainder x (1 - pool2_share - pool4_share)) is skipped.
  double pool2_share = 0.5;
  double pool4_share = 0.25;
  std::uint32_t sink_tiles = 1;              // leading key tiles always full
  std::optional<std::uint32_t> local_window; // keys around the diagonal always full (default block_k)
  std::uint32_t halo = 1;                    // key tiles beside a block ranked full kept full too
  Estimator estimator = Estimator::row;  // the bound rule needs row
  bool variance = true;       // mass rule (the bound rule always has the variance term, uncapped)
  double variance_cap = 8.0;  // mass rule: the largest variance term (logits)
  // Row estimate: query rows per group (1: every row); 0: the rule's default, 1 with the bound
  // rule (docs/adaptive.md: a group whose rows attend to different keys, e.g. one row of a
  // retrieval run, is not log-normal and loses that row's keys), 4 with the mass rule.
  std::uint32_t query_group = 0;
  // bound rule: the anchor keys of query row a, whose exact mass bounds the row's mass from
  // below: the first `anchor_sinks` keys and the `anchor_window` keys ending at the row's
  // diagonal key a + Nk - Nq (the visible ones).
  std::uint32_t anchor_sinks = 4;
  std::uint32_t anchor_window = 32;
  // bound rule, speed only: query groups the map kernel estimates in one pass over the key
  // tiles' moments (0: the default, 16; at most 16, fewer where shared memory is short).
  std::uint32_t bound_groups = 0;
  // bound rule: device memory for the map kernel's scratch (log U per group and key tile) per
  // dispatch (0: 256 MiB); a larger problem is dispatched in parts (whole heads, or ranges of
  // one head's query tiles), so this bounds memory, not the problem.
  std::uint64_t bound_scratch_bytes = 0;
  // bound rule, speed only: where the map kernel computes the moments (the maps agree to the
  // suite's tolerances either way; tensor_cores is an error where the device cannot).
  MomentsPath bound_moments = MomentsPath::invocations;
};

// Thresholds of the levels. mass rule: on the ranked mass before a block (pattern_map.comp);
// bound rule: on the upper share of the blocks ranked at or after it (pattern_bound.comp):
// full above `pool2`, pooled x2 above `pool4`, pooled x4 above `skip`, else skipped.
struct LevelThresholds {
  double full = 0, pool2 = 0, pool4 = 0;  // mass rule
  double tail_pool2 = 0, tail_pool4 = 0, tail_skip = 0;  // bound rule
  bool all_full = false;
};
LevelThresholds thresholds(const PatternOptions& options);

// Query rows per group of the row estimate: query_group (or the rule's default) made a divisor
// of block_q.
std::uint32_t query_group(const PatternOptions& options);

enum class Visibility : std::uint8_t { masked, partial, full };

// The tile grid of one problem and its mask geometry, on the host.
struct BlockGrid {
  attention::AttentionShape shape;
  std::int64_t block_q = 32, block_k = 64;
  std::int64_t tiles_q = 0, tiles_k = 0;
  std::vector<std::int32_t> key_lengths;  // empty: none

  static BlockGrid make(const attention::AttentionShape& shape, std::int64_t block_q, std::int64_t block_k,
                        std::vector<std::int32_t> key_lengths = {});
  std::int64_t blocks() const { return shape.batch * shape.q_heads * tiles_q * tiles_k; }
  std::int64_t rows(std::int64_t i) const;   // query rows of tile i
  std::int64_t cols(std::int64_t j) const;   // keys of tile j
  std::int64_t key_limit(std::int64_t b) const;
  Visibility visibility(std::int64_t b, std::int64_t i, std::int64_t j) const;
  std::int64_t visible_pairs(std::int64_t b, std::int64_t i, std::int64_t j) const;
  std::string describe() const;
};

// What a map costs and what it keeps.
struct LevelCounts {
  std::array<std::int64_t, kLevelCount> blocks{};  // by BlockLevel
  std::int64_t visible() const;                    // all but masked
  double share(BlockLevel level) const;            // of the visible blocks
};

struct MapCost {
  double dense_flops = 0;      // 4 D x visible (query, key) pairs: exact attention
  double attention_flops = 0;  // 4 D x (visible pairs of full blocks + rows x pooled keys of pooled blocks)
  double pattern_flops = 0;    // tile means and block scores
  LevelCounts levels;
  double predicted_flops() const { return attention_flops + pattern_flops; }
  double cer() const { return predicted_flops() > 0 ? dense_flops / predicted_flops() : 0.0; }
};

// Cost of a map (one level byte per block of `grid`, C order [B, Hq, Tq, Tk]).
// `options` says which estimator made the map (its cost).
MapCost map_cost(const BlockGrid& grid, std::span<const std::uint8_t> levels, const PatternOptions& options = {});

struct BlockMap {
  Tensor levels;   // u8 [B, Hq, Tq, Tk], BlockLevel values
  // f32 [B, Hq, Tq, Tk]. mass rule: the estimated share of the tile's mass; bound rule: the
  // largest upper share over the tile's query groups (may exceed 1).
  Tensor density;
  Tensor anchor;   // bound rule: f32 [B, Hq, Nq], log of each row's anchor mass (-inf: none)
  BlockGrid grid;
};

struct PatternResult {
  BlockMap map;
  MapCost cost;
  double gpu_ms = 0;
  // GPU time per dispatch label (pattern.pool, pattern.anchor, pattern.map), summed.
  std::map<std::string, double> stages_ms;
};

// Prepared pipelines for one context (built on first use per configuration). Not thread-safe.
// The operands of the bound rule's tensor-core map kernel (split f16 planes and their scales).
struct TensorOperands {
  Tensor rows, row_scales, keys, key_scales;
};

class Pattern {
 public:
  static Expected<Pattern> create(const std::shared_ptr<Context>& context);

  // Checks the inputs and records the pooling and map dispatches into `stream` (nothing is
  // submitted). The returned tensors are filled once the stream has run.
  Expected<BlockMap> record(Stream& stream, const Tensor& q, const Tensor& k, const PatternOptions& options = {});

  // record + run + the map's cost.
  Expected<PatternResult> run(const Tensor& q, const Tensor& k, const PatternOptions& options = {});

  // Records the mean over consecutive groups of `pool` rows of x [..., N, D] into a new tensor
  // [..., ceil(N / pool), D] of dtype `out` (f32, or x's dtype). With `key_lengths` (i32 [B],
  // x [B, H, N, D]) rows at or beyond the batch's length are left out of the means.
  // The dispatch is labelled `label` in the stream's timings. `squares`: the means of x^2.
  // `tile_major` (D a multiple of 4): stored [..., D / 4, ceil(N / pool), 4] in the returned
  // tensor's bytes (its shape stays [..., ceil(N / pool), D]), as the bound rule's map reads it.
  Expected<Tensor> record_pool(Stream& stream, const Tensor& x, std::uint32_t pool, DType out,
                               const Tensor* key_lengths = nullptr, const std::string& label = "pattern.pool",
                               bool squares = false, bool tile_major = false);

  const std::shared_ptr<Context>& context() const { return context_; }

  // Why the bound rule's map kernel cannot run on `device` (it needs subgroup arithmetic and vote
  // in compute shaders), or empty. `record` refuses the bound rule there with this message; the
  // mass rule runs anywhere.
  static std::string bound_rule_refusal(const DeviceInfo& device);
  // Why the bound rule's map kernel cannot hold rows of `tiles_k` key tiles at `head_dim` in the
  // shared memory of `device` (query groups of several rows when `grouped`), or empty.
  static std::string bound_map_refusal(const DeviceInfo& device, std::uint32_t head_dim, std::int64_t tiles_k,
                                       bool grouped);
  // Why the bound rule's map kernel cannot compute the moments on the tensor cores of `device`
  // for this problem (groups of `query_group` rows, rows of `tiles_k` key tiles), or empty.
  static std::string tensor_moments_refusal(const DeviceInfo& device, std::uint32_t head_dim, std::int64_t tiles_k,
                                            std::uint32_t query_group);

  // Records the tensor-core map kernel's operands (row_operands.comp, key_operands.comp) from Q's
  // rows in f32 [B, Hq, Nq, D] and the key tiles' tile-major moments (record_pool's, f32).
  Expected<TensorOperands> record_tensor_operands(Stream& stream, const Tensor& q_rows, const Tensor& k_mean,
                                                  const Tensor& k_square, const attention::AttentionShape& shape,
                                                  std::int64_t tiles_k);

 private:
  // The bound rule's dispatches: the anchor masses, and the map from the pooled moments.
  Expected<Tensor> record_anchor(Stream& stream, const Tensor& q, const Tensor& k, const attention::AttentionShape& shape,
                                 const PatternOptions& options);
  Expected<void> record_bound(Stream& stream, BlockMap& map, const Tensor& q_rows, const Tensor& q_square,
                              const Tensor& k_mean, const Tensor& k_square, const attention::AttentionShape& shape,
                              const PatternOptions& options, const TensorOperands* operands);
  struct Pipelines;
  std::shared_ptr<Context> context_;
  std::shared_ptr<Pipelines> pipelines_;
};

// Checks pattern options against a shape (tile sizes, shares, tile counts the map kernel holds).
Expected<void> check_options(const attention::AttentionShape& shape, const PatternOptions& options);

// The largest number of key tiles per row the map kernel holds.
inline constexpr std::uint32_t kMaxKeyTiles = 2048;

}  // namespace aat::pattern
