#version 450
// The block map by the mass rule (pattern_bound.comp: the bound rule), one (batch, query head,
// query tile i) per workgroup.
//
// Density, two estimators from the key tile means k_j (of key tile j's keys below the length):
//  * tile (ROW_ESTIMATE false), the issue's formula: with q_i the mean of the tile's query rows,
//      s_ij = scale * q_i . k_j + log n_ij,   n_ij = visible keys of block (i, j) per query row,
//    and density_ij = softmax over the visible j of s_ij;
//  * row (ROW_ESTIMATE true): the same per group a of `query_group` consecutive query rows
//    (q_a their mean, n_aj their mean visible keys; query_group = 1: every row),
//      s_aj = scale * q_a . k_j + log n_aj,   p_aj = softmax_j s_aj,
//    density_ij = mean over the tile's groups (weighted by their rows; groups that see no key
//    left out) of p_aj. A query tile only some of whose rows attend somewhere keeps that
//    block's mass (the tile mean would dilute it).
// log n turns a mean into a sum: a block of n equal scores s holds exp(s + log n).
// VARIANCE adds the second moment of the scores over the tile's keys, as for a log-normal sum
// (E exp X = exp(E X + Var X / 2)), with the keys' covariance taken diagonal, capped:
//      + min(scale^2 / 2 * sum_d q_d^2 Var_j(k_d), variance_cap),  Var_j(k_d) = mean(k_d^2) - mean(k_d)^2,
// so a tile holding a few strong keys among weak ones is not rated by its mean alone (the cap:
// a tile of two key populations makes the log-normal term overshoot).
//
// Level: blocks are ranked by density (ties: lower j first). With c_j the mass of the blocks
// ranked before j plus the mass of the forced blocks, a block is
//   full if c_j < threshold_full, pooled x2 if c_j < threshold_pool2, pooled x4 if
//   c_j < threshold_pool4, else skipped
// so the full blocks hold at least the `mass` share and the skipped ones at most
// 1 - threshold_pool4. Forced full: the first `sink_tiles` key tiles and the tiles within
// `local_window` keys of the tile's diagonal. Halo: a block within `halo` key tiles of a block
// ranked full is full too (patterns straddling a tile edge: the mean of a tile holding a few
// strong keys underrates them). A partially masked block is never pooled (it is promoted to
// full: pooled keys carry no per-key mask). Masked blocks get level 4. A NaN score makes the
// whole row of blocks full, so exact attention reports the NaN.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_8bit_storage : require
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;
layout(constant_id = 2) const uint MAX_TILES = 2048;  // key tiles per row this pipeline holds
layout(constant_id = 3) const bool CAUSAL = false;
layout(constant_id = 4) const bool HAS_LENGTHS = false;
layout(constant_id = 5) const bool ROW_ESTIMATE = true;
layout(constant_id = 6) const bool VARIANCE = true;

const uint MAX_WORKGROUP = 256;
const uint MAX_ROWS = 256;   // block_q
const uint THREADS_PER_ROW = 4;  // row estimate: invocations sharing one query row's key tiles

// Tile estimate: the tile means [B, Hq, Tq, D]; row estimate: the group means [B, Hq, ceil(Nq / G), D].
layout(std430, binding = 0) readonly buffer QMeanBuffer { float x[]; } QMean;
layout(std430, binding = 1) readonly buffer KMeanBuffer { float x[]; } KMean;  // [B, Hkv, Tk, D]
layout(std430, binding = 2) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 3) writeonly buffer DensityBuffer { float d[]; } Density;     // [B, Hq, Tq, Tk]
layout(std430, binding = 4) writeonly buffer LevelBuffer { uint8_t level[]; } Levels;  // [B, Hq, Tq, Tk]
layout(std430, binding = 5) readonly buffer KSquareBuffer { float x[]; } KSquare;       // mean k^2, as KMean

layout(push_constant) uniform PatternParams {
  uint batch;
  uint q_heads;
  uint kv_heads;
  uint q_len;
  uint kv_len;
  uint block_q;
  uint block_k;
  uint tiles_q;
  uint tiles_k;
  float scale;
  float threshold_full;
  float threshold_pool2;
  float threshold_pool4;
  uint sink_tiles;
  uint local_window;  // keys on either side of the diagonal (before it only, when causal)
  uint all_full;      // 1: every visible block full (mass >= 1)
  uint halo;          // key tiles around a block ranked full that are full too
  float variance_cap; // the largest variance term
  uint query_group;   // row estimate: query rows per group G (block_q is a multiple of it)
  uint grouped_len;   // ceil(q_len / G)
} p;

