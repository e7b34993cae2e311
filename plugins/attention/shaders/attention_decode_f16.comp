#version 450
// Decode attention (flash-decoding), f16 storage, f32 accumulation: the few query rows that
// share one K/V head (ROWS = Hq/Hkv x Nq <= 16) against a long key range. Memory-bound: every
// K and V row is read once per key-value head, with 16-byte loads, whatever the GQA ratio.
//
// One subgroup is one workgroup; it owns one (batch, kv head) and one split of the keys
// (gl_WorkGroupID.z; the exact merge of merge_partials.glsl combines the splits). Per chunk of
// BLOCK_KV = subgroup-size keys:
//   A  lane j holds key j: s_r = q_r . k_j for every row r, Q read from shared memory (scaled
//      to log2 units once), no cross-lane traffic;
//   B  per row: chunk max and sum by subgroup reductions, one exp2 per (row, key), P to shared;
//   C  lanes split D into 8-wide slices (and the chunk's keys into groups when D is small):
//      O_r = alpha_r O_r + sum_j P_rj v_j with 16-byte V loads.
// Same contract as attention_forward.glsl: masks (causal bottom-right, key lengths, bias),
// split-K partial states, a fully masked row gives O = 0 and L = -inf, NaN stays in its row.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_vote : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "attention_common.glsl"

layout(local_size_x_id = 0) in;                 // = BLOCK_KV: one subgroup
layout(constant_id = 1) const uint ROWS = 1;    // (Hq / Hkv) * Nq: the rows of one kv head
layout(constant_id = 2) const uint BLOCK_KV = 32;  // keys per chunk = the subgroup size
layout(constant_id = 3) const uint HEAD_DIM = 128; // a multiple of 8

const uint SLICES = HEAD_DIM / 8;                  // 8 halves = one uvec4 per slice
const uint SLICES_PER_LANE = (SLICES + BLOCK_KV - 1) / BLOCK_KV;
const uint KEY_GROUPS = SLICES >= BLOCK_KV ? 1 : BLOCK_KV / SLICES;  // phase C: lanes per key = SLICES
const uint O_PER_LANE = ROWS * SLICES_PER_LANE * 8;

