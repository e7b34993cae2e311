// Exact attention, FlashAttention-style: O = softmax(scale * Q K^T + mask) V, never
// materialising the Nq x Nk matrix; also the row log-sum-exp L (natural log).
//
// Shapes: Q [B, Hq, Nq, D]; K, V [B, Hkv, Nk, D]; Hq a multiple of Hkv (MHA, GQA, MQA).
// D: any multiple of 8 from 8 to 256. Storage f32 or f16 (Q, K, V and O share it);
// accumulation always f32. A row whose every key is masked gives O = 0 and L = -inf.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"
#include "aat/attention/tiling.hpp"

namespace aat::attention {

struct AttentionOptions {
  bool causal = false;                  // query i sees keys j <= i + Nk - Nq (bottom-right aligned)
  std::optional<float> scale;           // default 1/sqrt(D)
  const Tensor* key_lengths = nullptr;  // i32 [B]: keys j >= key_lengths[b] are masked (0..Nk)
  const Tensor* bias = nullptr;         // f32, broadcastable from [B or 1, H or 1, Nq, Nk], added to the scores
  std::optional<std::uint32_t> splits;  // force the K-split count (1 = no split); default: optimize_tiling
  // Force a kernel path; default: the fastest path the device runs for this shape
  // (optimize_tiling). Forcing a path where it cannot run is an `unsupported` error.
  std::optional<KernelPath> path;
  // Impose tile sizes, workgroup size or kernel variant (tuning); checked, never clamped.
  TilingOverride tiling;
};

struct AttentionResult {
  Tensor out;          // [B, Hq, Nq, D], dtype of Q
  Tensor lse;          // f32 [B, Hq, Nq]
  Tiling tiling;       // what ran
  double gpu_ms = 0;   // attention + merge dispatches (0 when the device has no timestamps)
  double flops = 0;    // 4 B Hq Nq Nk D, halved for causal when Nq == Nk
};

// Checks shapes, dtypes and masks; the shape attention() will run with.
Expected<AttentionShape> check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options);

// 4 * B * Hq * Nq * Nk * D, halved for causal (the convention FlashAttention reports).
double attention_flops(const AttentionShape& shape);

// Prepared pipelines for one context, reused across calls (one per tiling/dtype/mask
// combination, built on first use). Not thread-safe: one per thread, or guard it.
class Attention {
 public:
  static Expected<Attention> create(const std::shared_ptr<Context>& context);

  Expected<AttentionResult> run(const Tensor& q, const Tensor& k, const Tensor& v,
                                const AttentionOptions& options = {});

  // The driver's statistics (registers, spills, ...) of the forward kernel run() would use for
  // these inputs; `unsupported` where the device does not report them.
  Expected<std::vector<KernelStatistic>> statistics(const Tensor& q, const Tensor& k, const Tensor& v,
                                                    const AttentionOptions& options = {});

  const std::shared_ptr<Context>& context() const { return context_; }

 private:
  struct Pipelines;
  struct Plan;
  Expected<Plan> plan(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options);
  std::shared_ptr<Context> context_;
  std::shared_ptr<Pipelines> pipelines_;
};

}  // namespace aat::attention
