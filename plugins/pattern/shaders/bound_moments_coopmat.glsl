// Phase A of the bound rule's map kernel (pattern_bound.glsl) on the tensor cores, for groups of
// one query row. Per pass of rows a and visible key tiles j:
//   mu_aj = scale q_a . m_j               m_j: the tile's mean key
//   s2_aj = scale^2 (q_a^2) . v_j         v_j: the tile's per-coordinate key variance
// as f16 matrix products with f32 accumulation. f16 alone keeps 11 bits, too few for log U
// (the suite holds the map to 2e-3 in log density at scores of 100), so each operand is split
// into a high and a low f16 part after scaling by a power of two, which f16's range needs too
// (q^2 overflows f16 above |q| = 256); split_operands.glsl, row_operands.comp, key_operands.comp:
//   row a:  q_a 2^-e_a = qh + ql,  (q_a 2^-e_a)^2 = rh + rl
//   tile j: m_j 2^-g_j = mh + ml,  v_j 2^-f_j = vh + vl
//   mu_aj = scale 2^(e_a + g_j) (qh.mh + qh.ml + ql.mh),  s2_aj = scale^2 2^(2 e_a + f_j) (rh.vh + rh.vl + rl.vh)
// dropping the lo.lo products: about 22 bits, against f32's 24 in the invocation kernel. ql is
// zero for f16 inputs (Q_SPLIT false skips its products). A row or tile with a non-finite value
// has NaN scales, so its estimates are NaN and its query tile's blocks all full, as in the
// invocation kernel.
//
// Each subgroup owns 16 rows of the pass (R_MAX = 64: 4 subgroups) and keeps their operands in
// registers; the workgroup stages the key operands of 16 key tiles at a time in shared memory
// (sKeyOperands) and every subgroup multiplies its rows by them, stores the accumulator pair to
// its part of sAcc and turns it into log U and Jensen's terms, a lane per (row, 8 tiles), so each
// row's Jensen sum lives in two lanes; log U goes to Shares through sAcc so the global writes are
// row-contiguous. (A first version gave each subgroup its own chunks of key tiles and all 64
// rows, re-reading the row operands from L1 for every chunk: slower still.) Shared memory beside
// the invocation kernel's: the staged key operands (128 D bytes) and 2 KiB per subgroup. On the
// H200 this kernel is correct but slower than the invocation kernel (docs/adaptive.md), so it runs
// only when asked for (PatternOptions::bound_moments).
// Include from pattern_bound.glsl (after pattern_blocks.glsl and anchor_window_end).

layout(constant_id = 8) const bool Q_SPLIT = true;  // Q is not exactly f16 (f32 inputs)

const uint TC_SUBGROUPS = 4u;                 // the workgroup: 4 subgroups of 32 (the host checks)
const uint TC_D_PAD = (HEAD_DIM + 15u) / 16u * 16u;  // the operands are zero past HEAD_DIM
const uint TC_D16 = TC_D_PAD / 16u;
// R_MAX = 16 TC_SUBGROUPS: a 16-row block per subgroup.
const uint TC_ACC_STRIDE = 16u;               // floats; read along a diagonal (2-way bank conflicts)

#define TC_ACC coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>
#define TC_A coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define TC_B coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB>

// row_operands.comp: [B x Hq][4][rows_pad][TC_D_PAD] f16 (qh, ql, rh, rl) and 2^e_a per row.
layout(std430, binding = 9) readonly buffer RowOperandBuffer { uvec4 x[]; } RowOperands;  // as 8 halves
layout(std430, binding = 10) readonly buffer RowScaleBuffer { float x[]; } RowScales;
// key_operands.comp: [B x Hkv][4][TC_D_PAD][tiles_pad] f16 (mh, ml, vh, vl) and (2^g_j, 2^f_j).
layout(std430, binding = 11) readonly buffer KeyOperandBuffer { uvec4 x[]; } KeyOperands;  // as 8 halves
layout(std430, binding = 12) readonly buffer KeyScaleBuffer { vec2 x[]; } KeyScales;

// Per subgroup: mu (then log U), s2. vec4s: a matrix store needs a 16-byte aligned address, which
// a float array after other shared variables need not have (measured on the H200: the stores
// landed one float early, silently).
shared vec4 sAcc[TC_SUBGROUPS * 2u * 16u * TC_ACC_STRIDE / 4u];
// The key operands of the chunk's 16 tiles: [4 planes][TC_D_PAD][16 tiles] halves, as uvec4s.
shared uvec4 sKeyOperands[4u * TC_D_PAD * 2u];
float acc_at(uint i) { return sAcc[i / 4u][i % 4u]; }
void set_acc(uint i, float value) { sAcc[i / 4u][i % 4u] = value; }

