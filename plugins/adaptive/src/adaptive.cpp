#include "aat/adaptive/adaptive.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/attention/loop_limit.hpp"
#include "aat/attention/tile_policy.hpp"
#include "aat/bindings.hpp"
#include "aat/kernel_family.hpp"
#include "adaptive/adaptive_cm2.bindings.hpp"
#include "adaptive/adaptive_f16.bindings.hpp"
#include "adaptive/adaptive_f32.bindings.hpp"

namespace aat::adaptive {

namespace {

namespace forward = plugin_gen::adaptive::adaptive_f32;  // f16 shares the interface
static_assert(sizeof(plugin_gen::adaptive::adaptive_f16::PushConstants) == sizeof(forward::PushConstants));
// Where the build skipped the tensor-core kernel its header only declares PushConstants.
template <class Push>
consteval bool same_push_constants() {
  if constexpr (requires { sizeof(Push); }) return sizeof(Push) == sizeof(forward::PushConstants);
  else return true;
}
static_assert(same_push_constants<plugin_gen::adaptive::adaptive_cm2::PushConstants>());

using attention::KernelPath;

// adaptive_cm2.comp: 64 query rows over four subgroups (workgroup-scope matrices, as exact
// attention's coopmat2 kernel); the map's 64-key tiles give steps of 64, 32 and 16 columns.
constexpr std::uint32_t kTensorCoreRows = 64;
constexpr std::uint32_t kTensorCoreWorkgroup = 128;
constexpr std::uint32_t kTensorCoreKeyTile = 64;

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) { return static_cast<std::uint32_t>((a + b - 1) / b); }

struct ForwardKey {
  KernelPath path;
  DType dtype;
  std::uint32_t head_dim, block_q, block_kv, workgroup;
  bool causal, lengths;
  auto operator<=>(const ForwardKey&) const = default;
};

// The scalar plan kernel's shared memory for a tile, asked of its reflection.
template <class Specialization>
Expected<std::uint64_t> shared_bytes(const attention::Tile& tile, std::uint32_t head_dim) {
  return Specialization{.BLOCK_Q = tile.block_q, .BLOCK_KV = tile.block_kv, .HEAD_DIM = head_dim}.shared_bytes();
}

Expected<std::uint64_t> shared_bytes(DType dtype, const attention::Tile& tile, std::uint32_t head_dim) {
  return dtype == DType::f16 ? shared_bytes<plugin_gen::adaptive::adaptive_f16::Specialization>(tile, head_dim)
                             : shared_bytes<forward::Specialization>(tile, head_dim);
}

}  // namespace

// Br from the exact kernel's tiling (or the caller), the largest Bc (<= attention's) that fits
// shared memory with the slot table, and a workgroup of whole subgroups covering Br and Bc.
Expected<PlanTiles> plan_tiles(const DeviceInfo& device, const attention::AttentionShape& shape,
                               const AdaptiveOptions& options) {
  const std::optional<std::uint32_t> block_q = options.block_q;
  const std::string refusal = tensor_core_refusal(device, shape, options);
  if (options.path && *options.path != KernelPath::scalar && *options.path != KernelPath::cooperative_matrix2)
    return fail(ErrorCode::invalid_argument,
                fmt::format("adaptive attention runs its plan on the '{}' or '{}' kernel, not '{}'",
                            attention::to_string(KernelPath::cooperative_matrix2), attention::to_string(KernelPath::scalar),
                            attention::to_string(*options.path)));
  if (options.path == KernelPath::cooperative_matrix2 && !refusal.empty())
    return fail(ErrorCode::unsupported, "adaptive attention on tensor cores (cooperative_matrix2): " + refusal);
  if (refusal.empty() && options.path != KernelPath::scalar)
    return PlanTiles{kTensorCoreRows, kTensorCoreKeyTile, kTensorCoreWorkgroup, KernelPath::cooperative_matrix2};
  const attention::Tiling t = attention::optimize_tiling(device, shape, false);
  const auto d = static_cast<std::uint32_t>(shape.head_dim);
  const auto& limits = device.limits;
  // Br fixed; Bc from exact attention's down to 8, halving.
  std::vector<attention::Tile> candidates;
  for (std::uint32_t bc = t.block_kv; bc >= 8 || candidates.empty(); bc /= 2)
    candidates.push_back({block_q.value_or(t.block_q), bc});
  const auto fit = attention::first_fitting_tile(
      candidates, limits.max_shared_memory_bytes,
      [&](const attention::Tile& tile) { return shared_bytes(shape.dtype, tile, d); });
  if (!fit)
    return fail(ErrorCode::unsupported, fmt::format("adaptive attention: D = {} on device '{}': {}", d, device.name,
                                                    fit.error().what()));
  PlanTiles k{fit->tile.block_q, fit->tile.block_kv, 0};
  const std::uint32_t subgroup = std::max<std::uint32_t>(1, limits.subgroup_size);
  std::uint32_t size = std::min<std::uint32_t>({128u, limits.max_workgroup_invocations, limits.max_workgroup_size[0],
                                                k.block_q * d});
  size = std::max({size, k.block_q, k.block_kv});  // one invocation per row and per slot
  size = (size + subgroup - 1) / subgroup * subgroup;
  if (size > limits.max_workgroup_invocations || size > limits.max_workgroup_size[0])
    return fail(ErrorCode::unsupported, fmt::format("adaptive attention: a workgroup of {} invocations exceeds device "
                                                    "'{}'", size, device.name));
  k.workgroup = size;
  return k;
}

