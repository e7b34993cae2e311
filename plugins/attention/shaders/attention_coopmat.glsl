// Exact attention on tensor cores through subgroup-scope cooperative matrices (f16 in, f32
// accumulate): VK_NV_cooperative_matrix, or VK_KHR_cooperative_matrix (AMD, Intel, NVIDIA)
// where the including file defines AAT_COOPMAT_KHR; the two differ only in the spelling below.
//
// Include after defining HEAD_DIM (64 or 128 here; arrays of matrices need a compile-time
// size). Four subgroups of 32 share a workgroup; each owns 16 query rows (BLOCK_Q = 64):
//   S_sg (16 x Bc)  = Q_sg (16 x D) . K_tile^T        16x16x16 MMAs, Q held in registers
//   softmax on S in shared memory, two threads per row, exp2 with the scale folded in
//   O_sg (16 x D)   = O_sg * alpha + P_sg (16 x Bc) . V_tile
// NV cooperative matrices hide which (row, col) a lane's element holds, but the mapping is
// the same for every matrix of one type: loading a matrix whose elements are their own row
// index tells each lane the row of each element, which is how O is rescaled per row in
// registers (see kRowOf below). Everything else matches attention_forward.glsl: masks, the
// fully-masked-row rule (O = 0, L = -inf), NaN propagation and split-K partial states.
#ifdef AAT_COOPMAT_KHR
#extension GL_KHR_cooperative_matrix : require
#else
#extension GL_NV_cooperative_matrix : require
#endif
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "attention_common.glsl"

#define SUBGROUPS 4
#define BLOCK_Q (16 * SUBGROUPS)
layout(local_size_x = 32 * SUBGROUPS) in;
layout(constant_id = 2) const uint BLOCK_KV = 64;

#define D8 (HEAD_DIM / 8)            // uvec4 (8 halves) per row
#define KV_STRIDE4 (D8 + 1)          // shared K/V row stride in uvec4, padded 16 bytes
#define S_STRIDE (BLOCK_KV + 4)      // shared score row stride in floats
#define P_STRIDE (BLOCK_KV + 8)      // shared probability row stride in halves