#include "pattern_blocks.glsl"  // sD (score, then density), sTiles (flags, level by rank)

shared float sReduce[MAX_WORKGROUP];
shared float sPartM[MAX_WORKGROUP];
shared float sPartL[MAX_WORKGROUP];
shared float sRowM[MAX_ROWS];
shared float sRowL[MAX_ROWS];

// scale * x . k_j (+ the variance term) for a row x of QMean starting at x_base.
float tile_dot(uint x_base, uint k_base, uint j) {
  float dot = 0.0;
  float spread = 0.0;
  [[dont_unroll]] for (uint d = 0; d < HEAD_DIM; ++d) {
    const float x = QMean.x[x_base + d];
    const float mean = KMean.x[k_base + j * HEAD_DIM + d];
    dot += x * mean;
    if (VARIANCE) spread += x * x * max(KSquare.x[k_base + j * HEAD_DIM + d] - mean * mean, 0.0);
  }
  return p.scale * dot + (VARIANCE ? min(0.5 * p.scale * p.scale * spread, p.variance_cap) : 0.0);
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint threads = gl_WorkGroupSize.x;
  const uint bh = gl_WorkGroupID.y;
  const uint b = bh / p.q_heads;
  const uint head = bh % p.q_heads;
  const uint kv_head = head / (p.q_heads / p.kv_heads);
  const uint i = gl_WorkGroupID.x;
  const uint q0 = i * p.block_q;
  const uint q1 = min(q0 + p.block_q, p.q_len);
  const uint rows = q1 - q0;
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[b], 0, int(p.kv_len))) : p.kv_len;
  const uint tk = p.tiles_k;
  const uint k_base = (b * p.kv_heads + kv_head) * tk * HEAD_DIM;

  mark_tiles(q0, q1, key_limit);

  bool nan_row = false;
  if (ROW_ESTIMATE) {
    const uint group = p.query_group;
    const uint groups = (rows + group - 1u) / group;
    const uint x_first = bh * p.grouped_len + q0 / group;
    // Pass 1: each group's softmax normaliser (max m_a, sum l_a) over the key tiles,
    // THREADS_PER_ROW invocations per group, merged in shared memory.
    const uint rows_per_step = threads / THREADS_PER_ROW;
    for (uint a0 = 0; a0 < groups; a0 += rows_per_step) {
      const uint a = a0 + tid / THREADS_PER_ROW;
      float m = AAT_NEG_INF;
      float l = 0.0;
      if (a < groups) {
        const uint r0 = q0 + a * group, r1 = min(r0 + group, q1);
        for (uint j = tid % THREADS_PER_ROW; j < tk; j += THREADS_PER_ROW) {
          const float n = group_keys(r0, r1, j * p.block_k, min(j * p.block_k + p.block_k, p.kv_len), key_limit);
          if (n == 0.0) continue;
          const float s = tile_dot((x_first + a) * HEAD_DIM, k_base, j) + log(n);
          const float m_new = aat_max(m, s);
          l = l * exp(m - m_new) + exp(s - m_new);  // exp(-inf) = 0 for the first key tile
          m = m_new;
        }
      }
      sPartM[tid] = m;
      sPartL[tid] = l;
      barrier();
      if (a < groups && tid % THREADS_PER_ROW == 0u) {
        float mm = AAT_NEG_INF;
        for (uint t = 0; t < THREADS_PER_ROW; ++t)
          if (sPartL[tid + t] != 0.0 || isnan(sPartM[tid + t])) mm = aat_max(mm, sPartM[tid + t]);
        float ll = 0.0;
        for (uint t = 0; t < THREADS_PER_ROW; ++t) {
          const float lt = sPartL[tid + t];
          if (lt != 0.0 || isnan(lt)) ll += lt * exp(sPartM[tid + t] - mm);
        }
        sRowM[a] = mm;
        sRowL[a] = ll;
      }
      barrier();
    }
    // Pass 2: density_j = row-weighted mean over the groups that see a key of p_aj (one
    // invocation per key tile).
    float seeing = 0.0;
    for (uint a = 0; a < groups; ++a) {
      if (isnan(sRowM[a]) || isnan(sRowL[a])) nan_row = true;
      if (sRowL[a] > 0.0) seeing += float(min(group, rows - a * group));
    }
    for (uint j = tid; j < tk; j += threads) {
      float dens = 0.0;
      if ((tile_flags(j) & FLAG_VISIBLE) != 0u && !nan_row) {
        [[dont_unroll]] for (uint a = 0; a < groups; ++a) {
          if (!(sRowL[a] > 0.0)) continue;
          const uint r0 = q0 + a * group, r1 = min(r0 + group, q1);
          const float n = group_keys(r0, r1, j * p.block_k, min(j * p.block_k + p.block_k, p.kv_len), key_limit);
          if (n == 0.0) continue;
          const float s = tile_dot((x_first + a) * HEAD_DIM, k_base, j) + log(n);
          dens += float(r1 - r0) * exp(s - sRowM[a]) / sRowL[a];
        }
        dens /= max(seeing, 1.0);
      }
      if (nan_row) dens = uintBitsToFloat(0x7fc00000u);
      sD[j] = dens;
    }
    barrier();
  } else {
    // The tile estimate: one softmax over the key tiles for the tile's mean query.
    const uint x_base = (bh * p.tiles_q + i) * HEAD_DIM;
    float local_max = AAT_NEG_INF;
    for (uint j = tid; j < tk; j += threads) {
      float s = AAT_NEG_INF;
      if ((tile_flags(j) & FLAG_VISIBLE) != 0u) {
        const uint k0 = j * p.block_k;
        const uint k1 = min(k0 + p.block_k, p.kv_len);
        const float pairs = float(aat_block_visible_pairs(q0, q1, k0, k1, p.q_len, p.kv_len, key_limit, CAUSAL));
        s = tile_dot(x_base, k_base, j) + log(pairs / float(rows));
        local_max = aat_max(local_max, s);
      }
      sD[j] = s;
    }
    sReduce[tid] = local_max;
    barrier();
    for (uint stride = threads / 2; stride > 0; stride /= 2) {
      if (tid < stride) sReduce[tid] = aat_max(sReduce[tid], sReduce[tid + stride]);
      barrier();
    }
    const float m = sReduce[0];
    barrier();
    float local_sum = 0.0;
    for (uint j = tid; j < tk; j += threads) {
      const float e = (tile_flags(j) & FLAG_VISIBLE) != 0u && m != AAT_NEG_INF ? exp(sD[j] - m) : 0.0;
      sD[j] = e;
      local_sum += e;
    }
    sReduce[tid] = local_sum;
    barrier();
    for (uint stride = threads / 2; stride > 0; stride /= 2) {
      if (tid < stride) sReduce[tid] += sReduce[tid + stride];
      barrier();
    }
    const float sum = sReduce[0];
    nan_row = isnan(m) || isnan(sum);
    barrier();
    for (uint j = tid; j < tk; j += threads) sD[j] = sum > 0.0 ? sD[j] / sum : sD[j];
    barrier();
  }

  // Levels by rank: the mass ranked before each block (O(Tk^2) per row, from shared memory).
  for (uint j = tid; j < tk; j += threads) {
    const uint flags = tile_flags(j);
    const float dj = sD[j];
    uint level = LEVEL_MASKED;
    if ((flags & FLAG_VISIBLE) != 0u) {
      level = LEVEL_FULL;
      if (!nan_row && p.all_full == 0u && (flags & FLAG_FORCED) == 0u) {
        float before = 0.0;
        [[dont_unroll]] for (uint k = 0; k < tk; ++k) {
          const uint fk = tile_flags(k);
          if ((fk & FLAG_VISIBLE) == 0u) continue;
          const float dk = sD[k];
          if ((fk & FLAG_FORCED) != 0u || dk > dj || (dk == dj && k < j)) before += dk;
        }
        level = before < p.threshold_full    ? LEVEL_FULL
                : before < p.threshold_pool2 ? LEVEL_POOL2
                : before < p.threshold_pool4 ? LEVEL_POOL4
                                             : LEVEL_SKIP;
      }
    }
    keep_level(j, level);
  }
  barrier();
  store_levels();

  write_tiles((bh * p.tiles_q + i) * tk);
}
