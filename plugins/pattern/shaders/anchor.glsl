// The anchor mass of each query row (the bound rule's lower bound, pattern_bound.comp):
//   A_a = log sum over the anchor keys j of exp(scale * q_a . k_j)
// over the visible anchor keys of row a: the first `sinks` keys and the `window` keys ending at
// the row's diagonal key (a + Nk - Nq, clamped to the keys; before the key length). Any set of
// visible keys gives a lower bound of the row's softmax normaliser; these hold most of it in
// heads with sinks or a local band. -inf where the set is empty; NaN propagates.
// Include after defining IN_VEC4 (vec4 or f16vec4: D is a multiple of 8). One invocation per
// query row, its q held in registers and each key read as 4-element vectors: the row's work is
// (sinks + window) D/4 vector loads, not 2 (sinks + window) D scalar ones.
#extension GL_EXT_control_flow_attributes : require
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;
layout(constant_id = 2) const bool CAUSAL = false;
layout(constant_id = 3) const bool HAS_LENGTHS = false;

const uint D4 = HEAD_DIM / 4u;

layout(std430, binding = 0) readonly buffer QBuffer { IN_VEC4 x[]; } Q;    // [B, Hq, Nq, D]
layout(std430, binding = 1) readonly buffer KBuffer { IN_VEC4 x[]; } K;    // [B, Hkv, Nk, D]
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
  vec4 q[D4];
  [[unroll]] for (uint d4 = 0; d4 < D4; ++d4) q[d4] = vec4(Q.x[row * D4 + d4]);
  const uint k_base = (b * p.kv_heads + kv_head) * p.kv_len * D4;
  float m = AAT_NEG_INF;
  float l = 0.0;
  bool nan = false;
  // Keys [0, sink_end), then [window_begin, window_end): an online log-sum-exp.
  const uint count = sink_end + (window_end > window_begin ? window_end - window_begin : 0u);
  [[dont_unroll]] for (uint n = 0; n < count; ++n) {
    const uint key = n < sink_end ? n : window_begin + (n - sink_end);
    float dot_qk = 0.0;
    [[unroll]] for (uint d4 = 0; d4 < D4; ++d4) dot_qk += dot(q[d4], vec4(K.x[k_base + key * D4 + d4]));
    const float s = p.scale * dot_qk;
    if (isnan(s)) nan = true;
    const float m_new = max(m, s);
    if (m_new == AAT_NEG_INF) continue;
    l = l * exp(m - m_new) + exp(s - m_new);
    m = m_new;
  }
  Anchor.x[row] = nan ? uintBitsToFloat(0x7fc00000u) : (l > 0.0 ? m + log(l) : AAT_NEG_INF);
}
