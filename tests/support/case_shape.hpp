// Attention-shaped test cases name their fields B, Hq, Hkv, Nq, Nk, D, dtype, causal, lengths;
// the references' problems and attention::AttentionShape name the same things batch, q_heads,
// kv_heads, q_len, kv_len, head_dim, dtype, causal, key_lengths. One copy for every suite.
#pragma once

namespace aat::testing {

template <class Problem, class Case>
Problem shaped_as(const Case& c) {
  Problem p;
  p.batch = c.B;
  p.q_heads = c.Hq;
  p.kv_heads = c.Hkv;
  p.q_len = c.Nq;
  p.kv_len = c.Nk;
  p.head_dim = c.D;
  p.causal = c.causal;
  if constexpr (requires { p.key_lengths = c.lengths; }) p.key_lengths = c.lengths;
  if constexpr (requires { p.dtype = c.dtype; }) p.dtype = c.dtype;
  return p;
}

}  // namespace aat::testing