layout(std430, binding = 0) readonly buffer QBuffer { uvec4 q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { uvec4 k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { uvec4 v[]; } V;
layout(std430, binding = 3) writeonly buffer OBuffer { float16_t o[]; } O;

shared vec4 sQ[ROWS * SLICES * 2];  // [row][slice] as two vec4, scaled to log2 units
shared float sP[ROWS * BLOCK_KV];   // [row][key of the chunk]

const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;

void unpack8(uvec4 bits, out vec4 lo, out vec4 hi) {
  lo = vec4(unpackHalf2x16(bits.x), unpackHalf2x16(bits.y));
  hi = vec4(unpackHalf2x16(bits.z), unpackHalf2x16(bits.w));
}

// The global row (b, head, qi) of this kv head's row r: heads of one group, then Nq queries.
uint out_row(uint batch_index, uint kv_head, uint r) {
  const uint group = p.q_heads / p.kv_heads;
  const uint head = kv_head * group + r / p.q_len;
  return (batch_index * p.q_heads + head) * p.q_len + r % p.q_len;
}

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint bkv = gl_WorkGroupID.y;  // batch * kv_heads + kv_head
  const uint batch_index = bkv / p.kv_heads;
  const uint kv_head = bkv % p.kv_heads;
  const uint kv_base = bkv * p.kv_len * SLICES;  // uvec4 index of this head's key 0
  const uint group = p.q_heads / p.kv_heads;

  const uint key_end = visible_key_end(batch_index, 0, p.q_len);
  const uint split_begin = gl_WorkGroupID.z * p.tiles_per_split * BLOCK_KV;
  const uint split_end = min(key_end, split_begin + p.tiles_per_split * BLOCK_KV);

  const float log2_scale = p.scale * LOG2E;
  for (uint i = lane; i < ROWS * SLICES; i += BLOCK_KV) {
    const uint r = i / SLICES, c = i % SLICES;
    vec4 lo, hi;
    unpack8(Q.q[out_row(batch_index, kv_head, r) * SLICES + c], lo, hi);
    sQ[2 * i] = lo * log2_scale;
    sQ[2 * i + 1] = hi * log2_scale;
  }
  subgroupMemoryBarrierShared();
  subgroupBarrier();

  // Phase C's place: key group and first slice of this lane (KEY_GROUPS > 1: one slice each).
  const uint key_group = KEY_GROUPS > 1 ? lane / SLICES : 0;
  const bool c_active = KEY_GROUPS > 1 ? key_group < KEY_GROUPS : true;

  float m_run[ROWS], l_run[ROWS], alpha[ROWS];
  [[unroll]] for (uint r = 0; r < ROWS; ++r) {
    m_run[r] = AAT_NEG_INF;
    l_run[r] = 0.0;
  }
  float o[O_PER_LANE];
  [[unroll]] for (uint i = 0; i < O_PER_LANE; ++i) o[i] = 0.0;

  for (uint c0 = split_begin; c0 < split_end; c0 += BLOCK_KV) {
    // A: this lane's key against every row.
    const uint j = c0 + lane;
    const bool valid = j < split_end;
    float s[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; ++r) s[r] = 0.0;
    if (valid) {
      for (uint c = 0; c < SLICES; ++c) {
        vec4 lo, hi;
        unpack8(K.k[kv_base + j * SLICES + c], lo, hi);
        [[unroll]] for (uint r = 0; r < ROWS; ++r)
          s[r] += dot(lo, sQ[2 * (r * SLICES + c)]) + dot(hi, sQ[2 * (r * SLICES + c) + 1]);
      }
    }
    // B: the online softmax of each row over the chunk.
    [[unroll]] for (uint r = 0; r < ROWS; ++r) {
      const uint qi = r % p.q_len;
      if (!valid || causally_hidden(qi, j)) s[r] = AAT_NEG_INF;
      else if (HAS_BIAS) s[r] += LOG2E * bias_at(batch_index, kv_head * group + r / p.q_len, qi, j);
      float m_chunk = subgroupMax(s[r]);
      if (subgroupAny(isnan(s[r]))) m_chunk = uintBitsToFloat(0x7fc00000u);  // subgroupMax may drop a NaN
      const float m_new = aat_max(m_run[r], m_chunk);
      float pr = 0.0;
      alpha[r] = 1.0;
      if (m_new != AAT_NEG_INF) {
        alpha[r] = exp2(m_run[r] - m_new);
        pr = s[r] == AAT_NEG_INF ? 0.0 : exp2(s[r] - m_new);
      }
      l_run[r] = l_run[r] * alpha[r] + subgroupAdd(pr);
      m_run[r] = m_new;
      sP[r * BLOCK_KV + lane] = pr;
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    // C: O = alpha O + P V over this lane's slices and keys.
    if (c_active) {
      [[unroll]] for (uint r = 0; r < ROWS; ++r)
        [[unroll]] for (uint e = 0; e < SLICES_PER_LANE * 8; ++e) o[r * SLICES_PER_LANE * 8 + e] *= alpha[r];
      const uint chunk = min(BLOCK_KV, split_end - c0);
      for (uint kk = key_group; kk < chunk; kk += KEY_GROUPS) {
        [[unroll]] for (uint t = 0; t < SLICES_PER_LANE; ++t) {
          const uint slice = KEY_GROUPS > 1 ? lane % SLICES : lane + t * BLOCK_KV;
          if (slice >= SLICES) continue;
          vec4 lo, hi;
          unpack8(V.v[kv_base + (c0 + kk) * SLICES + slice], lo, hi);
          [[unroll]] for (uint r = 0; r < ROWS; ++r) {
            const float pr = sP[r * BLOCK_KV + kk];
            const uint at = (r * SLICES_PER_LANE + t) * 8;
            [[unroll]] for (uint e = 0; e < 4; ++e) {
              o[at + e] += pr * lo[e];
              o[at + 4 + e] += pr * hi[e];
            }
          }
        }
      }
    }
    subgroupBarrier();  // sP is rewritten by the next chunk
  }

  // The key groups of phase C hold sums over different keys of the same slices, under the
  // same running max: add them into group 0.
  if (KEY_GROUPS > 1) {
    [[unroll]] for (uint i = 0; i < O_PER_LANE; ++i) {
      float total = o[i];
      for (uint g = 1; g < KEY_GROUPS; ++g) total += subgroupShuffle(o[i], (lane + g * SLICES) % BLOCK_KV);
      o[i] = total;
    }
  }
  if (!c_active || key_group != 0) return;

  const uint rows_total = p.batch * p.q_heads * p.q_len;
  [[unroll]] for (uint r = 0; r < ROWS; ++r) {
    const uint row = out_row(batch_index, kv_head, r);
    const float l = l_run[r];
    [[unroll]] for (uint t = 0; t < SLICES_PER_LANE; ++t) {
      const uint slice = KEY_GROUPS > 1 ? lane % SLICES : lane + t * BLOCK_KV;
      if (slice >= SLICES) continue;
      [[unroll]] for (uint e = 0; e < 8; ++e) {
        const float x = l == 0.0 ? 0.0 : o[(r * SLICES_PER_LANE + t) * 8 + e] / l;
        const uint d = slice * 8 + e;
        if (WRITE_PARTIALS) PartialO.o[(gl_WorkGroupID.z * rows_total + row) * HEAD_DIM + d] = x;
        else O.o[row * HEAD_DIM + d] = float16_t(x);
      }
    }
    if (lane == 0) {
      if (WRITE_PARTIALS) PartialL.ml[gl_WorkGroupID.z * rows_total + row] = vec2(m_run[r] * LN2, l);
      else L.lse[row] = l == 0.0 ? AAT_NEG_INF : (m_run[r] + log2(l)) * LN2;
    }
  }
}
