// The anchor mass of each query row (the bound rule's lower bound, pattern_bound.comp):
//   A_a = log sum over the anchor keys j of exp(scale * q_a . k_j)
// over the visible anchor keys of row a: the first `sinks` keys and the `window` keys ending at
// the row's diagonal key (a + Nk - Nq, clamped to the keys; before the key length). Any set of
// visible keys gives a lower bound of the row's softmax normaliser; these hold most of it in
// heads with sinks or a local band. -inf where the set is empty; NaN propagates.
// Include after defining IN_T. One invocation per query row.
#extension GL_EXT_control_flow_attributes : require
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;
layout(constant_id = 2) const bool CAUSAL = false;
layout(constant_id = 3) const bool HAS_LENGTHS = false;

layout(std430, binding = 0) readonly buffer QBuffer { IN_T x[]; } Q;    // [B, Hq, Nq, D]
layout(std430, binding = 1) readonly buffer KBuffer { IN_T x[]; } K;    // [B, Hkv, Nk, D]
layout(std430, binding = 2) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 3) writeonly buffer AnchorBuffer { float x[]; } Anchor;  // [B, Hq, Nq]

layout(push_constant) uniform AnchorParams {
  uint batch;
  uint q_heads;
  uint kv_heads;
  uint q_len;
  uint kv_len;
  float scale;
  uint sinks;
  uint window;
} p;

float score(uint q_base, uint k_base) {
  float dot = 0.0;
  [[dont_unroll]] for (uint d = 0; d < HEAD_DIM; ++d) dot += float(Q.x[q_base + d]) * float(K.x[k_base + d]);
  return p.scale * dot;
}

void main() {
  const uint row = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  if (row >= p.batch * p.q_heads * p.q_len) return;
  const uint a = row % p.q_len;
  const uint bh = row / p.q_len;
  const uint b = bh / p.q_heads;
  const uint kv_head = (bh % p.q_heads) / (p.q_heads / p.kv_heads);
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[b], 0, int(p.kv_len))) : p.kv_len;
  const uint visible_end = aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL);
  const uint window_end = min(aat_row_key_end(a, p.q_len, p.kv_len, key_limit, true), visible_end);  // at the diagonal
  const uint sink_end = min(p.sinks, visible_end);
  const uint window_begin = max(sink_end, window_end > p.window ? window_end - p.window : 0u);
  const uint q_base = row * HEAD_DIM;
  const uint k_base = (b * p.kv_heads + kv_head) * p.kv_len * HEAD_DIM;
  float m = AAT_NEG_INF;
  float l = 0.0;
  bool nan = false;
  // Keys [0, sink_end), then [window_begin, window_end): an online log-sum-exp.
  const uint count = sink_end + (window_end > window_begin ? window_end - window_begin : 0u);
  [[dont_unroll]] for (uint n = 0; n < count; ++n) {
    const uint key = n < sink_end ? n : window_begin + (n - sink_end);
    const float s = score(q_base, k_base + key * HEAD_DIM);
    if (isnan(s)) nan = true;
    const float m_new = max(m, s);
    if (m_new == AAT_NEG_INF) continue;
    l = l * exp(m - m_new) + exp(s - m_new);
    m = m_new;
  }
  Anchor.x[row] = nan ? uintBitsToFloat(0x7fc00000u) : (l > 0.0 ? m + log(l) : AAT_NEG_INF);
}
