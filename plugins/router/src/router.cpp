#include "aat/router/router.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "router/merge_ranged_f16.bindings.hpp"
#include "router/merge_ranged_f32.bindings.hpp"
#include "router/route_items.bindings.hpp"
#include "router/route_lists.bindings.hpp"
#include "router/route_scan.bindings.hpp"

namespace aat::router {

namespace {

namespace lists_gen = plugin_gen::router::route_lists;
namespace scan_gen = plugin_gen::router::route_scan;
namespace items_gen = plugin_gen::router::route_items;
static_assert(sizeof(scan_gen::PushConstants) == sizeof(lists_gen::PushConstants));
static_assert(sizeof(items_gen::PushConstants) == sizeof(lists_gen::PushConstants));
namespace ranged = plugin_gen::router::merge_ranged_f32;  // f16 shares the interface
static_assert(sizeof(plugin_gen::router::merge_ranged_f16::PushConstants) == sizeof(ranged::PushConstants));

constexpr std::uint32_t kPlanWorkgroup = 64;
constexpr std::uint32_t kScanWorkgroup = 256;
constexpr std::uint32_t kMergeWorkgroup = 64;

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) { return static_cast<std::uint32_t>((a + b - 1) / b); }

Workgroups grid_2d(std::uint32_t groups) {
  const std::uint32_t width = std::min<std::uint32_t>(std::max(groups, 1u), 65535);
  return Workgroups{width, ceil_div(groups, width), 1};
}

struct PlanKey {
  int pass;  // 0 lists, 1 scan, 2 items
  bool causal, lengths;
};

struct MergeKey {
  DType dtype;  // of the output: f32 or f16
  std::uint32_t head_dim, group_rows;
  bool skip_single;
};

// Visible keys of each row tile (per batch entry and query tile), from the mask geometry.
std::vector<std::int64_t> visible_keys(const pattern::BlockGrid& g) {
  std::vector<std::int64_t> keys(static_cast<std::size_t>(g.shape.batch * g.tiles_q), 0);
  for (std::int64_t b = 0; b < g.shape.batch; ++b)
    for (std::int64_t i = 0; i < g.tiles_q; ++i)
      for (std::int64_t j = 0; j < g.tiles_k; ++j)
        if (g.visibility(b, i, j) != pattern::Visibility::masked) keys[static_cast<std::size_t>(b * g.tiles_q + i)] += g.cols(j);
  return keys;
}

}  // namespace

std::uint32_t block_slots(std::int64_t cols, std::uint32_t level) {
  const std::int64_t pool = std::int64_t{1} << level;
  return static_cast<std::uint32_t>((cols + pool - 1) / pool);
}

std::uint32_t device_item_slots(const DeviceInfo& device, const pattern::BlockGrid& grid, std::uint32_t tile_keys) {
  // Dense slots of the whole problem over a few items per unit of parallelism; long rows are
  // split only where there are too few row tiles to keep the device busy.
  const double dense = static_cast<double>(grid.shape.batch * grid.shape.q_heads * grid.tiles_q) *
                       static_cast<double>(grid.shape.kv_len) * (grid.shape.causal ? 0.5 : 1.0);
  const double wanted_items = 4.0 * attention::device_parallelism(device);
  const double per_item = std::max(dense / wanted_items, 4.0 * tile_keys);
  const double capped = std::min(per_item, static_cast<double>(std::numeric_limits<std::uint32_t>::max() / 2));
  return static_cast<std::uint32_t>(capped / tile_keys + 0.999) * tile_keys;
}

