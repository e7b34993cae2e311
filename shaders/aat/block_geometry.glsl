// Tile geometry of attention masks: which (query tile, key tile) blocks are visible.
//
// Query row a (0 <= a < Nq) of batch b sees key j iff j < key_limit(b) and, with a causal mask,
// j <= a + Nk - Nq (bottom-right aligned). So row a sees the key prefix [0, aat_row_key_end(a)).
// A block of rows [q0, q1) x keys [k0, k1) is
//   masked            when no row sees any of its keys  (the last row sees none),
//   fully visible     when every row sees every key      (the first row sees all),
//   partially masked  otherwise.
// Used by the pattern (map at tile granularity) and the router (boundary handling); the
// C++ side mirrors it in aat/pattern/pattern.hpp (BlockGrid) and the tests check both against
// a brute-force count. Include after enabling GL_EXT_control_flow_attributes.
#ifndef AAT_BLOCK_GEOMETRY_GLSL
#define AAT_BLOCK_GEOMETRY_GLSL

#include "aat/causal.glsl"

#define AAT_BLOCK_MASKED 0u
#define AAT_BLOCK_PARTIAL 1u
#define AAT_BLOCK_FULL 2u

// End (exclusive) of the key prefix row `a` sees; `key_limit` is Nk or the batch's key length.
uint aat_row_key_end(uint a, uint q_len, uint kv_len, uint key_limit, bool causal) {
  if (!causal) return key_limit;
  return uint(clamp(aat_causal_key_end(a, q_len, kv_len), 0, int(key_limit)));
}

// Masked, partially masked or fully visible (AAT_BLOCK_*).
uint aat_block_class(uint q0, uint q1, uint k0, uint k1, uint q_len, uint kv_len, uint key_limit, bool causal) {
  if (q1 <= q0 || k1 <= k0) return AAT_BLOCK_MASKED;
  if (aat_row_key_end(q1 - 1u, q_len, kv_len, key_limit, causal) <= k0) return AAT_BLOCK_MASKED;
  if (aat_row_key_end(q0, q_len, kv_len, key_limit, causal) >= k1) return AAT_BLOCK_FULL;
  return AAT_BLOCK_PARTIAL;
}

// Visible (row, key) pairs of the block.
uint aat_block_visible_pairs(uint q0, uint q1, uint k0, uint k1, uint q_len, uint kv_len, uint key_limit,
                             bool causal) {
  uint pairs = 0u;
  [[dont_unroll]] for (uint a = q0; a < q1; ++a) {
    const uint end = min(k1, aat_row_key_end(a, q_len, kv_len, key_limit, causal));
    pairs += end > k0 ? end - k0 : 0u;
  }
  return pairs;
}

#endif
