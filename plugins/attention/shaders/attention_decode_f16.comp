#version 450
// Decode attention (flash-decoding), f16 storage, f32 accumulation: the few query rows that
// share one K/V head (ROWS = Hq/Hkv x Nq <= 16) against a long key range. Memory-bound: every
// K and V row is read once per key-value head, with 16-byte loads, whatever the GQA ratio.
//
// One subgroup is one workgroup; it owns one (batch, kv head) and one split of the keys
// (gl_WorkGroupID.z; the exact merge of merge_partials.glsl combines the splits).
//
// The subgroup reads keys side by side: LANES_PER_KEY lanes share one key, each lane an 8-wide
// slice of D (a 16-byte load), so KEY_LANES = subgroup / LANES_PER_KEY keys are read per load
// instruction, contiguously. A step is UNROLL such loads of K and of V, all issued before any is
// used, so a lane keeps 2 x UNROLL loads in flight. Each lane keeps its own online-softmax state
// (m, l, O over its slices) for the keys of its key lane, so the loop needs no barrier and no
// shared memory: the scores are summed over the LANES_PER_KEY lanes of a key by xor shuffles
// (every lane of the key gets the same sum, bit for bit), and the KEY_LANES states are merged
// exactly once, at the end (shaders/aat/softmax_state.glsl's rule, by shuffles).
// Same contract as attention_forward.glsl: masks (causal bottom-right, key lengths, bias),
// split-K partial states, a fully masked row gives O = 0 and L = -inf, NaN stays in its row.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "attention_common.glsl"

layout(local_size_x_id = 0) in;                 // = BLOCK_KV: one subgroup
layout(constant_id = 1) const uint ROWS = 1;    // (Hq / Hkv) * Nq: the rows of one kv head
layout(constant_id = 2) const uint BLOCK_KV = 32;  // the subgroup size; splits are whole chunks of it
layout(constant_id = 3) const uint HEAD_DIM = 128; // a multiple of 8
layout(constant_id = 8) const uint UNROLL = 4;  // loads of K (and of V) per lane in flight

const uint SLICES = HEAD_DIM / 8;  // 8 halves = one uvec4 per slice
// The largest power of two <= min(SLICES, BLOCK_KV) (BLOCK_KV, a subgroup size, is one).
const uint LANES_PER_KEY = SLICES >= BLOCK_KV ? BLOCK_KV
                         : SLICES >= 64 ? 64 : SLICES >= 32 ? 32 : SLICES >= 16 ? 16
                         : SLICES >= 8 ? 8 : SLICES >= 4 ? 4 : SLICES >= 2 ? 2 : 1;
const uint SLICES_PER_LANE = (SLICES + LANES_PER_KEY - 1) / LANES_PER_KEY;
const uint KEY_LANES = BLOCK_KV / LANES_PER_KEY;
// log2 of LANES_PER_KEY and of BLOCK_KV: the shuffle loops count up by one, so that every
// compiler unrolls them (llvmpipe counts each iteration of a loop it keeps against its limit).
const uint LOG2_LANES_PER_KEY = LANES_PER_KEY >= 64 ? 6 : LANES_PER_KEY >= 32 ? 5 : LANES_PER_KEY >= 16 ? 4
                              : LANES_PER_KEY >= 8 ? 3 : LANES_PER_KEY >= 4 ? 2 : LANES_PER_KEY >= 2 ? 1 : 0;
const uint LOG2_BLOCK_KV = BLOCK_KV >= 128 ? 7 : BLOCK_KV >= 64 ? 6 : BLOCK_KV >= 32 ? 5 : BLOCK_KV >= 16 ? 4
                         : BLOCK_KV >= 8 ? 3 : BLOCK_KV >= 4 ? 2 : BLOCK_KV >= 2 ? 1 : 0;
const uint STEP = KEY_LANES * UNROLL;  // keys per step of the subgroup
const uint HELD = UNROLL * SLICES_PER_LANE;
const uint O_PER_LANE = ROWS * SLICES_PER_LANE * 8;