namespace {

// The kernels of a configuration: built by the context's kernel cache on first use and found
// there afterwards (a Router keeps no kernel map).
Expected<Kernel> plan_kernel(const std::shared_ptr<Context>& context, const PlanKey& key) {
  if (key.pass == 0)
    return Kernel::create(context, lists_gen::spirv(), "router.lists",
                          {.spec = lists_gen::Specialization{.local_size_x = kPlanWorkgroup,
                                                             .CAUSAL = key.causal,
                                                             .HAS_LENGTHS = key.lengths}
                                       .entries()});
  if (key.pass == 1)
    return Kernel::create(context, scan_gen::spirv(), "router.scan",
                          {.spec = scan_gen::Specialization{.local_size_x = kScanWorkgroup}.entries()});
  return Kernel::create(context, items_gen::spirv(), "router.items",
                        {.spec = items_gen::Specialization{.local_size_x = kPlanWorkgroup}.entries()});
}

// Each variant through its own header: the f16 kernel's constants are checked against its own
// reflection, not the f32 kernel's.
template <class Specialization>
std::vector<std::pair<std::string, Value>> merge_spec(const MergeKey& key) {
  return Specialization{.local_size_x = kMergeWorkgroup,
                        .HEAD_DIM = key.head_dim,
                        .GROUP_ROWS = key.group_rows,
                        .SKIP_SINGLE = key.skip_single}
      .entries();
}

Expected<Kernel> merge_kernel(const std::shared_ptr<Context>& context, const MergeKey& key) {
  const std::string name = fmt::format("router.merge_ranged_{}", to_string(key.dtype));
  if (key.dtype == DType::f16)
    return Kernel::create(context, plugin_gen::router::merge_ranged_f16::spirv(), name,
                          {.spec = merge_spec<plugin_gen::router::merge_ranged_f16::Specialization>(key)});
  return Kernel::create(context, ranged::spirv(), name, {.spec = merge_spec<ranged::Specialization>(key)});
}

}  // namespace

Expected<Router> Router::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "Router::create: no context");
  const auto& features = context->device().features;
  if (!features.storage_buffer_16bit || !features.shader_float16 || !features.storage_buffer_8bit)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' lacks 8/16-bit storage or float16 arithmetic, which "
                                                    "the router kernels need", context->device().name));
  Router router;
  router.context_ = context;
  return router;
}

