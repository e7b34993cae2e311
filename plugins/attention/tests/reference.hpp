// An independent attention reference for the tests, written from the math and nothing else:
//
//   S = scale * Q K^T + bias + mask,   O = softmax_rows(S) V,   L = log sum_j exp(S_ij)  (natural log)
//
// in double precision with a two-pass softmax (the row max first, then exp(S - max)), so
// logits of any size are safe. Inputs are the float vectors the GPU sees, row-major:
// Q [B, Hq, Nq, D], K and V [B, Hkv, Nk, D], bias [bias_batch, bias_heads, Nq, Nk] with
// bias_batch in {1, B} and bias_heads in {1, Hq} (broadcast where 1), key lengths [B].
//
// Masks: query head h reads key/value head h / (Hq / Hkv) (GQA, MQA); with `causal` query i
// sees key j iff j <= i + Nk - Nq (bottom-right aligned); key j is masked iff j >= len[b].
// A masked score is -inf; so is a bias of -inf. A row whose every score is -inf has O = 0 and
// L = -inf. A NaN score makes the whole row (O and L) NaN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace aat::attention::reference {

struct Problem {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  bool causal = false;
  std::optional<double> scale{};               // default 1 / sqrt(D)
  std::span<const std::int32_t> key_lengths{}; // empty: no length mask; else one per batch
  std::span<const float> bias{};               // empty: no bias
  std::int64_t bias_batch = 1, bias_heads = 1;  // the bias's first two dims (1 = broadcast)

  std::int64_t q_elements() const { return batch * q_heads * q_len * head_dim; }
  std::int64_t kv_elements() const { return batch * kv_heads * kv_len * head_dim; }
  std::int64_t rows() const { return batch * q_heads * q_len; }
};

struct Result {
  std::vector<double> out;  // [B, Hq, Nq, D]
  std::vector<double> lse;  // [B, Hq, Nq]
};

// Throws std::invalid_argument when the vectors or dims are inconsistent (a test bug).
Result attention(const Problem& problem, std::span<const float> q, std::span<const float> k,
                 std::span<const float> v);

// f32 -> f16 -> f32: what an f16 tensor holds (uses aat::to_half / aat::from_half).
std::vector<float> round_to_half(std::span<const float> values);

// Elementwise comparison with |got - want| <= abs_tol + rel_tol * |want|. NaN must meet NaN,
// an infinity the same infinity; a finite `want` must meet a finite `got`.
struct Comparison {
  bool ok = true;
  std::size_t failures = 0;
  double max_abs_error = 0;         // over pairs where both are finite
  double worst_ratio = 0;           // max |got - want| / (abs_tol + rel_tol |want|)
  std::size_t worst_index = 0;      // where the worst ratio (or the first non-finite mismatch) is
  double worst_got = 0, worst_want = 0;
  std::string first_failure;        // "index 17 [0,1,3,2]: got .., want .."
};

// `dims` names the array's shape so failures print a multi-index.
Comparison compare(std::span<const float> got, std::span<const double> want, double abs_tol, double rel_tol,
                   std::span<const std::int64_t> dims);

std::string describe(const Comparison& c);

}  // namespace aat::attention::reference
