// Partial softmax states and their exact merge.
//
// A partial state over a subset S of one row's keys is (m, l, o): m = max_{j in S} s_j,
// l = sum_{j in S} exp(s_j - m), o = sum_{j in S} exp(s_j - m) v_j / l (normalised). States
// merge exactly:  M = max_s m_s,  w_s = l_s exp(m_s - M),  o = sum_s w_s o_s / sum_s w_s,
// and the row's log-sum-exp is M + log(sum_s w_s). Keeping m and l apart (rather than one
// lse = m + log l) keeps the weights exact when |m| is large: f32 spacing near 1e4 is 1e-3.
// An empty subset has l = 0 and contributes nothing; when every subset is empty the merged
// row is o = 0, lse = -inf. NaN in any state propagates (never hidden).
#ifndef AAT_SOFTMAX_STATE_GLSL
#define AAT_SOFTMAX_STATE_GLSL

#include "aat/constants.glsl"

// Weight of a state (m, l) against the maximum M of all states' m (0 when empty).
float aat_state_weight(float m, float l, float max_m) {
  return l == 0.0 ? 0.0 : l * exp(m - max_m);
}

// The merged log-sum-exp from the maximum and the summed weights.
float aat_merged_lse(float max_m, float weight_sum) {
  return weight_sum == 0.0 ? AAT_NEG_INF : max_m + log(weight_sum);
}

#endif
