// The exact merge of one output element (row, d) from `count` partial states of that row,
// state s being slot first + s * stride of partial_state ((m, l)) and of partial_o (normalised
// o, HEAD_DIM floats per slot). The math is softmax_state.glsl's. Shared by merge_partials.glsl
// (split-K: the row's states are `rows` slots apart) and merge_partials_ranged.glsl (router work
// items: GROUP_ROWS slots apart). Include after declaring HEAD_DIM, partial_o and partial_state.
#ifndef AAT_MERGE_ROW_GLSL
#define AAT_MERGE_ROW_GLSL

#include "aat/softmax_state.glsl"

// The merged o of element d; `ml` receives the row's merged state (M, W): M the largest m of
// the states with l > 0, W = sum_s l_s exp(m_s - M). (M, W, o) is itself a partial state of the
// union of the states' keys, so merges compose exactly (several devices, then across them).
// No state with l > 0 gives o = 0, ml = (-inf, 0); NaN in any state reaches o and W.
float aat_merge_row_state(uint first, uint stride, uint count, uint d, out vec2 ml) {
  float m = AAT_NEG_INF;
  for (uint s = 0; s < count; ++s) {
    const vec2 state = partial_state.ml[first + s * stride];
    if (state.y != 0.0) m = aat_max(m, state.x);
  }
  float weight_sum = 0.0;
  float acc = 0.0;
  for (uint s = 0; s < count; ++s) {
    const uint slot = first + s * stride;
    const vec2 state = partial_state.ml[slot];
    const float w = aat_state_weight(state.x, state.y, m);
    if (w != 0.0) {  // NaN passes: it must reach the output
      weight_sum += w;
      acc += w * partial_o.o[slot * HEAD_DIM + d];
    }
  }
  ml = vec2(m, weight_sum);
  return weight_sum == 0.0 ? 0.0 : acc / weight_sum;
}

// The merged o of element d; `lse` receives the row's merged log-sum-exp. No state with l > 0
// gives o = 0, lse = -inf; NaN in any state reaches both.
float aat_merge_row(uint first, uint stride, uint count, uint d, out float lse) {
  vec2 ml;
  const float o = aat_merge_row_state(first, stride, count, d, ml);
  lse = aat_merged_lse(ml.x, ml.y);
  return o;
}

#endif