Expected<Plan> Router::record_plan(Stream& stream, const pattern::BlockMap& map, const RouterOptions& options) {
  const auto& g = map.grid;
  const auto& s = g.shape;
  const std::vector<std::int64_t> want{s.batch, s.q_heads, g.tiles_q, g.tiles_k};
  if (!map.levels || map.levels.dtype() != DType::u8 || map.levels.shape() != want)
    return fail(ErrorCode::invalid_argument,
                fmt::format("router: the block map must be u8 [{}] for {}, got {}", shape_to_string(want), g.describe(),
                            map.levels ? map.levels.describe() : "none"));
  if (g.block_k % 4 != 0)
    return fail(ErrorCode::invalid_argument, fmt::format("router: block_k = {} is not a multiple of 4", g.block_k));
  if (!g.key_lengths.empty() && static_cast<std::int64_t>(g.key_lengths.size()) != s.batch)
    return fail(ErrorCode::invalid_argument, "router: the grid's key lengths do not match the batch");

  Plan plan;
  plan.grid = g;
  plan.item_slots = options.item_slots ? options.item_slots : device_item_slots(context_->device(), g);
  const auto rows = static_cast<std::uint64_t>(plan.rows());
  // Capacities: each row tile makes at most ceil(visible keys / item_slots) items.
  const auto keys = visible_keys(g);
  std::uint64_t item_capacity = 0, partial_capacity = 0;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t i = 0; i < g.tiles_q; ++i) {
      const std::uint64_t most = ceil_div(static_cast<std::uint64_t>(keys[static_cast<std::size_t>(b * g.tiles_q + i)]),
                                          plan.item_slots);
      item_capacity += most * static_cast<std::uint64_t>(s.q_heads);
      if (most >= 2) partial_capacity += most * static_cast<std::uint64_t>(s.q_heads);
    }
  if (item_capacity >= (std::uint64_t{1} << 31) || rows * static_cast<std::uint64_t>(g.tiles_k) >= (std::uint64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("router: {} makes too many work items ({})", g.describe(), item_capacity));
  plan.item_capacity = static_cast<std::uint32_t>(item_capacity);
  plan.partial_capacity = static_cast<std::uint32_t>(partial_capacity);

  const auto r = static_cast<std::int64_t>(rows);
  AAT_TRY(plan.row_blocks, with_context(Tensor::create(context_, DType::i32, {r, std::max<std::int64_t>(g.tiles_k, 1)}),
                                       "the router's block lists 'row_blocks' (i32 [B Hq tiles_q, tiles_k])"));
  AAT_TRY(plan.row_items, with_context(Tensor::create(context_, DType::i32, {r, 2}), "the router's 'row_items'"));
  AAT_TRY(plan.items, with_context(Tensor::create(context_, DType::i32, {std::max<std::int64_t>(plan.item_capacity, 1), 4}),
                                   "the router's work items 'items' (i32 [items, 4])"));
  AAT_TRY(plan.counters, Tensor::create(context_, DType::i32, {kCounterCount}));
  AAT_CHECK(stream.fill(plan.counters.buffer(), 0));
  if (rows == 0) return plan;


  Tensor lengths;
  if (!g.key_lengths.empty()) {
    AAT_TRY(lengths, Tensor::from_values<std::int32_t>(context_, DType::i32, {s.batch}, g.key_lengths));
  }
  AAT_TRY(Tensor row_counts, Tensor::create(context_, DType::i32, {r, 4}));
  lists_gen::PushConstants push{};
  push.rows = static_cast<std::uint32_t>(rows);
  push.q_heads = static_cast<std::uint32_t>(s.q_heads);
  push.tiles_q = static_cast<std::uint32_t>(g.tiles_q);
  push.tiles_k = static_cast<std::uint32_t>(g.tiles_k);
  push.q_len = static_cast<std::uint32_t>(s.q_len);
  push.kv_len = static_cast<std::uint32_t>(s.kv_len);
  push.block_q = static_cast<std::uint32_t>(g.block_q);
  push.block_k = static_cast<std::uint32_t>(g.block_k);
  push.item_slots = plan.item_slots;
  push.item_capacity = plan.item_capacity;
  push.partial_capacity = plan.partial_capacity;
  const bool has_lengths = !g.key_lengths.empty();
  const Workgroups per_row = grid_2d(ceil_div(rows, kPlanWorkgroup));
  for (int pass = 0; pass < 3; ++pass) {
    AAT_TRY(Kernel kernel, plan_kernel(context_, PlanKey{pass, pass == 0 && s.causal, pass == 0 && has_lengths}));
    Bindings bindings(kernel);
    if (pass == 0) {
      AAT_CHECK(bindings.bind(lists_gen::binding::RowBlocks, plan.row_blocks));
      AAT_CHECK(bindings.bind(lists_gen::binding::RowCounts, row_counts));
      AAT_CHECK(bindings.bind(lists_gen::binding::Levels, map.levels));
      AAT_CHECK(bindings.bind_or_unused(lists_gen::binding::KeyLengths, lengths.buffer()));
    } else if (pass == 1) {
      AAT_CHECK(bindings.bind(scan_gen::binding::RowCounts, row_counts));
      AAT_CHECK(bindings.bind(scan_gen::binding::RowItems, plan.row_items));
      AAT_CHECK(bindings.bind(scan_gen::binding::Counters, plan.counters));
    } else {
      AAT_CHECK(bindings.bind(items_gen::binding::RowBlocks, plan.row_blocks));
      AAT_CHECK(bindings.bind(items_gen::binding::RowCounts, row_counts));
      AAT_CHECK(bindings.bind(items_gen::binding::RowItems, plan.row_items));
      AAT_CHECK(bindings.bind(items_gen::binding::Counters, plan.counters));
      AAT_CHECK(bindings.bind(items_gen::binding::Items, plan.items));
    }
    AAT_CHECK(bindings.push_struct(push));
    static constexpr const char* kLabels[] = {"router.lists", "router.scan", "router.items"};
    AAT_CHECK(stream.dispatch(bindings, pass == 1 ? Workgroups{1, 1, 1} : per_row, kLabels[pass]));
  }
  return plan;
}

