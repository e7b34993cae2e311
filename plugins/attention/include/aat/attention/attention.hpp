// Exact attention, FlashAttention-style: O = softmax(scale * Q K^T + mask) V, never
// materialising the Nq x Nk matrix; also the row log-sum-exp L (natural log).
//
// Shapes: Q [B, Hq, Nq, D]; K, V [B, Hkv, Nk, D]; Hq a multiple of Hkv (MHA, GQA, MQA).
// D: any multiple of 8 from 8 to 256. Storage f32 or f16 (Q, K, V and O share it);
// accumulation always f32. A row whose every key is masked gives O = 0 and L = -inf.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"
#include "aat/attention/tiling.hpp"

namespace aat::attention {

// What every attention-shaped problem shares, whichever plugin runs it (exact attention, the
// pattern's map, adaptive attention): which keys a query row sees, and the logit scale. The
// options of each are this and their own settings; check_inputs checks it for all of them.
struct AttentionMask {
  bool causal = false;                  // query i sees keys j <= i + Nk - Nq (bottom-right aligned)
  std::optional<float> scale;           // default 1/sqrt(D)
  const Tensor* key_lengths = nullptr;  // i32 [B]: keys j >= key_lengths[b] are masked (0..Nk)
};

// The logit scale: the mask's, or 1/sqrt(D).
inline float logit_scale(const AttentionShape& shape, const std::optional<float>& scale) {
  return scale.value_or(1.0f / std::sqrt(static_cast<float>(shape.head_dim)));
}

// Sets the problem fields the push blocks of the attention-shaped kernels (attention, adaptive,
// the pattern's map and anchor kernels) share: batch, q_heads, kv_heads, q_len, kv_len, scale.
template <class Push>
void set_problem_push(Push& push, const AttentionShape& shape, const std::optional<float>& scale) {
  push.batch = static_cast<std::uint32_t>(shape.batch);
  push.q_heads = static_cast<std::uint32_t>(shape.q_heads);
  push.kv_heads = static_cast<std::uint32_t>(shape.kv_heads);
  push.q_len = static_cast<std::uint32_t>(shape.q_len);
  push.kv_len = static_cast<std::uint32_t>(shape.kv_len);
  push.scale = logit_scale(shape, scale);
}

struct AttentionOptions : AttentionMask {
  // Exact attention with `mask` and every other setting at its default.
  static AttentionOptions with_mask(const AttentionMask& mask) {
    AttentionOptions options;
    static_cast<AttentionMask&>(options) = mask;
    return options;
  }

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

// Partial softmax states (shaders/aat/softmax_state.glsl) of every query row over the keys of
// K and V, before any merge: what run() merges after a K split. Devices or hosts that each take
// a share of the keys produce these and merge them exactly (aat/attention/multi_device.hpp).
struct AttentionPartials {
  Tensor o;       // f32 [slots, B*Hq*Nq, D]: normalised o of each K split
  Tensor state;   // f32 [slots, B*Hq*Nq, 2]: (m, l), natural-log units; l = 0: the split saw no key
  Tiling tiling;  // what runs; slots = tiling.splits
  double flops = 0;
};

// Checks shapes, dtypes and masks; the shape attention() will run with.
Expected<AttentionShape> check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options);

// The shape rules of check_inputs on shapes and dtypes alone (host arrays, other ranks' inputs):
// rank 4, f32/f16 shared by Q, K, V, K = V in shape, batch and D agreeing, D a multiple of 8 up
// to 256, Hq a multiple of Hkv, 32-bit indexing.
Expected<AttentionShape> check_shapes(DType q_dtype, std::span<const std::int64_t> q, DType k_dtype,
                                      std::span<const std::int64_t> k, DType v_dtype, std::span<const std::int64_t> v,
                                      bool causal);
// Key lengths: one per batch, each within 0..Nk.
Expected<void> check_key_lengths(std::span<const std::int32_t> lengths, const AttentionShape& shape);

// The mask rules of check_inputs on shapes and dtypes alone: key lengths i32 [B], a bias f32
// broadcastable from [B or 1, Hq or 1, Nq, Nk], at least one split when splits are forced.
struct ArrayShape {
  DType dtype = DType::f32;
  std::span<const std::int64_t> shape;
};
Expected<void> check_mask_shapes(const AttentionShape& shape, std::optional<ArrayShape> key_lengths,
                                 std::optional<ArrayShape> bias, std::optional<std::uint32_t> splits);

// 4 * B * Hq * Nq * Nk * D, halved for causal (the convention FlashAttention reports).
double attention_flops(const AttentionShape& shape);

// Exact attention on one context. Its kernels (one per tiling/dtype/mask combination) live in
// the context's kernel cache, built on first use and shared by every Attention of the context;
// an Attention holds nothing else, so one may be used by several threads at once.
class Attention {
 public:
  static Expected<Attention> create(const std::shared_ptr<Context>& context);

