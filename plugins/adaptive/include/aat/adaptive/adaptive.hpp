// Adaptive attention = pattern -> router -> attention over the plan -> exact merge, recorded
// into one stream (one submission, no host round trip), so its GPU time includes every stage.
//
//   pattern  (aat/pattern/pattern.hpp)  block densities from tile means -> a level per block
//   router   (aat/router/router.hpp)    kept blocks -> balanced work items; x2 / x4 pyramids
//   attention over the plan             adaptive_forward.glsl: online softmax over key slots
//   merge                               shaders/aat/merge_partials_ranged.glsl
//
// With mass >= 1 every visible block is full and the result is exact attention (to f32
// rounding). Shapes, dtypes and masks as aat::attention (Q [B, Hq, Nq, D], K, V [B, Hkv, Nk, D],
// f32 or f16, causal bottom-right aligned, key lengths); no additive bias.
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

#include "aat/attention/attention.hpp"
#include "aat/pattern/pattern.hpp"
#include "aat/router/router.hpp"

namespace aat::adaptive {

struct AdaptiveOptions {
  bool causal = false;
  std::optional<float> scale;           // default 1/sqrt(D)
  const Tensor* key_lengths = nullptr;  // i32 [B]
  double mass = pattern::kDefaultMass;  // see PatternOptions::mass; >= 1: exact
  double pool2_share = 0.5;
  double pool4_share = 0.25;
  std::optional<std::uint32_t> block_q;  // map/kernel query tile; default: attention's optimize_tiling
  std::uint32_t block_k = 64;            // map key tile
  std::uint32_t sink_tiles = 1;
  std::optional<std::uint32_t> local_window;
  std::uint32_t halo = 1;
  pattern::Estimator estimator = pattern::Estimator::row;
  bool variance = true;
  double variance_cap = 8.0;
  std::uint32_t query_group = 4;
  std::uint32_t item_slots = 0;          // router; 0: from the device (at most max_item_slots)
};

// GPU time of each stage (ms; 0 without timestamps).
struct StageTimes {
  double pattern = 0, router = 0, attention = 0, merge = 0;
  double total() const { return pattern + router + attention + merge; }
};

struct AdaptiveResult {
  Tensor out;                 // [B, Hq, Nq, D], Q's dtype
  Tensor lse;                 // f32 [B, Hq, Nq]
  pattern::BlockMap map;      // the levels and densities that ran
  pattern::MapCost cost;      // from the map (downloaded after the run)
  double pyramid_flops = 0;   // pooling K and V x2 and x4
  double gpu_ms = 0;          // every dispatch of the run
  StageTimes stages;
  std::uint32_t block_q = 0, block_kv = 0, workgroup = 0, item_slots = 0;
  std::int64_t items = 0;     // work items that ran
  double executed_flops() const { return cost.predicted_flops() + pyramid_flops; }
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
  double dense_gpu_ms = 0, adaptive_gpu_ms = 0;
  double dense_flops = 0, executed_flops = 0;
  pattern::LevelCounts levels;
  StageTimes stages;
  std::string baseline;  // the exact kernel's path (scalar / cooperative_matrix_nv)
  std::string to_json() const;  // ifq, cer, ae, levels {full, pool2, pool4, skip}, and the rest
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
  struct Pipelines;
  std::shared_ptr<Context> context_;
  std::shared_ptr<Pipelines> pipelines_;
  std::shared_ptr<pattern::Pattern> pattern_;
  std::shared_ptr<router::Router> router_;
  std::shared_ptr<attention::Attention> exact_;
};

}  // namespace aat::adaptive