Expected<Pyramid> Router::record_pyramid(Stream& stream, pattern::Pattern& pattern, const Tensor& k, const Tensor& v) {
  Pyramid pyramid;
  if (!k || !v || k.shape() != v.shape() || k.dtype() != v.dtype())
    return fail(ErrorCode::invalid_argument, fmt::format("pyramid: K and V must share shape and dtype, got {} and {}",
                                                         k ? k.describe() : "none", v ? v.describe() : "none"));
  AAT_TRY(pyramid.k2, pattern.record_pool(stream, k, 2, k.dtype(), nullptr, "router.pyramid"));
  AAT_TRY(pyramid.v2, pattern.record_pool(stream, v, 2, v.dtype(), nullptr, "router.pyramid"));
  AAT_TRY(pyramid.k4, pattern.record_pool(stream, k, 4, k.dtype(), nullptr, "router.pyramid"));
  AAT_TRY(pyramid.v4, pattern.record_pool(stream, v, 4, v.dtype(), nullptr, "router.pyramid"));
  return pyramid;
}

Expected<void> Router::record_ranged_merge(Stream& stream, const Tensor& partial_o, const Tensor& partial_state,
                                           const Tensor& group_states, std::uint32_t group_rows, bool skip_single,
                                           const Tensor& out, const Tensor& lse) {
  if (!out || out.rank() != 4 || (out.dtype() != DType::f32 && out.dtype() != DType::f16))
    return fail(ErrorCode::invalid_argument, fmt::format("merge: out must be f32/f16 [B, H, N, D], got {}",
                                                         out ? out.describe() : "none"));
  const std::int64_t q_len = out.dim(2), head_dim = out.dim(3);
  const std::int64_t slices = out.dim(0) * out.dim(1);
  const std::int64_t rows = slices * q_len;
  if (!lse || lse.dtype() != DType::f32 || lse.element_count() != rows)
    return fail(ErrorCode::invalid_argument, fmt::format("merge: lse must be f32 with {} elements, got {}", rows,
                                                         lse ? lse.describe() : "none"));
  if (group_rows == 0) return fail(ErrorCode::invalid_argument, "merge: group_rows must be at least 1");
  const std::int64_t tiles_q = (q_len + group_rows - 1) / group_rows;
  if (group_states.element_count() < slices * tiles_q * 2 || group_states.dtype() != DType::i32)
    return fail(ErrorCode::invalid_argument, fmt::format("merge: group_states must be u32 [{}, 2], got {}", slices * tiles_q,
                                                         group_states.describe()));
  if (rows == 0 || head_dim == 0) return {};
  if ((partial_o && partial_o.dtype() != DType::f32) || (partial_state && partial_state.dtype() != DType::f32))
    return fail(ErrorCode::type_mismatch, "merge: partial states must be f32");
  AAT_TRY(Kernel kernel, merge_kernel(context_, MergeKey{out.dtype(), static_cast<std::uint32_t>(head_dim), group_rows,
                                                         skip_single}));
  Bindings bindings(kernel);
  // No partial states (no query tile was split): the merge only fills empty tiles.
  const auto states_buffer = [](const Tensor& states) { return states.element_count() ? states.buffer() : Buffer(); };
  AAT_CHECK(bindings.bind_or_unused(ranged::binding::partial_o, states_buffer(partial_o)));
  AAT_CHECK(bindings.bind_or_unused(ranged::binding::partial_state, states_buffer(partial_state)));
  AAT_CHECK(bindings.bind(ranged::binding::group_states, group_states));
  AAT_CHECK(bindings.bind(ranged::binding::out_o, out));
  AAT_CHECK(bindings.bind(ranged::binding::out_lse, lse));
  ranged::PushConstants push{};
  push.rows = static_cast<std::uint32_t>(rows);
  push.q_len = static_cast<std::uint32_t>(q_len);
  push.tiles_q = static_cast<std::uint32_t>(tiles_q);
  AAT_CHECK(bindings.push_struct(push));
  AAT_CHECK(stream.dispatch(bindings, grid_2d(ceil_div(static_cast<std::uint64_t>(rows * head_dim), kMergeWorkgroup)),
                            "router.merge"));
  return {};
}

