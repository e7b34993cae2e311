// Adaptive attention = pattern -> router -> attention over the plan -> exact merge, recorded
// into one stream (one submission, no host round trip), so its GPU time includes every stage.
//
//   pattern  (aat/pattern/pattern.hpp)  block densities from tile means -> a level per block
//   router   (aat/router/router.hpp)    kept blocks -> balanced work items; x2 / x4 pyramids
//   attention over the plan             adaptive_cm2.comp (tensor cores, one softmax step per block)
//                                       or adaptive_forward.glsl (online softmax over key slots)
//   merge                               shaders/aat/merge_partials_ranged.glsl
//
// The block map's levels come from the bound rule (the default: at most `epsilon` of each query
// group's mass, by an upper estimate over a lower bound, not run at full resolution) or the
// mass rule (`mass` of the estimated mass at full resolution); aat/pattern/pattern.hpp.
// No harm without structure: when the map's predicted CER (dense FLOPs over the plan's and the
// pattern's) is below `exact_below_cer`, the plan is not run and exact attention
// (aat::attention, the device's fastest path) computes the output instead (result.exact).
// With every visible block full (mass >= 1, epsilon 0) and exact_below_cer = 0 the plan kernel
// runs the dense plan and equals exact attention (to f32 rounding). Shapes, dtypes and masks as
// aat::attention (Q [B, Hq, Nq, D], K, V [B, Hkv, Nk, D], f32 or f16, causal bottom-right
// aligned, key lengths); no additive bias.
//
// Quality and cost (docs/adaptive.md):
//   IFQ = 1 - ||O - O_exact|| / ||O_exact||   (Frobenius norms over the whole output)
//   CER = dense FLOPs / executed FLOPs         (4 D per visible (query, key) pair; executed:
//                                               kept pairs, pooled keys, pattern and pyramid)
//   AE  = exact attention GPU time / adaptive GPU time (pattern, router, merge included)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aat/attention/attention.hpp"
#include "aat/pattern/pattern.hpp"
#include "aat/router/router.hpp"

