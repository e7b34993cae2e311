// The cross-tile router: from a block map (aat/pattern/pattern.hpp) to balanced work items,
// and the exact merge of the partial softmax states the items produce.
//
//  * boundary handling: fully masked blocks are dropped whatever the map says, partially
//    masked blocks run at full resolution, skipped blocks are dropped;
//  * resolution matching: a block pooled x2 / x4 runs over mean-pooled keys and values
//    (Pyramid), each pooled key standing for its pool: log(keys in the pool) is added to its
//    score, so a pool of equal scores carries exactly the mass of its keys;
//  * load distribution: each query tile's kept blocks, as key slots (a full block of c keys is
//    c slots, pooled x p is ceil(c / p)), are cut into items of about equal slot counts, no
//    more than `item_slots` each;
//  * state transfer: items of one query tile write partial states (m, l, o), merged exactly by
//    shaders/aat/merge_partials_ranged.glsl (the layout variant of attention's split-K merge,
//    same softmax_state.glsl rule). A query tile with one item writes O directly.
// The work-item layout is documented in shaders/route_common.glsl and README.md.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/pattern/pattern.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"

namespace aat::router {

inline constexpr std::uint32_t kNoSlot = 0xffffffffu;

// Counters the plan kernel fills (u32 each).
enum Counter : std::uint32_t { items = 0, partial_slots = 1, kept_blocks = 2, total_slots = 3, overflow = 4 };
inline constexpr std::uint32_t kCounterCount = 8;

struct RouterOptions {
  // Target key slots per work item; 0: chosen from the device (device_item_slots).
  std::uint32_t item_slots = 0;
};

// A plan on the device, filled once the stream has run. The tensors are i32 holding u32 values.
struct Plan {
  pattern::BlockGrid grid;
  Tensor row_blocks;  // u32 [rows, Tk]: row tile r's kept blocks, in key order: (j << 2) | level
  Tensor row_items;   // u32 [rows, 2]: (item count, first partial slot or kNoSlot)
  Tensor items;       // u32 [item_capacity, 4]: (row tile, first block, end block, partial slot or kNoSlot)
  Tensor counters;    // u32 [kCounterCount] (Counter)
  std::uint32_t item_slots = 0;
  std::uint32_t item_capacity = 0;     // upper bound of items: the attention grid
  std::uint32_t partial_capacity = 0;  // upper bound of partial slots (0: no query tile is ever split)
  std::int64_t rows() const { return grid.shape.batch * grid.shape.q_heads * grid.tiles_q; }
};

// The plan, read back: for tests, reports and the CLI.
struct PlanStats {
  std::int64_t items = 0, partial_slots = 0, kept_blocks = 0, total_slots = 0, overflow = 0;
  std::int64_t max_item_slots = 0, min_item_slots = 0;
  double mean_item_slots = 0;
  double balance() const { return mean_item_slots > 0 ? static_cast<double>(max_item_slots) / mean_item_slots : 0.0; }
  std::int64_t split_rows = 0;  // query tiles with two or more items
};

struct PlanContents {
  std::vector<std::uint32_t> row_blocks, row_items, items, counters;
};

// Mean-pooled keys and values for pooled blocks: x2 and x4 along the key axis, K's dtype.
struct Pyramid {
  Tensor k2, v2, k4, v4;
};

// Key slots a block of `cols` keys takes at `level` (0, 1, 2).
std::uint32_t block_slots(std::int64_t cols, std::uint32_t level);

// item_slots for a device and grid: items enough to fill the device (a few per compute unit),
// never smaller than 4 tiles of `tile_keys`. The kernel that runs the items bounds them further
// where the device needs it (adaptive::max_item_slots: llvmpipe's loop limit).
std::uint32_t device_item_slots(const DeviceInfo& device, const pattern::BlockGrid& grid, std::uint32_t tile_keys = 64);

class Router {
 public:
  static Expected<Router> create(const std::shared_ptr<Context>& context);

  // Records the plan of `map` (levels u8 [B, Hq, Tq, Tk] on the device, grid on the host).
  Expected<Plan> record_plan(Stream& stream, const pattern::BlockMap& map, const RouterOptions& options = {});

  // Records the pyramid (x2, x4 mean pools of K and V) a plan with pooled blocks reads.
  Expected<Pyramid> record_pyramid(Stream& stream, pattern::Pattern& pattern, const Tensor& k, const Tensor& v);

  // Records the exact merge of the items' partial states into `out` ([B, Hq, Nq, D], f32 or f16)
  // and `lse` (f32 [B, Hq, Nq]): partial_o f32 [partial_capacity, block_q, D], partial_state f32
  // [partial_capacity, block_q, 2] (empty Tensors when partial_capacity is 0). Query tiles of
  // one item are left as written; tiles with no item get O = 0, L = -inf.
  Expected<void> record_merge(Stream& stream, const Plan& plan, const Tensor& partial_o, const Tensor& partial_state,
                              const Tensor& out, const Tensor& lse);

  // The general merge for callers with their own layout: `group_states` u32 [groups, 2] =
  // (count, first slot) for groups of `group_rows` consecutive query rows, states at
  // partial_o [slots, group_rows, D] / partial_state [slots, group_rows, 2]. skip_single: see
  // merge_partials_ranged.glsl.
  Expected<void> record_ranged_merge(Stream& stream, const Tensor& partial_o, const Tensor& partial_state,
                                     const Tensor& group_states, std::uint32_t group_rows, bool skip_single,
                                     const Tensor& out, const Tensor& lse);

  // Downloads a plan after its stream ran.
  Expected<PlanContents> read(const Plan& plan) const;
  Expected<PlanStats> stats(const Plan& plan) const;

  const std::shared_ptr<Context>& context() const { return context_; }

 private:
  std::shared_ptr<Context> context_;
};

}  // namespace aat::router
