// The anchor mass of each query row (the bound rule's lower bound, pattern_bound.comp):
//   A_a = log sum over the anchor keys j of exp(scale * q_a . k_j)
// over the visible anchor keys of row a: the first `sinks` keys and the `window` keys ending at
// the row's diagonal key (a + Nk - Nq, clamped to the keys; before the key length). Any set of
// visible keys gives a lower bound of the row's softmax normaliser; these hold most of it in
// heads with sinks or a local band. -inf where the set is empty; NaN propagates.
// Include after defining IN_VEC4 (vec4 or f16vec4: D is a multiple of 8). One invocation per
// query row, its q held in registers; a workgroup takes ROWS consecutive rows of one (batch,
// head). With STAGE_KEYS > 0 the workgroup first copies the keys of its rows' windows (the
// windows of consecutive rows overlap: ROWS + window keys in all, instead of ROWS x window
// reads) into shared memory as they are stored (f16 or f32), rows padded by one 4-vector so
// that invocations reading consecutive keys hit different banks; the sink keys, the same for every row, are read from
// the buffer. Without staging (a window too long for shared memory) every key is read there.
#extension GL_EXT_control_flow_attributes : require
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;  // ROWS: one invocation per query row
layout(constant_id = 1) const uint HEAD_DIM = 64;
layout(constant_id = 2) const bool CAUSAL = false;
layout(constant_id = 3) const bool HAS_LENGTHS = false;
layout(constant_id = 4) const uint STAGE_KEYS = 0;  // keys staged in shared memory (0: none); >= ROWS + window

const uint D4 = HEAD_DIM / 4u;
const uint STRIDE4 = D4 + 1u;  // a staged key's 4-vectors, padded

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

shared IN_VEC4 sKeys[(STAGE_KEYS > 0u ? STAGE_KEYS : 1u) * STRIDE4];

// The window of row a: keys [begin, end) (end at its diagonal, begin after the sinks).
uvec2 row_window(uint a, uint key_limit) {
  const uint visible_end = aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL);
  const uint end = min(aat_row_key_end(a, p.q_len, p.kv_len, key_limit, true), visible_end);  // at the diagonal
  const uint sink_end = min(p.sinks, visible_end);
  return uvec2(max(sink_end, end > p.window ? end - p.window : 0u), end);
}

void main() {
  const uint bh = gl_WorkGroupID.y;
  const uint first = gl_WorkGroupID.x * gl_WorkGroupSize.x;
  const uint a = first + gl_LocalInvocationID.x;
  const uint b = bh / p.q_heads;
  const uint kv_head = (bh % p.q_heads) / (p.q_heads / p.kv_heads);
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[b], 0, int(p.kv_len))) : p.kv_len;
  const uint k_base = (b * p.kv_heads + kv_head) * p.kv_len * D4;

  // Windows begin and end no earlier for later rows: the workgroup's keys are one range.
  uint stage_begin = 0u, staged = 0u;
  if (STAGE_KEYS > 0u) {
    const uint last = min(first + gl_WorkGroupSize.x, p.q_len) - 1u;
    stage_begin = row_window(first, key_limit).x;
    const uint stage_end = max(row_window(last, key_limit).y, stage_begin);
    staged = min(stage_end - stage_begin, STAGE_KEYS);
    for (uint x = gl_LocalInvocationID.x; x < staged * D4; x += gl_WorkGroupSize.x) {
      const uint key = x / D4, d4 = x % D4;
      sKeys[key * STRIDE4 + d4] = K.x[k_base + (stage_begin + key) * D4 + d4];
    }
    barrier();
  }
  if (a >= p.q_len) return;

  const uint visible_end = aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL);
  const uint sink_end = min(p.sinks, visible_end);
  const uvec2 window = row_window(a, key_limit);
  const uint row = bh * p.q_len + a;
  vec4 q[D4];
  [[unroll]] for (uint d4 = 0; d4 < D4; ++d4) q[d4] = vec4(Q.x[row * D4 + d4]);
  float m = AAT_NEG_INF;
  float l = 0.0;
  bool nan = false;
  // Keys [0, sink_end), then [window.x, window.y): an online log-sum-exp.
  const uint count = sink_end + (window.y > window.x ? window.y - window.x : 0u);
  [[dont_unroll]] for (uint n = 0; n < count; ++n) {
    const uint key = n < sink_end ? n : window.x + (n - sink_end);
    float dot_qk = 0.0;
    if (key >= stage_begin && key - stage_begin < staged) {
      const uint at = (key - stage_begin) * STRIDE4;
      [[unroll]] for (uint d4 = 0; d4 < D4; ++d4) dot_qk += dot(q[d4], vec4(sKeys[at + d4]));
    } else {
      [[unroll]] for (uint d4 = 0; d4 < D4; ++d4) dot_qk += dot(q[d4], vec4(K.x[k_base + key * D4 + d4]));
    }
    const float s = p.scale * dot_qk;
    if (isnan(s)) nan = true;
    const float m_new = max(m, s);
    if (m_new == AAT_NEG_INF) continue;
    l = l * exp(m - m_new) + exp(s - m_new);
    m = m_new;
  }
  Anchor.x[row] = nan ? uintBitsToFloat(0x7fc00000u) : (l > 0.0 ? m + log(l) : AAT_NEG_INF);
}