namespace aat::adaptive {

// Below this predicted CER adaptive attention runs exact attention instead (docs/adaptive.md,
// "No harm without structure").
inline constexpr double kDefaultExactBelowCer = 1.5;

// causal, scale and key_lengths as for attention (attention::AttentionMask).
struct AdaptiveOptions : attention::AttentionMask {
  pattern::Mode mode = pattern::Mode::bound;  // see PatternOptions
  double epsilon = pattern::kDefaultEpsilon;  // bound rule; 0: every block full
  double mass = pattern::kDefaultMass;        // mass rule; >= 1: every block full
  double pool2_share = 0.5;
  double pool4_share = 0.25;
  std::optional<std::uint32_t> block_q;  // map/kernel query tile; default: attention's optimize_tiling
  std::uint32_t block_k = 64;            // map key tile
  std::uint32_t sink_tiles = 1;
  std::optional<std::uint32_t> local_window;
  std::uint32_t halo = 1;
  pattern::Estimator estimator = pattern::Estimator::row;
  bool variance = true;                  // mass rule (the bound rule always has it, uncapped)
  double variance_cap = 8.0;             // mass rule
  std::uint32_t query_group = 0;         // 0: the rule's default (PatternOptions)
  std::uint32_t anchor_sinks = 4;        // bound rule: the anchor keys (PatternOptions)
  std::uint32_t anchor_window = 32;
  std::uint32_t bound_groups = 0;        // bound rule, speed only (PatternOptions)
  pattern::MomentsPath bound_moments = pattern::MomentsPath::invocations;  // bound rule, speed only (PatternOptions)
  std::uint32_t item_slots = 0;          // router; 0: from the device (at most max_item_slots)
  // The plan kernel: cooperative_matrix2 (tensor cores: f16, D <= 128, 64-key tiles, a device
  // with VK_NV_cooperative_matrix2) or scalar; unset: tensor cores where they run, else scalar.
  std::optional<attention::KernelPath> path;
  // Run exact attention instead of the plan when the map's predicted CER is below this; 0: never
  // (always the plan).
  double exact_below_cer = kDefaultExactBelowCer;
};

// Why the tensor-core plan kernel (adaptive_cm2.comp) cannot run this problem on `device`;
// empty when it can (then it runs unless options.path is scalar).
std::string tensor_core_refusal(const DeviceInfo& device, const attention::AttentionShape& shape,
                                const AdaptiveOptions& options);

// The query tile of the map and the plan kernel: options.block_q, else the tensor-core kernel's
// 64 rows where it runs, else the scalar kernel's (attention's tiling).
std::uint32_t plan_block_q(const DeviceInfo& device, const attention::AttentionShape& shape,
                           const AdaptiveOptions& options);

// The plan kernel's tiles: Br (plan_block_q's), Bc keys of a shared-memory tile and the workgroup.
struct PlanTiles {
  std::uint32_t block_q = 0, block_kv = 0, workgroup = 0;
  attention::KernelPath path = attention::KernelPath::scalar;
};
// The tiles the plan kernel runs with on `device`: the tensor-core kernel's fixed ones where it
// runs, else Br as plan_block_q, the largest Bc (up to exact attention's) whose shared memory
// fits and a workgroup of whole subgroups covering Br and Bc. `unsupported` when none fits or a
// forced path cannot run.
Expected<PlanTiles> plan_tiles(const DeviceInfo& device, const attention::AttentionShape& shape,
                               const AdaptiveOptions& options);

// The pattern options adaptive attention runs with (block_q: the kernel's query tile).
pattern::PatternOptions pattern_options(const AdaptiveOptions& options, std::uint32_t block_q);

// GPU time of each stage (ms; 0 without timestamps).
struct StageTimes {
  double pattern = 0, router = 0, attention = 0, merge = 0;
  double total() const { return pattern + router + attention + merge; }
};

struct AdaptiveResult {
  Tensor out;                 // [B, Hq, Nq, D], Q's dtype
  Tensor lse;                 // f32 [B, Hq, Nq]
  pattern::BlockMap map;      // the levels and densities of the map
  pattern::MapCost cost;      // from the map
  double pyramid_flops = 0;   // pooling K and V x2 and x4
  double gpu_ms = 0;          // every dispatch of the run
  StageTimes stages;          // exact: attention = exact attention's time
  std::uint32_t block_q = 0, block_kv = 0, workgroup = 0, item_slots = 0;
  std::string path;           // the plan kernel's path (scalar / cooperative_matrix2)
  std::int64_t items = 0;     // work items that ran
  // The map's predicted CER was below exact_below_cer: exact attention (`exact_path`) computed
  // out and lse; the plan did not run.
  bool exact = false;
  std::string exact_path;
  double planned_cer() const { return cost.cer(); }  // the map's prediction (pattern included)
  double executed_flops() const {
    return exact ? cost.dense_flops + cost.pattern_flops : cost.predicted_flops() + pyramid_flops;
  }
  double cer() const { return executed_flops() > 0 ? cost.dense_flops / executed_flops() : 0.0; }
};

// The most key slots one work item may hold on `device` for the adaptive kernel's tiles: on a
// CPU device (llvmpipe) the loop budget of one invocation (aat/attention/loop_limit.hpp) bounds
// the key tiles a workgroup may stream; elsewhere unbounded (UINT32_MAX).
std::uint32_t max_item_slots(const DeviceInfo& device, std::uint32_t block_q, std::uint32_t block_kv,
                             std::uint32_t head_dim, std::uint32_t workgroup, std::uint32_t block_k);

// IFQ = 1 - ||o - exact|| / ||exact|| (1 when both are zero). NaN anywhere gives NaN.
double information_flow_quality(std::span<const float> o, std::span<const float> exact);

struct Report {
  double ifq = 0, cer = 0, ae = 0;
  bool exact = false;       // adaptive ran exact attention (AdaptiveResult::exact)
  double planned_cer = 0;   // the map's predicted CER
  double dense_gpu_ms = 0, adaptive_gpu_ms = 0;
  double dense_flops = 0, executed_flops = 0;
  pattern::LevelCounts levels;
  StageTimes stages;
  std::string baseline;  // the exact kernel's path (scalar / cooperative_matrix_nv)
  std::string to_json() const;  // ifq, cer, ae, exact, planned_cer, levels {full, pool2, pool4, skip}, ...
};

// Prepared pipelines for one context. Not thread-safe.
class AdaptiveAttention {
 public:
  static Expected<AdaptiveAttention> create(const std::shared_ptr<Context>& context);

  Expected<AdaptiveResult> run(const Tensor& q, const Tensor& k, const Tensor& v, const AdaptiveOptions& options = {});

  // Runs exact attention (aat::attention, default path, or `baseline_path`) on the same inputs
  // and measures `result` against it.
  Expected<Report> report(const Tensor& q, const Tensor& k, const Tensor& v, const AdaptiveOptions& options,
                          const AdaptiveResult& result,
                          std::optional<attention::KernelPath> baseline_path = std::nullopt);

  attention::Attention& exact() { return *exact_; }
  const std::shared_ptr<Context>& context() const { return context_; }

 private:
  // Exact attention in place of the plan; `timings`: the pattern's dispatches.
  Expected<AdaptiveResult> run_exact(const Tensor& q, const Tensor& k, const Tensor& v, const AdaptiveOptions& options,
                                     AdaptiveResult result, std::vector<DispatchTiming> timings);
  struct Pipelines;
  std::shared_ptr<Context> context_;
  std::shared_ptr<Pipelines> pipelines_;
  std::shared_ptr<pattern::Pattern> pattern_;
  std::shared_ptr<router::Router> router_;
  std::shared_ptr<attention::Attention> exact_;
};

}  // namespace aat::adaptive