layout(std430, binding = 0) readonly buffer QBuffer { uvec4 q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { uvec4 k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { uvec4 v[]; } V;
layout(std430, binding = 3) writeonly buffer OBuffer { float16_t o[]; } O;

shared uvec4 sKV[BLOCK_KV * KV_STRIDE4];
shared float sS[BLOCK_Q * S_STRIDE];
shared float16_t sP[BLOCK_Q * P_STRIDE];
shared float sMax[BLOCK_Q];
shared float sSum[BLOCK_Q];
shared float sAlpha[BLOCK_Q];
shared float sRowIndex[16 * 16];

#ifdef AAT_COOPMAT_KHR
#define ACC coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>
#define HALF_A coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define HALF_B coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB>
// Offsets and strides count elements of the array loaded from (uvec4, float or f16 here).
#define MAT_LOAD(m, buf, offset, stride, column_major) \
  coopMatLoad(m, buf, offset, stride, (column_major) ? gl_CooperativeMatrixLayoutColumnMajor : gl_CooperativeMatrixLayoutRowMajor)
#define MAT_STORE(m, buf, offset, stride) coopMatStore(m, buf, offset, stride, gl_CooperativeMatrixLayoutRowMajor)
#define MAT_MULADD(a, b, c) coopMatMulAdd(a, b, c)
#else
#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define HALF_A fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define HALF_B fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define MAT_LOAD(m, buf, offset, stride, column_major) coopMatLoadNV(m, buf, offset, stride, column_major)
#define MAT_STORE(m, buf, offset, stride) coopMatStoreNV(m, buf, offset, stride, false)
#define MAT_MULADD(a, b, c) coopMatMulAddNV(a, b, c)
#endif

const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;


// Rows [row0, row0 + BLOCK_KV) of a [*, D] f16 tensor into sKV, zero past `valid` rows.
void load_rows(bool values, uint base4, uint row0, uint valid) {
  for (uint i = gl_LocalInvocationID.x; i < BLOCK_KV * D8; i += gl_WorkGroupSize.x) {
    const uint j = i / D8;
    const uint c = i % D8;
    uvec4 x = uvec4(0);
    if (j < valid) x = values ? V.v[base4 + (row0 + j) * D8 + c] : K.k[base4 + (row0 + j) * D8 + c];
    sKV[j * KV_STRIDE4 + c] = x;
  }
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = gl_SubgroupID;
  const uint lane = gl_SubgroupInvocationID;
  const uint bh = gl_WorkGroupID.y;
  const uint batch_index = bh / p.q_heads;
  const uint head = bh % p.q_heads;
  const uint kv_head = head / (p.q_heads / p.kv_heads);
  const uint q0 = gl_WorkGroupID.x * BLOCK_Q;
  const uint rows = min(BLOCK_Q, p.q_len - q0);
  const uint q_base4 = (bh * p.q_len) * D8;
  const uint kv_base4 = (batch_index * p.kv_heads + kv_head) * p.kv_len * D8;

  const uint key_end = visible_key_end(batch_index, q0, rows);
  const uint split_begin = gl_WorkGroupID.z * p.tiles_per_split * BLOCK_KV;
  const uint split_end = min(key_end, split_begin + p.tiles_per_split * BLOCK_KV);

  for (uint i = tid; i < 16 * 16; i += gl_WorkGroupSize.x) sRowIndex[i] = float(i / 16);
  if (tid < BLOCK_Q) {
    sMax[tid] = AAT_NEG_INF;
    sSum[tid] = 0.0;
  }

  // Q fragments, staged through sKV (zero rows past Nq), BLOCK_KV rows at a time.
  HALF_A q_frag[HEAD_DIM / 16];
  for (uint chunk = 0; chunk < BLOCK_Q; chunk += BLOCK_KV) {
    barrier();
    load_rows(false, 0, 0, 0);  // zero fill, then the real rows (keeps one loader)
    barrier();
    for (uint i = tid; i < BLOCK_KV * D8; i += gl_WorkGroupSize.x) {
      const uint j = i / D8;
      const uint c = i % D8;
      const uint row = chunk + j;
      if (row < rows) sKV[j * KV_STRIDE4 + c] = Q.q[q_base4 + (q0 + row) * D8 + c];
    }
    barrier();
    if (sg * 16 >= chunk && sg * 16 < chunk + BLOCK_KV) {
      [[unroll]] for (uint kd = 0; kd < HEAD_DIM / 16; ++kd)
        MAT_LOAD(q_frag[kd], sKV, (sg * 16 - chunk) * KV_STRIDE4 + kd * 2, KV_STRIDE4, false);
    }
  }
  barrier();
  ACC row_of;
  MAT_LOAD(row_of, sRowIndex, 0, 16, false);

  ACC o_frag[HEAD_DIM / 16];
  [[unroll]] for (uint n = 0; n < HEAD_DIM / 16; ++n) o_frag[n] = ACC(0.0);

  const float scale2 = p.scale * LOG2E;  // scores in log2 units: exp2 instead of exp
  const uint half_kv = BLOCK_KV / 2;
  const uint row = tid / 2;               // the softmax row of this thread
  const uint part = tid % 2;              // which half of the row's keys

  for (uint kv0 = split_begin; kv0 < split_end; kv0 += BLOCK_KV) {
    const uint cols = min(BLOCK_KV, split_end - kv0);
    load_rows(false, kv_base4, kv0, cols);
    barrier();

    [[unroll]] for (uint n = 0; n < BLOCK_KV / 16; ++n) {
      ACC s_frag = ACC(0.0);
      [[unroll]] for (uint kd = 0; kd < HEAD_DIM / 16; ++kd) {
        HALF_B k_frag;
        MAT_LOAD(k_frag, sKV, (n * 16) * KV_STRIDE4 + kd * 2, KV_STRIDE4, true);
        s_frag = MAT_MULADD(q_frag[kd], k_frag, s_frag);
      }
      MAT_STORE(s_frag, sS, (sg * 16) * S_STRIDE + n * 16, S_STRIDE);
    }
    barrier();

    // Softmax update: two threads per row, each over half the tile's keys. The scaled scores
    // stay in registers between the max and the exp2 pass (re-reading them from shared memory
    // saved only 5 of 197 registers and cost 37% of the throughput on the H100).
    {
      const uint qi = q0 + row;
      float m_old = sMax[row];
      float m_tile = AAT_NEG_INF;
      float s_local[BLOCK_KV / 2];
      [[unroll]] for (uint t = 0; t < half_kv; ++t) {
        const uint j = part * half_kv + t;
        const uint kj = kv0 + j;
        float s = AAT_NEG_INF;
        if (row < rows && j < cols) {
          s = sS[row * S_STRIDE + j] * scale2;
          if (HAS_BIAS) s += LOG2E * bias_at(batch_index, head, qi, kj);
          if (causally_hidden(qi, kj)) s = AAT_NEG_INF;
        }
        s_local[t] = s;
        m_tile = aat_max(m_tile, s);
      }
      m_tile = aat_max(m_tile, subgroupShuffleXor(m_tile, 1));
      const float m_new = aat_max(m_old, m_tile);
      float alpha = 1.0;
      float sum = 0.0;
      if (m_new != AAT_NEG_INF) {
        alpha = exp2(m_old - m_new);
        [[unroll]] for (uint t = 0; t < half_kv; ++t) {
          const float e = s_local[t] == AAT_NEG_INF ? 0.0 : exp2(s_local[t] - m_new);
          sum += e;
          sP[row * P_STRIDE + part * half_kv + t] = float16_t(e);
        }
      } else {
        [[unroll]] for (uint t = 0; t < half_kv; ++t) sP[row * P_STRIDE + part * half_kv + t] = float16_t(0.0);
      }
      sum += subgroupShuffleXor(sum, 1);
      if (part == 0) {
        sSum[row] = sSum[row] * alpha + sum;
        sMax[row] = m_new;
        sAlpha[row] = alpha;
      }
    }
    barrier();  // everyone is done with K in sKV
    load_rows(true, kv_base4, kv0, cols);
    barrier();

    // Element loops are unrolled: a matrix indexed by a run-time value would live in local memory.
    [[unroll]] for (uint n = 0; n < HEAD_DIM / 16; ++n)
      [[unroll]] for (uint i = 0; i < o_frag[n].length(); ++i) o_frag[n][i] *= sAlpha[sg * 16 + uint(row_of[i])];
    [[unroll]] for (uint kk = 0; kk < BLOCK_KV / 16; ++kk) {
      HALF_A p_frag;
      MAT_LOAD(p_frag, sP, (sg * 16) * P_STRIDE + kk * 16, P_STRIDE, false);
      [[unroll]] for (uint n = 0; n < HEAD_DIM / 16; ++n) {
        HALF_B v_frag;
        MAT_LOAD(v_frag, sKV, (kk * 16) * KV_STRIDE4 + n * 2, KV_STRIDE4, false);
        o_frag[n] = MAT_MULADD(p_frag, v_frag, o_frag[n]);
      }
    }
    barrier();
  }

  // O / l per row; out through this subgroup's rows of sS (16 x 16 f32 at a time).
  const uint rows_total = p.batch * p.q_heads * p.q_len;
  const uint staging = (sg * 16) * S_STRIDE;
  [[unroll]] for (uint n = 0; n < HEAD_DIM / 16; ++n) {
    [[unroll]] for (uint i = 0; i < o_frag[n].length(); ++i) {
      const float l = sSum[sg * 16 + uint(row_of[i])];
      o_frag[n][i] = l == 0.0 ? 0.0 : o_frag[n][i] / l;
    }
    MAT_STORE(o_frag[n], sS, staging, S_STRIDE);
    subgroupBarrier();
    for (uint i = lane; i < 16 * 16; i += 32) {
      const uint r = i / 16;
      const uint d = n * 16 + i % 16;
      const uint local_row = sg * 16 + r;
      if (local_row >= rows) continue;
      const uint out_row = bh * p.q_len + q0 + local_row;
      const float x = sS[staging + r * S_STRIDE + i % 16];
      if (WRITE_PARTIALS) PartialO.o[(gl_WorkGroupID.z * rows_total + out_row) * HEAD_DIM + d] = x;
      else O.o[out_row * HEAD_DIM + d] = float16_t(x);
    }
    subgroupBarrier();
  }
  if (tid < rows) {
    const float l = sSum[tid];
    const float lse = l == 0.0 ? AAT_NEG_INF : (sMax[tid] + log2(l)) * LN2;
    const uint out_row = bh * p.q_len + q0 + tid;
    if (WRITE_PARTIALS) PartialL.ml[gl_WorkGroupID.z * rows_total + out_row] = vec2(sMax[tid] * LN2, l);
    else L.lse[out_row] = lse;
  }
}
