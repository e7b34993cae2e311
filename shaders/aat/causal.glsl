// The causal mask, bottom-right aligned: query row a (of Nq) sees key j (of Nk) iff
// j <= a + Nk - Nq, so with Nq = Nk the diagonal and before, and with Nq < Nk the last query
// row sees every key. The one statement of the rule in GLSL: attention's kernels
// (attention_common.glsl), the pattern's and the router's block geometry (block_geometry.glsl)
// ask it; the C++ side mirrors it in aat/pattern/pattern.hpp (BlockGrid) and the references.
#ifndef AAT_CAUSAL_GLSL
#define AAT_CAUSAL_GLSL

// End (exclusive) of the keys row `a` may see under the causal mask alone: may be <= 0 (none)
// or above Nk (every key).
int aat_causal_key_end(uint a, uint q_len, uint kv_len) { return int(a) + int(kv_len) - int(q_len) + 1; }

// Whether the causal mask hides key `j` from row `a`.
bool aat_causally_hidden(uint a, uint j, uint q_len, uint kv_len) {
  return int(j) >= aat_causal_key_end(a, q_len, kv_len);
}

#endif