Expected<void> Router::record_merge(Stream& stream, const Plan& plan, const Tensor& partial_o,
                                    const Tensor& partial_state, const Tensor& out, const Tensor& lse) {
  const auto& s = plan.grid.shape;
  if (!out || out.shape() != std::vector<std::int64_t>{s.batch, s.q_heads, s.q_len, s.head_dim})
    return fail(ErrorCode::invalid_argument, fmt::format("merge: out must be [{}, {}, {}, {}], got {}", s.batch, s.q_heads,
                                                         s.q_len, s.head_dim, out ? out.describe() : "none"));
  return record_ranged_merge(stream, partial_o, partial_state, plan.row_items, static_cast<std::uint32_t>(plan.grid.block_q),
                             true, out, lse);
}

Expected<PlanContents> Router::read(const Plan& plan) const {
  PlanContents c;
  auto as_u32 = [](std::vector<std::int32_t> v) { return std::vector<std::uint32_t>(v.begin(), v.end()); };
  AAT_TRY(auto row_blocks, plan.row_blocks.download_values<std::int32_t>());
  AAT_TRY(auto row_items, plan.row_items.download_values<std::int32_t>());
  AAT_TRY(auto items, plan.items.download_values<std::int32_t>());
  AAT_TRY(auto counters, plan.counters.download_values<std::int32_t>());
  c.row_blocks = as_u32(std::move(row_blocks));
  c.row_items = as_u32(std::move(row_items));
  c.items = as_u32(std::move(items));
  c.counters = as_u32(std::move(counters));
  return c;
}

Expected<PlanStats> Router::stats(const Plan& plan) const {
  AAT_TRY(const PlanContents c, read(plan));
  PlanStats st;
  st.items = c.counters[Counter::items];
  st.partial_slots = c.counters[Counter::partial_slots];
  st.kept_blocks = c.counters[Counter::kept_blocks];
  st.total_slots = c.counters[Counter::total_slots];
  st.overflow = c.counters[Counter::overflow];
  const auto& g = plan.grid;
  st.min_item_slots = st.items > 0 ? std::numeric_limits<std::int64_t>::max() : 0;
  double sum = 0;
  for (std::int64_t n = 0; n < st.items && n < plan.item_capacity; ++n) {
    const auto* it = &c.items[static_cast<std::size_t>(n * 4)];
    std::int64_t slots = 0;
    for (std::uint32_t t = it[1]; t < it[2]; ++t) {
      const std::uint32_t entry = c.row_blocks[static_cast<std::size_t>(it[0] * static_cast<std::uint64_t>(g.tiles_k) + t)];
      slots += block_slots(g.cols(entry >> 2), entry & 3u);
    }
    st.max_item_slots = std::max(st.max_item_slots, slots);
    st.min_item_slots = std::min(st.min_item_slots, slots);
    sum += static_cast<double>(slots);
  }
  st.mean_item_slots = st.items > 0 ? sum / static_cast<double>(st.items) : 0.0;
  for (std::size_t r = 0; r + 1 < c.row_items.size(); r += 2) st.split_rows += c.row_items[r] >= 2 ? 1 : 0;
  return st;
}

}  // namespace aat::router
