// The steps of the scalar FlashAttention loop that do not depend on where a tile's keys come
// from, shared by plugins/attention/shaders/attention_forward.glsl (keys in order) and
// plugins/adaptive/shaders/adaptive_forward.glsl (keys gathered from a router plan). Per key
// tile the includer fills sKV with keys, writes masked scores (-inf where hidden) into sS with
// tile_dot(), calls tile_softmax_rows(), fills sKV with the values and calls tile_accumulate():
//   m' = max(m, rowmax S); P = exp(S - m'); l = l exp(m - m') + rowsum P
//   O_acc = O_acc exp(m - m') + P V_tile
// all in f32, one workgroup per BLOCK_Q query rows. A row that has seen no visible key keeps
// m = -inf, l = 0 and O_acc = 0; a NaN score stays NaN (aat_max) instead of masking the row.
//
// The includer declares the specialization constants BLOCK_Q, BLOCK_KV, HEAD_DIM and
// OUTPUTS_PER_THREAD (ceil(BLOCK_Q * HEAD_DIM / workgroup size)) first, and enables
// GL_EXT_control_flow_attributes.
#ifndef AAT_FLASH_TILE_GLSL
#define AAT_FLASH_TILE_GLSL

#include "aat/constants.glsl"

// K/V rows padded by one float so the score loop's column reads hit distinct banks.
const uint KV_STRIDE = HEAD_DIM + 1;

shared float sQ[BLOCK_Q * HEAD_DIM];
shared float sKV[BLOCK_KV * KV_STRIDE];
shared float sS[BLOCK_Q * BLOCK_KV];
shared float sMax[BLOCK_Q];
shared float sSum[BLOCK_Q];
shared float sAlpha[BLOCK_Q];

// This invocation's share of O_acc: element k is index tid + k * workgroup size of the
// BLOCK_Q x HEAD_DIM tile (row index / HEAD_DIM, column index % HEAD_DIM).
float acc[OUTPUTS_PER_THREAD];

// Empty softmax state for every row; the caller puts a barrier() before the first tile.
void tile_reset_state() {
  if (gl_LocalInvocationID.x < BLOCK_Q) {
    sMax[gl_LocalInvocationID.x] = AAT_NEG_INF;
    sSum[gl_LocalInvocationID.x] = 0.0;
  }
  for (uint k = 0; k < OUTPUTS_PER_THREAD; ++k) acc[k] = 0.0;
}

// Unscaled q_r . k_j from shared memory.
float tile_dot(uint r, uint j) {
  float dot = 0.0;
  // Loops over D and Bc stay rolled: fully unrolled they cost seconds of JIT time on lavapipe
  // per configuration and gain little once operands come from shared memory.
  [[dont_unroll]] for (uint d = 0; d < HEAD_DIM; ++d) dot += sQ[r * HEAD_DIM + d] * sKV[j * KV_STRIDE + d];
  return dot;
}

// Scores in sS -> probabilities P, and each row's m, l and rescale factor alpha. One invocation
// per row; the others go straight on (loading values), so a barrier() must follow.
void tile_softmax_rows() {
  if (gl_LocalInvocationID.x >= BLOCK_Q) return;
  const uint r = gl_LocalInvocationID.x;
  const float m_old = sMax[r];
  float m_new = m_old;
  [[dont_unroll]] for (uint j = 0; j < BLOCK_KV; ++j) m_new = aat_max(m_new, sS[r * BLOCK_KV + j]);
  float tile_sum = 0.0;
  float alpha = 1.0;
  if (m_new != AAT_NEG_INF) {
    alpha = exp(m_old - m_new);  // 0 when m_old = -inf
    [[dont_unroll]] for (uint j = 0; j < BLOCK_KV; ++j) {
      const float s = sS[r * BLOCK_KV + j];
      const float e = s == AAT_NEG_INF ? 0.0 : exp(s - m_new);
      sS[r * BLOCK_KV + j] = e;
      tile_sum += e;
    }
  } else {
    for (uint j = 0; j < BLOCK_KV; ++j) sS[r * BLOCK_KV + j] = 0.0;
  }
  sSum[r] = sSum[r] * alpha + tile_sum;
  sMax[r] = m_new;
  sAlpha[r] = alpha;
}

// O_acc = O_acc alpha + P V with the values in sKV (after the barrier following the softmax).
void tile_accumulate() {
  for (uint k = 0; k < OUTPUTS_PER_THREAD; ++k) {
    const uint index = gl_LocalInvocationID.x + k * gl_WorkGroupSize.x;
    if (index < BLOCK_Q * HEAD_DIM) {
      const uint r = index / HEAD_DIM;
      const uint d = index % HEAD_DIM;
      float o = acc[k] * sAlpha[r];
      [[dont_unroll]] for (uint j = 0; j < BLOCK_KV; ++j) o += sS[r * BLOCK_KV + j] * sKV[j * KV_STRIDE + d];
      acc[k] = o;
    }
  }
}

// The normalised output O_acc / l of element k (row r); l == 0 only when no key was visible,
// which gives 0. NaN stays NaN.
float tile_output(uint k, uint r) {
  const float l = sSum[r];
  return l == 0.0 ? 0.0 : acc[k] / l;
}

// Row r's log-sum-exp m + log l, -inf when no key was visible.
float tile_lse(uint r) {
  return sSum[r] == 0.0 ? AAT_NEG_INF : sMax[r] + log(sSum[r]);
}

#endif
