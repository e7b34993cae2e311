// Exact tiled attention, FlashAttention-style (scalar path: any Vulkan device).
//
// Include after defining STORAGE_T (the element type of Q, K, V, O). One workgroup owns
// BLOCK_Q query rows of one (batch, head) and streams K/V through shared memory in tiles of
// BLOCK_KV keys, keeping the running softmax state (max m, sum l) per row in f32:
//   S = scale * Q_tile K_tile^T (+ bias, masks)   -> shared sS
//   then shaders/aat/flash_tile.glsl's online softmax and O_acc = O_acc exp(m - m') + P V_tile,
//   O_acc in registers, OUTPUTS_PER_THREAD per invocation.
// At the end O = O_acc / l and L = m + log l. A row with no visible key has l = 0: O = 0 and
// L = -inf, never NaN. The Nq x Nk matrix never exists; memory is O(N).
//
// With WRITE_PARTIALS the workgroup covers only its split's key range (gl_WorkGroupID.z) and
// writes its state (m, l, normalised o) in f32 for merge_partials.glsl to combine exactly.
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BLOCK_Q = 16;
layout(constant_id = 2) const uint BLOCK_KV = 32;
layout(constant_id = 3) const uint HEAD_DIM = 64;
layout(constant_id = 8) const uint OUTPUTS_PER_THREAD = 8;  // ceil(BLOCK_Q * HEAD_DIM / workgroup size)
#include "aat/flash_tile.glsl"

layout(std430, binding = 0) readonly buffer QBuffer { STORAGE_T q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { STORAGE_T k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { STORAGE_T v[]; } V;
layout(std430, binding = 3) writeonly buffer OBuffer { STORAGE_T o[]; } O;

void load_tile(uint base, uint row0, uint rows_valid, bool values) {
  for (uint i = gl_LocalInvocationID.x; i < BLOCK_KV * HEAD_DIM; i += gl_WorkGroupSize.x) {
    const uint j = i / HEAD_DIM;
    const uint d = i % HEAD_DIM;
    float x = 0.0;
    if (j < rows_valid) x = values ? float(V.v[base + (row0 + j) * HEAD_DIM + d]) : float(K.k[base + (row0 + j) * HEAD_DIM + d]);
    sKV[j * KV_STRIDE + d] = x;
  }
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint threads = gl_WorkGroupSize.x;
  const uint bh = gl_WorkGroupID.y;  // batch * q_heads + head
  const uint batch_index = bh / p.q_heads;
  const uint head = bh % p.q_heads;
  const uint kv_head = head / (p.q_heads / p.kv_heads);
  const uint q0 = gl_WorkGroupID.x * BLOCK_Q;
  const uint rows = min(BLOCK_Q, p.q_len - q0);
  const uint q_base = (bh * p.q_len + q0) * HEAD_DIM;
  const uint kv_base = (batch_index * p.kv_heads + kv_head) * p.kv_len * HEAD_DIM;

  const uint key_end = visible_key_end(batch_index, q0, rows);
  const uint split_begin = gl_WorkGroupID.z * p.tiles_per_split * BLOCK_KV;
  const uint split_end = min(key_end, split_begin + p.tiles_per_split * BLOCK_KV);

  for (uint i = tid; i < BLOCK_Q * HEAD_DIM; i += threads)
    sQ[i] = (i / HEAD_DIM) < rows ? float(Q.q[q_base + i]) : 0.0;
  tile_reset_state();
  barrier();

  for (uint kv0 = split_begin; kv0 < split_end; kv0 += BLOCK_KV) {
    const uint cols = min(BLOCK_KV, split_end - kv0);
    load_tile(kv_base, kv0, cols, false);
    barrier();

    // Scores, masked to -inf.
    for (uint i = tid; i < BLOCK_Q * BLOCK_KV; i += threads) {
      const uint r = i / BLOCK_KV;
      const uint j = i % BLOCK_KV;
      float s = AAT_NEG_INF;
      if (r < rows && j < cols) {
        s = tile_dot(r, j) * p.scale;
        const uint qi = q0 + r;
        const uint kj = kv0 + j;
        if (HAS_BIAS) s += bias_at(batch_index, head, qi, kj);
        if (causally_hidden(qi, kj)) s = AAT_NEG_INF;
      }
      sS[i] = s;
    }
    barrier();

    tile_softmax_rows();
    load_tile(kv_base, kv0, cols, true);
    barrier();

    tile_accumulate();
    barrier();
  }

  const uint rows_total = p.batch * p.q_heads * p.q_len;
  for (uint k = 0; k < OUTPUTS_PER_THREAD; ++k) {
    const uint index = tid + k * threads;
    if (index >= BLOCK_Q * HEAD_DIM) continue;
    const uint r = index / HEAD_DIM;
    const uint d = index % HEAD_DIM;
    if (r >= rows) continue;
    const float o = tile_output(k, r);
    const uint row = bh * p.q_len + q0 + r;
    if (WRITE_PARTIALS) {
      const uint slot = gl_WorkGroupID.z * rows_total + row;
      PartialO.o[slot * HEAD_DIM + d] = o;
      if (d == 0) PartialL.ml[slot] = vec2(sMax[r], sSum[r]);
    } else {
      O.o[row * HEAD_DIM + d] = STORAGE_T(o);
      if (d == 0) L.lse[row] = tile_lse(r);
    }
  }
}