namespace {

Workgroups grid_2d(std::uint32_t groups) {
  const std::uint32_t width = std::min<std::uint32_t>(std::max(groups, 1u), 65535);
  return Workgroups{width, ceil_div(groups, width), 1};
}

// Adds the dispatches' GPU times to the result's stages and total.
void add_stage_times(AdaptiveResult& result, const std::vector<DispatchTiming>& timings) {
  for (const auto& t : timings) {
    if (t.label.starts_with("pattern.")) result.stages.pattern += t.gpu_ms;
    else if (t.label == "router.merge") result.stages.merge += t.gpu_ms;
    else if (t.label.starts_with("router.")) result.stages.router += t.gpu_ms;
    else result.stages.attention += t.gpu_ms;
    result.gpu_ms += t.gpu_ms;
  }
}

}  // namespace

std::string tensor_core_refusal(const DeviceInfo& device, const attention::AttentionShape& shape,
                                const AdaptiveOptions& options) {
  if (!plugin_gen::adaptive::adaptive_cm2::compiled)
    return "the build's shader compiler has no GL_NV_cooperative_matrix2 (aat version lists the kernel families)";
  if (!can_run(device, KernelFamily::coopmat2))
    return fmt::format("device '{}' does not offer every VK_NV_cooperative_matrix2 feature the kernel uses", device.name);
  if (!attention::coopmat2_supported(device, shape)) return "exact attention's coopmat2 rules refuse this shape";
  if (shape.dtype != DType::f16) return "it takes f16 tensors";
  if (shape.head_dim > 128) return "it holds D <= 128 in registers";
  if (options.block_k != kTensorCoreKeyTile) return fmt::format("it runs key tiles of {} keys", kTensorCoreKeyTile);
  if (options.block_q && *options.block_q != kTensorCoreRows)
    return fmt::format("its query tile is {} rows (the only one proven on a GPU)", kTensorCoreRows);
  return {};
}

std::uint32_t plan_block_q(const DeviceInfo& device, const attention::AttentionShape& shape,
                           const AdaptiveOptions& options) {
  if (options.block_q) return *options.block_q;
  if (options.path != KernelPath::scalar && tensor_core_refusal(device, shape, options).empty()) return kTensorCoreRows;
  return attention::optimize_tiling(device, shape, false).block_q;
}

pattern::PatternOptions pattern_options(const AdaptiveOptions& options, std::uint32_t block_q) {
  pattern::PatternOptions po;
  static_cast<attention::AttentionMask&>(po) = options;
  po.block_q = block_q;
  po.block_k = options.block_k;
  po.mode = options.mode;
  po.mass = options.mass;
  po.epsilon = options.epsilon;
  po.pool2_share = options.pool2_share;
  po.pool4_share = options.pool4_share;
  po.sink_tiles = options.sink_tiles;
  po.local_window = options.local_window;
  po.halo = options.halo;
  po.estimator = options.estimator;
  po.variance = options.variance;
  po.variance_cap = options.variance_cap;
  po.query_group = options.query_group;
  po.anchor_sinks = options.anchor_sinks;
  po.anchor_window = options.anchor_window;
  po.bound_groups = options.bound_groups;
  po.bound_moments = options.bound_moments;
  return po;
}

