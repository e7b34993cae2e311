// Partial softmax states and their exact merge.
//
// A partial state over a subset S of keys is (lse, o): lse = log sum_{j in S} exp(s_j) and
// o = sum_{j in S} softmax_S(s)_j v_j (already normalised). Two states merge exactly:
//   lse = M + log(exp(lse_a - M) + exp(lse_b - M)),  M = max(lse_a, lse_b)
//   o   = (exp(lse_a - M) o_a + exp(lse_b - M) o_b) / (exp(lse_a - M) + exp(lse_b - M))
// An empty subset has lse = -inf and contributes nothing; if every subset is empty the
// merged row is o = 0, lse = -inf. NaN in any state propagates (never hidden).
#ifndef AAT_SOFTMAX_STATE_GLSL
#define AAT_SOFTMAX_STATE_GLSL

#include "aat/constants.glsl"

// Weight of a state with log-sum-exp `lse` against the running maximum `m` (0 when empty).
float aat_state_weight(float lse, float m) {
  return lse == AAT_NEG_INF ? 0.0 : exp(lse - m);
}

// The merged log-sum-exp from the maximum and the summed weights.
float aat_merged_lse(float m, float weight_sum) {
  return weight_sum == 0.0 ? AAT_NEG_INF : m + log(weight_sum);
}

#endif