layout(std430, binding = 0) readonly buffer QBuffer { uvec4 q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { uvec4 k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { uvec4 v[]; } V;
layout(std430, binding = 3) writeonly buffer OBuffer { float16_t o[]; } O;

shared vec4 sQ[ROWS * SLICES * 2];  // [row][slice] as two vec4, scaled to log2 units

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

// exp2(x - m) for a score x under the running maximum m: 0 for a masked score or an empty state.
float weight(float x, float m) { return x == AAT_NEG_INF ? 0.0 : exp2(x - m); }

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

  const uint first_slice = lane % LANES_PER_KEY;
  const uint key_lane = lane / LANES_PER_KEY;

  float m_run[ROWS], l_run[ROWS];
  [[unroll]] for (uint r = 0; r < ROWS; ++r) {
    m_run[r] = AAT_NEG_INF;
    l_run[r] = 0.0;
  }
  float o[O_PER_LANE];
  [[unroll]] for (uint i = 0; i < O_PER_LANE; ++i) o[i] = 0.0;

  for (uint c0 = split_begin; c0 < split_end; c0 += STEP) {
    // Every load of the step first: K and V of UNROLL keys (one key per key lane each).
    uvec4 kbits[HELD], vbits[HELD];
    [[unroll]] for (uint u = 0; u < UNROLL; ++u) {
      const uint j = c0 + u * KEY_LANES + key_lane;
      [[unroll]] for (uint t = 0; t < SLICES_PER_LANE; ++t) {
        const uint slice = first_slice + t * LANES_PER_KEY;
        const bool here = j < split_end && slice < SLICES;
        kbits[u * SLICES_PER_LANE + t] = here ? K.k[kv_base + j * SLICES + slice] : uvec4(0);
        vbits[u * SLICES_PER_LANE + t] = here ? V.v[kv_base + j * SLICES + slice] : uvec4(0);
      }
    }
    // This lane's part of each score, then the sum over the key's lanes.
    float s[UNROLL * ROWS];
    [[unroll]] for (uint i = 0; i < UNROLL * ROWS; ++i) s[i] = 0.0;
    [[unroll]] for (uint t = 0; t < SLICES_PER_LANE; ++t) {
      const uint slice = first_slice + t * LANES_PER_KEY;
      if (slice >= SLICES) continue;
      [[unroll]] for (uint u = 0; u < UNROLL; ++u) {
        vec4 lo, hi;
        unpack8(kbits[u * SLICES_PER_LANE + t], lo, hi);
        [[unroll]] for (uint r = 0; r < ROWS; ++r)
          s[u * ROWS + r] += dot(lo, sQ[2 * (r * SLICES + slice)]) + dot(hi, sQ[2 * (r * SLICES + slice) + 1]);
      }
    }
    [[unroll]] for (uint i = 0; i < UNROLL * ROWS; ++i)
      [[unroll]] for (uint b = 0; b < LOG2_LANES_PER_KEY; ++b) s[i] += subgroupShuffleXor(s[i], 1u << b);

    // The online softmax of each row over this lane's UNROLL keys, and O += P V.
    [[unroll]] for (uint r = 0; r < ROWS; ++r) {
      const uint qi = r % p.q_len;
      float m_step = AAT_NEG_INF;
      [[unroll]] for (uint u = 0; u < UNROLL; ++u) {
        const uint j = c0 + u * KEY_LANES + key_lane;
        float x = s[u * ROWS + r];
        if (j >= split_end || causally_hidden(qi, j)) x = AAT_NEG_INF;
        else if (HAS_BIAS) x += LOG2E * bias_at(batch_index, kv_head * group + r / p.q_len, qi, j);
        s[u * ROWS + r] = x;
        m_step = aat_max(m_step, x);
      }
      const float m_new = aat_max(m_run[r], m_step);
      if (m_new == AAT_NEG_INF) continue;  // nothing seen yet: the state stays empty
      const float alpha = weight(m_run[r], m_new);
      float pu[UNROLL];
      float sum = 0.0;
      [[unroll]] for (uint u = 0; u < UNROLL; ++u) {
        pu[u] = weight(s[u * ROWS + r], m_new);
        sum += pu[u];
      }
      l_run[r] = l_run[r] * alpha + sum;
      m_run[r] = m_new;
      [[unroll]] for (uint t = 0; t < SLICES_PER_LANE; ++t) {
        const uint at = (r * SLICES_PER_LANE + t) * 8;
        [[unroll]] for (uint e = 0; e < 8; ++e) o[at + e] *= alpha;
        [[unroll]] for (uint u = 0; u < UNROLL; ++u) {
          vec4 lo, hi;
          unpack8(vbits[u * SLICES_PER_LANE + t], lo, hi);
          [[unroll]] for (uint e = 0; e < 4; ++e) {
            o[at + e] += pu[u] * lo[e];
            o[at + 4 + e] += pu[u] * hi[e];
          }
        }
      }
    }
  }

  // The key lanes' states, merged exactly: M = max m, weights exp2(m - M), l and O weighted sums.
  // Both lanes of each exchange compute the same merged state.
  [[unroll]] for (uint b = LOG2_LANES_PER_KEY; b < LOG2_BLOCK_KV; ++b) {
    const uint w = 1u << b;
    [[unroll]] for (uint r = 0; r < ROWS; ++r) {
      const float m_other = subgroupShuffleXor(m_run[r], w);
      const float l_other = subgroupShuffleXor(l_run[r], w);
      const float m_new = aat_max(m_run[r], m_other);
      const float mine = m_new == AAT_NEG_INF ? 0.0 : weight(m_run[r], m_new);
      const float theirs = m_new == AAT_NEG_INF ? 0.0 : weight(m_other, m_new);
      l_run[r] = l_run[r] * mine + l_other * theirs;
      m_run[r] = m_new;
      [[unroll]] for (uint i = 0; i < SLICES_PER_LANE * 8; ++i) {
        const uint at = r * SLICES_PER_LANE * 8 + i;
        o[at] = o[at] * mine + subgroupShuffleXor(o[at], w) * theirs;
      }
    }
  }
  if (key_lane != 0) return;

  const uint rows_total = p.batch * p.q_heads * p.q_len;
  [[unroll]] for (uint r = 0; r < ROWS; ++r) {
    const uint row = out_row(batch_index, kv_head, r);
    const float l = l_run[r];
    [[unroll]] for (uint t = 0; t < SLICES_PER_LANE; ++t) {
      const uint slice = first_slice + t * LANES_PER_KEY;
      if (slice >= SLICES) continue;
      [[unroll]] for (uint e = 0; e < 8; ++e) {
        const float x = l == 0.0 ? 0.0 : o[(r * SLICES_PER_LANE + t) * 8 + e] / l;
        const uint d = slice * 8 + e;
        if (WRITE_PARTIALS) PartialO.o[(gl_WorkGroupID.z * rows_total + row) * HEAD_DIM + d] = x;
        else O.o[row * HEAD_DIM + d] = float16_t(x);
      }
    }
    if (first_slice == 0) {
      if (WRITE_PARTIALS) PartialL.ml[gl_WorkGroupID.z * rows_total + row] = vec2(m_run[r] * LN2, l);
      else L.lse[row] = l == 0.0 ? AAT_NEG_INF : (m_run[r] + log2(l)) * LN2;
    }
  }
}