std::uint32_t max_item_slots(const DeviceInfo& device, std::uint32_t block_q, std::uint32_t block_kv,
                             std::uint32_t head_dim, std::uint32_t workgroup, std::uint32_t block_k) {
  if (!attention::has_loop_iteration_limit(device)) return std::numeric_limits<std::uint32_t>::max();
  // Per key tile adaptive_forward.glsl runs attention_forward's loops plus the slot-table walk
  // (at most one step per slot, for the slot finders and for the cursor).
  const std::uint64_t per_tile =
      attention::forward_iterations_per_tile(block_q, block_kv, head_dim, workgroup) + 2 * (std::uint64_t{block_kv} + 1);
  const std::uint64_t fixed = attention::forward_iterations_fixed(block_q, head_dim, workgroup) + 256 / workgroup + 1;
  const auto budget =
      static_cast<std::uint64_t>(attention::kLoopBudgetShare * static_cast<double>(attention::kLlvmpipeLoopIterations));
  const std::uint64_t tiles = (budget - std::min(budget, fixed)) / per_tile;
  // An item closes at a block boundary once it holds item_slots, so it may hold up to
  // item_slots + block_k - 1 slots: keep that within the tiles.
  const std::uint64_t slots = tiles * block_kv;
  const std::uint64_t most = slots > block_k ? (slots - block_k) / block_k * block_k : 0;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(most, block_k));
}

double information_flow_quality(std::span<const float> o, std::span<const float> exact) {
  if (o.size() != exact.size()) return std::numeric_limits<double>::quiet_NaN();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    const double e = exact[i], d = static_cast<double>(o[i]) - e;
    diff += d * d;
    norm += e * e;
  }
  if (std::isnan(diff) || std::isnan(norm)) return std::numeric_limits<double>::quiet_NaN();
  if (norm == 0) return diff == 0 ? 1.0 : 0.0;
  return 1.0 - std::sqrt(diff / norm);
}

std::string Report::to_json() const {
  nlohmann::json shares;
  for (auto level : {pattern::BlockLevel::full, pattern::BlockLevel::pool2, pattern::BlockLevel::pool4,
                     pattern::BlockLevel::skip})
    shares[std::string(pattern::to_string(level))] = levels.share(level);
  return nlohmann::json{{"ifq", ifq},
                        {"cer", cer},
                        {"ae", ae},
                        {"exact", exact},
                        {"planned_cer", planned_cer},
                        {"levels", shares},
                        {"dense_gpu_ms", dense_gpu_ms},
                        {"adaptive_gpu_ms", adaptive_gpu_ms},
                        {"dense_flops", dense_flops},
                        {"executed_flops", executed_flops},
                        {"stages_ms",
                         {{"pattern", stages.pattern},
                          {"router", stages.router},
                          {"attention", stages.attention},
                          {"merge", stages.merge}}},
                        {"baseline", baseline}}
      .dump();
}

// The plan kernel of a configuration: built by the context's kernel cache on first use and found
// there afterwards (no kernel map here).
struct AdaptiveAttention::Pipelines {
  Expected<Kernel> forward_kernel(const std::shared_ptr<Context>& context, const ForwardKey& key) {
    namespace gen = plugin_gen::adaptive;
    const auto set = [&](auto& s) {
      s.local_size_x = key.workgroup;
      s.BLOCK_Q = key.block_q;
      s.BLOCK_KV = key.block_kv;
      s.HEAD_DIM = key.head_dim;
      s.CAUSAL = key.causal;
      s.HAS_LENGTHS = key.lengths;
    };
    const auto set_scalar = [&](auto& s) {
      set(s);
      s.OUTPUTS_PER_THREAD = ceil_div(std::uint64_t{key.block_q} * key.head_dim, key.workgroup);
    };
    if (key.path == KernelPath::cooperative_matrix2)
      return Kernel::create(context, gen::adaptive_cm2::spirv(), "adaptive.attention_cm2",
                            {.spec = specialization_entries<gen::adaptive_cm2::Specialization>(set)});
    const std::string name = fmt::format("adaptive.attention_{}", to_string(key.dtype));
    if (key.dtype == DType::f16)
      return Kernel::create(context, gen::adaptive_f16::spirv(), name,
                            {.spec = specialization_entries<gen::adaptive_f16::Specialization>(set_scalar)});
    return Kernel::create(context, forward::spirv(), name,
                          {.spec = specialization_entries<forward::Specialization>(set_scalar)});
  }
};

Expected<AdaptiveAttention> AdaptiveAttention::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "AdaptiveAttention::create: no context");
  AdaptiveAttention a;
  a.context_ = context;
  a.pipelines_ = std::make_shared<Pipelines>();
  AAT_TRY(auto pattern, pattern::Pattern::create(context));
  AAT_TRY(auto router, router::Router::create(context));
  AAT_TRY(auto exact, attention::Attention::create(context));
  a.pattern_ = std::make_shared<pattern::Pattern>(std::move(pattern));
  a.router_ = std::make_shared<router::Router>(std::move(router));
  a.exact_ = std::make_shared<attention::Attention>(std::move(exact));
  return a;
}

