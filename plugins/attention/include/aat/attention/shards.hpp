// How exact attention is divided among workers (the devices of one process, or the devices of
// several MPI ranks): which (query, key) pairs each computes.
//
//  * heads: the (batch, key/value head) pairs, with their query heads, are dealt out in
//    contiguous runs of equal count. Every worker computes final O and L for its heads; nothing
//    is merged. Chosen when there are enough pairs to keep the slowest worker within 12.5% of
//    the mean.
//  * keys (context parallelism): every worker sees all queries and a share of the keys, and
//    computes the partial softmax states (m, l, o) of every query row over them; the states are
//    merged exactly (shaders/aat/softmax_state.glsl). Without a causal mask the keys are cut into
//    one contiguous range per worker. With one, key j is seen by w(j) = #{i : j <= i + Nk - Nq}
//    queries: all Nq over the prefix j < Nk - Nq, then Nq, Nq - 1, ..., 1 (the triangle). The
//    prefix is cut into one piece per worker; the triangle into 2W equal chunks dealt zig-zag,
//    worker r taking chunks r and 2W-1-r, so that every worker holds as many keys and as many
//    visible (query, key) pairs as any other (a heavy early chunk with a light late one; w is
//    linear, so the pairs of chunks r and 2W-1-r sum to the same for every r). Contiguous halves
//    would give the first worker 3/4 of the work.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aat/attention/tiling.hpp"

namespace aat::attention {

enum class ShardMode { automatic, heads, keys };
std::string_view to_string(ShardMode mode);
std::optional<ShardMode> parse_shard_mode(std::string_view name);  // "auto", "heads", "keys"

// Keys [begin, end) of every (batch, head). `causal`: some key of the range is hidden from some
// query by the causal mask (only such ranges need the mask when they run).
struct KeyRange {
  std::int64_t begin = 0, end = 0;
  bool causal = false;
  std::int64_t size() const { return end - begin; }
  bool operator==(const KeyRange&) const = default;
};

struct WorkerShare {
  std::int64_t unit_begin = 0, unit_end = 0;  // heads: (batch, kv head) pairs u = b * Hkv + h, [begin, end)
  std::vector<KeyRange> keys;                 // keys: the ranges, ascending, adjacent ones joined
  double flops = 0;                           // 4 D x the visible (query, key) pairs it computes
  bool idle() const { return unit_end == unit_begin && keys.empty(); }
  std::string describe(ShardMode mode) const;  // "heads 0..7" / "keys 0..255 768..1023"
};

struct ShardPlan {
  ShardMode mode = ShardMode::heads;  // heads or keys, never automatic
  std::vector<WorkerShare> workers;
  std::string reason;                 // why this mode, in a sentence
  double flops() const;               // sum over workers
  double imbalance() const;           // largest worker's flops / mean (1 = perfect; 0 when no work)
};

// The slowest worker of a heads division may hold this much more than the mean before the
// automatic choice divides keys (or, for adaptive attention, query tiles) instead.
inline constexpr double kHeadsImbalance = 1.125;
// Whether `units` (batch, kv head) pairs dealt out to `workers` keep within kHeadsImbalance.
bool heads_balanced(std::int64_t units, std::size_t workers);

// The plan for `workers` workers (>= 1). key_lengths: one per batch, or empty. Forcing keys or
// heads is honoured whatever the balance (a worker may stay idle when there is too little work).
ShardPlan plan_shards(const AttentionShape& shape, std::size_t workers, ShardMode mode = ShardMode::automatic,
                      std::span<const std::int32_t> key_lengths = {});

// Visible (query, key) pairs of keys [range) over all B x Hq rows, with the causal mask of
// `shape` and the key lengths (empty: none).
double visible_pairs(const AttentionShape& shape, const KeyRange& range, std::span<const std::int32_t> key_lengths = {});

}  // namespace aat::attention