  Expected<AttentionResult> run(const Tensor& q, const Tensor& k, const Tensor& v,
                                const AttentionOptions& options = {});

  // Records what run() does into `stream`, writing out ([B, Hq, Nq, D], Q's dtype) and lse (f32
  // [B, Hq, Nq]); nothing is submitted (the split workspace lives as long as the stream's work).
  // Returns the tiling that runs. A problem run() would cut into query chunks (its split workspace
  // over budget, detail/query_chunks.hpp) is `unsupported` here: the host waits between chunks.
  Expected<Tiling> record(Stream& stream, const Tensor& q, const Tensor& k, const Tensor& v,
                          const AttentionOptions& options, const Tensor& out, const Tensor& lse);

  // The tiling run() and record() use for a checked shape (path, overrides and forced splits
  // applied), without touching the device.
  Expected<Tiling> choose_tiling(const AttentionShape& shape, const AttentionOptions& options) const;

  // The driver's statistics (registers, spills, ...) of the forward kernel run() would use for
  // these inputs; `unsupported` where the device does not report them.
  Expected<std::vector<KernelStatistic>> statistics(const Tensor& q, const Tensor& k, const Tensor& v,
                                                    const AttentionOptions& options = {});

  // Records the forward kernel writing partial states instead of O and L (the split count run()
  // would choose, or options.splits); nothing is submitted. The states are filled once the
  // stream has run.
  Expected<AttentionPartials> record_partials(Stream& stream, const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options = {});

  // Records run()'s exact merge of partial states (f32 [slots, rows, D] and [slots, rows, 2])
  // into out (rows x D elements, f32 or f16) and lse (f32, rows elements).
  Expected<void> record_merge(Stream& stream, const Tensor& partial_o, const Tensor& partial_state, const Tensor& out,
                              const Tensor& lse);
  // The same merge into one partial state again: out_o f32 [rows, D], out_state f32 [rows, 2].
  // What a device does with its own states before they meet another device's.
  Expected<void> record_merge_to_state(Stream& stream, const Tensor& partial_o, const Tensor& partial_state,
                                       const Tensor& out_o, const Tensor& out_state);

  const std::shared_ptr<Context>& context() const { return context_; }

 private:
  struct Plan;
  Expected<Plan> plan(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options,
                      bool partials = false);
  Expected<void> record_planned(Stream& stream, const Plan& plan, const Tensor& q, const Tensor& k, const Tensor& v,
                                const AttentionOptions& options, const Tensor& out, const Tensor& lse);
  Expected<void> record_forward(Stream& stream, const Plan& plan, const Tensor& q, const Tensor& k, const Tensor& v,
                                const AttentionOptions& options, const Buffer& out, const Buffer& lse,
                                const Buffer& partial_o, const Buffer& partial_state);
  Expected<void> record_merge_kernel(Stream& stream, bool to_state, const Tensor& partial_o,
                                     const Tensor& partial_state, const Tensor& out, const Tensor& second);
  std::shared_ptr<Context> context_;
};

}  // namespace aat::attention