Expected<AdaptiveResult> AdaptiveAttention::run(const Tensor& q, const Tensor& k, const Tensor& v,
                                                const AdaptiveOptions& options) {
  AAT_TRY(const attention::AttentionShape shape,
          with_context(attention::check_inputs(q, k, v, attention::AttentionOptions::with_mask(options)),
                       "adaptive attention"));
  AAT_TRY(const PlanTiles tiles, plan_tiles(context_->device(), shape, options));
  if (!(options.exact_below_cer >= 0.0))
    return fail(ErrorCode::invalid_argument,
                fmt::format("adaptive attention: exact_below_cer = {} must be 0 (never) or more", options.exact_below_cer));

  AdaptiveResult result;
  result.block_q = tiles.block_q;
  result.block_kv = tiles.block_kv;
  result.workgroup = tiles.workgroup;
  result.path = std::string(attention::to_string(tiles.path));
  AAT_TRY(result.out, Tensor::create(context_, shape.dtype, q.shape()));
  AAT_TRY(result.lse, Tensor::create(context_, DType::f32, {shape.batch, shape.q_heads, shape.q_len}));
  if (shape.batch * shape.q_heads * shape.q_len == 0) return result;

  const pattern::PatternOptions po = pattern_options(options, tiles.block_q);
  const bool pooled = !pattern::thresholds(po).all_full;

  // The pattern; with the exact check, run it first and decide from the map.
  AAT_TRY(Stream stream, Stream::create(context_));
  std::vector<DispatchTiming> timings;
  AAT_TRY(result.map, pattern_->record(stream, q, k, po));
  const bool decide = options.exact_below_cer > 0.0;
  if (decide) {
    AAT_CHECK(stream.run());
    timings = stream.timings();
    AAT_TRY(auto levels, result.map.levels.download_values<std::uint8_t>());
    result.cost = pattern::map_cost(result.map.grid, levels, po);
    if (result.cost.cer() < options.exact_below_cer) return run_exact(q, k, v, options, std::move(result), timings);
    AAT_CHECK(stream.reset());
  }
  router::Pyramid pyramid;
  if (pooled) {
    AAT_TRY(pyramid, router_->record_pyramid(stream, *pattern_, k, v));
    result.pyramid_flops = 2.0 * static_cast<double>(k.element_count()) * 2.0;  // K and V, x2 and x4: one add each
  }
  router::RouterOptions ro;
  const std::uint32_t most = max_item_slots(context_->device(), tiles.block_q, tiles.block_kv,
                                            static_cast<std::uint32_t>(shape.head_dim), tiles.workgroup, options.block_k);
  if (options.item_slots > most)
    return fail(ErrorCode::unsupported,
                fmt::format("item_slots = {} is too many on device '{}': one work item may hold at most {} key slots "
                            "(Br = {}, Bc = {}, D = {}), because llvmpipe (lavapipe) ends every loop of a shader "
                            "invocation after {} loop iterations in all and the softmax would be silently truncated",
                            options.item_slots, context_->device().name, most, tiles.block_q, tiles.block_kv,
                            shape.head_dim, attention::kLlvmpipeLoopIterations));
  ro.item_slots = options.item_slots ? options.item_slots
                                     : std::min(most, router::device_item_slots(context_->device(), result.map.grid));
  AAT_TRY(const router::Plan plan, router_->record_plan(stream, result.map, ro));
  result.item_slots = plan.item_slots;

  Tensor partial_o, partial_state;
  if (plan.partial_capacity > 0) {
    AAT_TRY(partial_o, with_context(Tensor::create(context_, DType::f32, {plan.partial_capacity, tiles.block_q, shape.head_dim}),
                                    "adaptive attention's partial states 'partial O' (f32 [items of split rows, Br, D])"));
    AAT_TRY(partial_state, with_context(Tensor::create(context_, DType::f32, {plan.partial_capacity, tiles.block_q, 2}),
                                        "adaptive attention's partial states '(m, l)' (f32 [items of split rows, Br, 2])"));
  }
  if (plan.item_capacity > 0) {
    const ForwardKey key{tiles.path,      shape.dtype,  static_cast<std::uint32_t>(shape.head_dim), tiles.block_q,
                         tiles.block_kv,  tiles.workgroup, shape.causal, options.key_lengths != nullptr};
    AAT_TRY(Kernel kernel, pipelines_->forward_kernel(context_, key));
    Bindings b(kernel);
    AAT_CHECK(b.bind(forward::binding::Q, q));
    AAT_CHECK(b.bind(forward::binding::K, k));
    AAT_CHECK(b.bind(forward::binding::V, v));
    // Without pooled blocks the pyramid was not built (its tensors are empty).
    AAT_CHECK(b.bind_or_unused(forward::binding::K2, pyramid.k2.buffer()));
    AAT_CHECK(b.bind_or_unused(forward::binding::V2, pyramid.v2.buffer()));
    AAT_CHECK(b.bind_or_unused(forward::binding::K4, pyramid.k4.buffer()));
    AAT_CHECK(b.bind_or_unused(forward::binding::V4, pyramid.v4.buffer()));
    AAT_CHECK(b.bind_or_unused(forward::binding::KeyLengths, options.key_lengths));
    AAT_CHECK(b.bind(forward::binding::RowBlocks, plan.row_blocks));
    AAT_CHECK(b.bind(forward::binding::Items, plan.items));
    AAT_CHECK(b.bind(forward::binding::Counters, plan.counters));
    AAT_CHECK(b.bind(forward::binding::O, result.out));
    AAT_CHECK(b.bind(forward::binding::L, result.lse));
    AAT_CHECK(b.bind_or_unused(forward::binding::PartialO, partial_o.buffer()));
    AAT_CHECK(b.bind_or_unused(forward::binding::PartialState, partial_state.buffer()));
    forward::PushConstants push{};
    attention::set_problem_push(push, shape, options.scale);
    push.tiles_q = static_cast<std::uint32_t>(result.map.grid.tiles_q);
    push.tiles_k = static_cast<std::uint32_t>(result.map.grid.tiles_k);
    push.block_k = options.block_k;
    AAT_CHECK(b.push_struct(push));
    AAT_CHECK(stream.dispatch(b, grid_2d(plan.item_capacity), "adaptive.attention"));
  }
  AAT_CHECK(router_->record_merge(stream, plan, partial_o, partial_state, result.out, result.lse));
  AAT_CHECK(stream.run());

  timings.insert(timings.end(), stream.timings().begin(), stream.timings().end());
  add_stage_times(result, timings);
  if (!decide) {
    AAT_TRY(auto levels, result.map.levels.download_values<std::uint8_t>());
    result.cost = pattern::map_cost(result.map.grid, levels, po);
  }
  AAT_TRY(auto counters, plan.counters.download_values<std::int32_t>());
  result.items = counters[router::Counter::items];
  if (counters[router::Counter::overflow] != 0)
    return fail(ErrorCode::internal, "adaptive attention: the router's plan overflowed its capacity");
  return result;
}

