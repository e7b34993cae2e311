// An independent CPU reference of attention over a block map, in double precision, from the
// definition (README.md, docs/adaptive.md):
//
// Query row a (of query tile i = a / Br) of batch b, head h sees key j iff j < len[b] and (not
// causal or j <= a + Nk - Nq). Block (i, j-tile t) with map level l is run as
//   dropped                 if no (row, key) pair of the block is visible, or l is skip/masked;
//   full                    if l = full, or the block is partially visible (boundary rule);
//   pooled by p = 2^l       otherwise: pooled key g of the block = mean of keys
//                           [g p, min(g p + p, Nk)) and of their values, score
//                           scale * q . mean(k) + log(count).
// O = softmax over the run keys (full keys with their masks, pooled keys) of the scores, times
// the (pooled) values; L = log-sum-exp. A row with no run key has O = 0, L = -inf; a NaN score
// makes the row NaN. With every visible block full this is exact attention.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace aat::adaptive::reference {

struct Problem {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  bool causal = false;
  std::optional<double> scale;
  std::vector<std::int32_t> key_lengths;  // empty: none
  std::int64_t block_q = 32, block_k = 64;
};

struct Result {
  std::vector<double> out;  // [B, Hq, Nq, D]
  std::vector<double> lse;  // [B, Hq, Nq]
};

// levels: u8 [B, Hq, Tq, Tk] (0 full, 1 pool2, 2 pool4, 3 skip, 4 masked). An empty span: every
// block full (exact attention).
Result attention_over_map(const Problem& p, std::span<const float> q, std::span<const float> k,
                          std::span<const float> v, std::span<const std::uint8_t> levels);

}  // namespace aat::adaptive::reference
