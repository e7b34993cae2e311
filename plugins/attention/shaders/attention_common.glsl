// What both attention kernels (attention_forward.glsl, attention_coopmat.glsl) share: the
// mask and split-K specialization constants, the bindings after Q, K, V and O, the push
// constants, and the mask rules. Each kernel declares Q, K, V (bindings 0-2) and O (3) with
// the element types it loads.
#ifndef AAT_ATTENTION_COMMON_GLSL
#define AAT_ATTENTION_COMMON_GLSL

#include "aat/causal.glsl"
#include "aat/constants.glsl"

layout(constant_id = 4) const bool CAUSAL = false;
layout(constant_id = 5) const bool HAS_LENGTHS = false;
layout(constant_id = 6) const bool HAS_BIAS = false;
layout(constant_id = 7) const bool WRITE_PARTIALS = false;

layout(std430, binding = 4) writeonly buffer LseBuffer { float lse[]; } L;
layout(std430, binding = 5) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 6) readonly buffer BiasBuffer { float bias[]; } Bias;
layout(std430, binding = 7) writeonly buffer PartialOBuffer { float o[]; } PartialO;
// Split-K partial state per row: (m, l) in natural-log units (see shaders/aat/softmax_state.glsl).
layout(std430, binding = 8) writeonly buffer PartialStateBuffer { vec2 ml[]; } PartialL;

layout(push_constant) uniform AttentionParams {
  uint batch;
  uint q_heads;
  uint kv_heads;
  uint q_len;
  uint kv_len;
  float scale;
  uint bias_stride_b;    // elements between batches of the bias (0: broadcast)
  uint bias_stride_h;    // elements between heads of the bias (0: broadcast)
  uint tiles_per_split;  // K tiles each split covers
} p;

// The keys batch b may use at all: [0, min(Nk, its key length)).
uint key_length(uint batch_index) {
  uint end = p.kv_len;
  if (HAS_LENGTHS) end = min(end, uint(clamp(KeyLengths.len[batch_index], 0, int(p.kv_len))));
  return end;
}

// The end (exclusive) of the keys that row q0 sees, and so every later row of its block: key
// tiles ending there need no mask at all.
uint keys_visible_to_all(uint batch_index, uint q0) {
  uint end = key_length(batch_index);
  if (CAUSAL) end = min(end, uint(max(aat_causal_key_end(q0, p.q_len, p.kv_len), 0)));
  return end;
}

// The end (exclusive) of the keys any of `rows` query rows from q0 may see.
uint visible_key_end(uint batch_index, uint q0, uint rows) {
  uint end = key_length(batch_index);
  // The last row q0 + rows - 1 sees the most (rows = 0: q0 - 1, which sees no more than q0).
  if (CAUSAL) end = min(end, uint(max(aat_causal_key_end(q0 + rows - 1u, p.q_len, p.kv_len), 0)));
  return end;
}

bool causally_hidden(uint qi, uint kj) {
  return CAUSAL && aat_causally_hidden(qi, kj, p.q_len, p.kv_len);
}

float bias_at(uint batch_index, uint head, uint qi, uint kj) {
  return Bias.bias[batch_index * p.bias_stride_b + head * p.bias_stride_h + qi * p.kv_len + kj];
}

#endif