Expected<AdaptiveResult> AdaptiveAttention::run_exact(const Tensor& q, const Tensor& k, const Tensor& v,
                                                      const AdaptiveOptions& options, AdaptiveResult result,
                                                      std::vector<DispatchTiming> timings) {
  const auto exact_options = attention::AttentionOptions::with_mask(options);
  AAT_TRY(auto exact, with_context(exact_->run(q, k, v, exact_options), "adaptive attention (exact: nothing to skip)"));
  result.out = std::move(exact.out);
  result.lse = std::move(exact.lse);
  result.exact = true;
  result.exact_path = std::string(attention::to_string(exact.tiling.path));
  add_stage_times(result, timings);
  result.stages.attention += exact.gpu_ms;
  result.gpu_ms += exact.gpu_ms;
  return result;
}

Expected<Report> AdaptiveAttention::report(const Tensor& q, const Tensor& k, const Tensor& v, const AdaptiveOptions& options,
                                           const AdaptiveResult& result,
                                           std::optional<attention::KernelPath> baseline_path) {
  auto exact_options = attention::AttentionOptions::with_mask(options);
  exact_options.path = baseline_path;
  AAT_TRY(auto exact, exact_->run(q, k, v, exact_options));
  AAT_TRY(auto want, exact.out.download_f32());
  AAT_TRY(auto got, result.out.download_f32());
  Report r;
  r.ifq = information_flow_quality(got, want);
  r.exact = result.exact;
  r.planned_cer = result.planned_cer();
  r.dense_flops = result.cost.dense_flops;
  r.executed_flops = result.executed_flops();
  r.cer = result.cer();
  r.dense_gpu_ms = exact.gpu_ms;
  r.adaptive_gpu_ms = result.gpu_ms;
  r.ae = result.gpu_ms > 0 ? exact.gpu_ms / result.gpu_ms : 0.0;
  r.levels = result.cost.levels;
  r.stages = result.stages;
  r.baseline = std::string(attention::to_string(exact.tiling.path));
  return r;
}

}  // namespace aat::adaptive