// Phase A for the rows [a0, a0 + rows) of the query tile at q0: log U per (row, visible key tile)
// to Shares[shares_base + r tk + j]; Jensen's (max, sum) per row to the pool at partial_base (the
// row's subgroup's slot; the other subgroups' slots empty). Ends with barrier_with_shares().
void tensor_moments(uint a0, uint rows, uint q0, uint bh, uint kv_head, uint tv, uint key_limit, uint shares_base,
                    uint partial_base) {
  const uint sg = gl_SubgroupID;
  const uint lane = gl_SubgroupInvocationID;
  const uint subgroups = gl_NumSubgroups;
  const uint tk = p.tiles_k;
  const uint tiles_pad = (tk + 15u) / 16u * 16u;
  const uint rows_pad = p.q_len + 16u;
  const uint key_head = (bh / p.q_heads) * p.kv_heads + kv_head;
  const uint key_plane = tiles_pad * TC_D_PAD;
  const uint key_base = key_head * 4u * key_plane;
  const uint row_plane = rows_pad * TC_D_PAD;
  const uint block = sg * 16u;  // the subgroup's rows of the pass
  const bool has_rows = block < rows;
  const uint row_at = bh * 4u * row_plane + (q0 + a0 + block) * TC_D_PAD;
  const uint acc_base = sg * 2u * 16u * TC_ACC_STRIDE;
  const uint s2_base = acc_base + 16u * TC_ACC_STRIDE;
  const float scale2 = p.scale * p.scale;
  // The lane's row of the block and its 8 tiles of a chunk: (lane % 16, 8 (lane / 16) + i).
  const uint lane_row = lane % 16u, lane_tiles = 8u * (lane / 16u);
  const uint r_lane = block + lane_row;  // of the pass
  const uint row = q0 + a0 + r_lane;
  const float row_scale = RowScales.x[bh * rows_pad + row];
  const uint row_end = aat_row_key_end(row, p.q_len, p.kv_len, key_limit, CAUSAL);
  // Keys holding one of the row's anchor keys: [0, sinks) and [anchor_lo, anchor_hi).
  const uint anchor_hi = anchor_window_end(row, key_limit);
  const uint anchor_lo = anchor_hi > p.anchor_window ? anchor_hi - p.anchor_window : 0u;
  float jensen_max = AAT_NEG_INF, jensen_sum = 0.0;

  // The block's row operands, in registers for the whole pass.
  TC_A qh[TC_D16], ql[TC_D16], rh[TC_D16], rl[TC_D16];
  if (has_rows) {
    [[unroll]] for (uint d = 0u; d < TC_D16; ++d) {
      const uint at = row_at + d * 16u;
      coopMatLoad(qh[d], RowOperands.x, at / 8u, TC_D_PAD / 8u, gl_CooperativeMatrixLayoutRowMajor);
      coopMatLoad(rh[d], RowOperands.x, (at + 2u * row_plane) / 8u, TC_D_PAD / 8u, gl_CooperativeMatrixLayoutRowMajor);
      coopMatLoad(rl[d], RowOperands.x, (at + 3u * row_plane) / 8u, TC_D_PAD / 8u, gl_CooperativeMatrixLayoutRowMajor);
      if (Q_SPLIT)
        coopMatLoad(ql[d], RowOperands.x, (at + row_plane) / 8u, TC_D_PAD / 8u, gl_CooperativeMatrixLayoutRowMajor);
    }
  }

  const uint chunks = (tv + 15u) / 16u;
  for (uint c = 0u; c < chunks; ++c) {
    const uint j0 = c * 16u;
    // Stage the chunk's key operands: per (plane, coordinate) 16 tiles, two uvec4s.
    barrier();  // the previous chunk's operands are read
    for (uint x = gl_LocalInvocationID.x; x < 8u * TC_D_PAD; x += gl_WorkGroupSize.x) {
      const uint line = x / 2u;  // plane * TC_D_PAD + coordinate
      sKeyOperands[x] = KeyOperands.x[(key_base + line * tiles_pad + j0) / 8u + x % 2u];
    }
    barrier();
    if (!has_rows) continue;
    TC_ACC mu = TC_ACC(0.0), s2 = TC_ACC(0.0);
    [[unroll]] for (uint d = 0u; d < TC_D16; ++d) {
      TC_B mh, ml, vh, vl;  // rows d * 16 .. + 15 of each plane, 16 tiles each
      coopMatLoad(mh, sKeyOperands, (d * 16u) * 2u, 2u, gl_CooperativeMatrixLayoutRowMajor);
      coopMatLoad(ml, sKeyOperands, (TC_D_PAD + d * 16u) * 2u, 2u, gl_CooperativeMatrixLayoutRowMajor);
      coopMatLoad(vh, sKeyOperands, (2u * TC_D_PAD + d * 16u) * 2u, 2u, gl_CooperativeMatrixLayoutRowMajor);
      coopMatLoad(vl, sKeyOperands, (3u * TC_D_PAD + d * 16u) * 2u, 2u, gl_CooperativeMatrixLayoutRowMajor);
      mu = coopMatMulAdd(qh[d], mh, mu);
      mu = coopMatMulAdd(qh[d], ml, mu);
      if (Q_SPLIT) mu = coopMatMulAdd(ql[d], mh, mu);
      s2 = coopMatMulAdd(rh[d], vh, s2);
      s2 = coopMatMulAdd(rh[d], vl, s2);
      s2 = coopMatMulAdd(rl[d], vh, s2);
    }
    coopMatStore(mu, sAcc, acc_base / 4u, TC_ACC_STRIDE / 4u, gl_CooperativeMatrixLayoutRowMajor);
    coopMatStore(s2, sAcc, s2_base / 4u, TC_ACC_STRIDE / 4u, gl_CooperativeMatrixLayoutRowMajor);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    if (r_lane < rows) {
      [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        const uint t = (lane_tiles + i + lane_row) % 16u;  // a diagonal: fewer bank conflicts
        const uint j = j0 + t;
        if (j >= tv) continue;
        const uint flags = tile_flags(j);
        const uint k0 = j * p.block_k, k1 = min(k0 + p.block_k, p.kv_len);
        const uint end = min(k1, row_end);
        const float n = (flags & FLAG_VISIBLE) != 0u && end > k0 ? float(end - k0) : 0.0;
        float log_u = AAT_NEG_INF;
        if (n > 0.0) {
          const vec2 key_scale = KeyScales.x[key_head * tiles_pad + j];
          const float mu_aj = p.scale * row_scale * key_scale.x * acc_at(acc_base + lane_row * TC_ACC_STRIDE + t);
          const float s2_aj = scale2 * row_scale * row_scale * key_scale.y * acc_at(s2_base + lane_row * TC_ACC_STRIDE + t);
          log_u = log(n) + mu_aj + 0.5 * s2_aj;
          if (isnan(log_u)) sTileNan = 1u;  // every writer stores the same value
          const bool anchored = k0 < p.anchor_sinks || (p.anchor_window > 0u && k1 > anchor_lo && k0 < anchor_hi);
          if ((flags & FLAG_FORCED) == 0u && !anchored && !isnan(log_u)) {
            const float term = log(n) + mu_aj;
            if (term > jensen_max) {
              jensen_sum = jensen_sum * exp(jensen_max - term) + 1.0;
              jensen_max = term;
            } else if (term != AAT_NEG_INF) {
              jensen_sum += exp(term - jensen_max);
            }
          }
        }
        set_acc(acc_base + lane_row * TC_ACC_STRIDE + t, log_u);
      }
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    // log U out, 16 tiles of a row contiguous.
    for (uint e = lane; e < 256u; e += gl_SubgroupSize) {
      const uint r = e / 16u, t = e % 16u;
      if (block + r < rows && j0 + t < tv)
        Shares.x[shares_base + (block + r) * tk + j0 + t] = acc_at(acc_base + r * TC_ACC_STRIDE + t);
    }
  }
  // Jensen's partial per row: its two lanes merged, in the row's subgroup's slot; the other slots
  // of the row empty (the Z step merges a slot per subgroup).
  const float other_max = subgroupShuffleXor(jensen_max, 16u);
  const float other_sum = subgroupShuffleXor(jensen_sum, 16u);
  const float top = max(jensen_max, other_max);
  const float sum = top == AAT_NEG_INF ? 0.0 : jensen_sum * exp(jensen_max - top) + other_sum * exp(other_max - top);
  if (lane < 16u && r_lane < rows) {
    for (uint s = 0u; s < subgroups; ++s) {
      sPool[partial_base + 2u * (r_lane * subgroups + s)] = s == sg ? top : AAT_NEG_INF;
      sPool[partial_base + 2u * (r_lane * subgroups + s) + 1u] = s == sg ? sum : 0.0;
    }
  }
  barrier_with_shares();
}
