#version 450
// The block map by the bound rule (pattern_map.comp: the mass rule), one (batch, query head,
// query tile i) per workgroup. docs/adaptive.md ("The bound rule") derives it.
//
// For each group a of `query_group` consecutive query rows of the tile (q_a their mean, Var_a q_d
// the rows' variance per coordinate) and key tile j (k_j the mean of its keys below the length,
// Var_j k_d their variance; n_aj the group's mean visible keys in the tile):
//   mean      mu_aj  = scale * q_a . k_j
//   variance  s2_aj  = scale^2 * sum_d [q_ad^2 Var_j k_d + Var_a q_d (k_jd^2 + Var_j k_d)]
//             (the scores' variance over the group's rows and the tile's keys when coordinates
//             and the row and key deviations are independent)
//   upper     log U_aj = log n_aj + mu_aj + s2_aj / 2   (E exp X <= exp(E X + s2 / 2) for X
//             sub-Gaussian with variance proxy s2; uncapped)
//   lower     Z_a = min over the group's rows of the anchor mass (anchor.glsl, exact)
//                   + sum over the other visible tiles j (not forced, no anchor key) of
//                     n_aj exp(mu_aj)                   (Jensen: n exp(mean) <= sum of exp)
//   share     u_aj = U_aj / Z_a.
// Ranking the group's non-forced visible tiles by u descending (ties: lower j first), T_aj =
// the sum of u over the tiles ranked at or after j is an upper estimate of the share of the
// group's mass left out if those tiles are dropped. Tile j needs, from group a,
//   full if T_aj > tail_pool2, pooled x2 if T_aj > tail_pool4, pooled x4 if T_aj > tail_skip,
//   else nothing (skip)
// (tail_pool2 = epsilon, tail_pool4 = epsilon (1 - pool2_share), tail_skip = epsilon (1 -
// pool2_share - pool4_share)), and gets the finest level any group of the tile needs. Forced
// tiles, the halo and the boundary rule as the mass rule (pattern_blocks.glsl), except that a
// forced tile with a largest u above tail_pool2 widens the halo too (a needle across the edge of
// the sink tile or of the diagonal window). Density out: the
// largest u_aj over the groups that see the tile (forced tiles included). A NaN anywhere in the tile's estimates makes its row of blocks
// full; all_full (epsilon 0) makes every visible block full.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_8bit_storage : require
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;
layout(constant_id = 2) const uint MAX_TILES = 2048;  // key tiles per row this pipeline holds
layout(constant_id = 3) const bool CAUSAL = false;
layout(constant_id = 4) const bool HAS_LENGTHS = false;

const uint MAX_WORKGROUP = 256;

layout(std430, binding = 0) readonly buffer QMeanBuffer { float x[]; } QMean;      // [B, Hq, ceil(Nq / G), D]
layout(std430, binding = 1) readonly buffer KMeanBuffer { float x[]; } KMean;      // [B, Hkv, Tk, D]
layout(std430, binding = 2) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 3) writeonly buffer DensityBuffer { float d[]; } Density;     // [B, Hq, Tq, Tk]
layout(std430, binding = 4) writeonly buffer LevelBuffer { uint8_t level[]; } Levels;  // [B, Hq, Tq, Tk]
layout(std430, binding = 5) readonly buffer KSquareBuffer { float x[]; } KSquare;  // mean k^2, as KMean
layout(std430, binding = 6) readonly buffer QSquareBuffer { float x[]; } QSquare;  // mean q^2, as QMean
layout(std430, binding = 7) readonly buffer AnchorBuffer { float x[]; } Anchor;    // [B, Hq, Nq]

layout(push_constant) uniform BoundParams {
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
  float tail_pool2;
  float tail_pool4;
  float tail_skip;
  uint sink_tiles;
  uint local_window;  // keys on either side of the diagonal (before it only, when causal)
  uint all_full;      // 1: every visible block full (epsilon 0)
  uint halo;          // key tiles around a block ranked full that are full too
  uint query_group;   // G (block_q is a multiple of it)
  uint grouped_len;   // ceil(q_len / G)
  uint anchor_sinks;  // the anchor keys (anchor.glsl), to keep them out of Jensen's sum
  uint anchor_window;
} p;

#include "pattern_blocks.glsl"  // sD (largest upper share), sTiles (flags, finest level needed)

shared float sU[MAX_TILES];  // the current group: log U, then u (-1: no requirement)
shared float sPartM[MAX_WORKGROUP];
shared float sPartL[MAX_WORKGROUP];

// mu (x) and s2 (y) of group x_base against key tile j.
vec2 moments(uint x_base, uint k_base, uint j) {
  float dot = 0.0, spread = 0.0;
  [[dont_unroll]] for (uint d = 0; d < HEAD_DIM; ++d) {
    const float q = QMean.x[x_base + d];
    const float q_var = max(QSquare.x[x_base + d] - q * q, 0.0);
    const float k = KMean.x[k_base + j * HEAD_DIM + d];
    const float k_var = max(KSquare.x[k_base + j * HEAD_DIM + d] - k * k, 0.0);
    dot += q * k;
    spread += q * q * k_var + q_var * (k * k + k_var);
  }
  return vec2(p.scale * dot, p.scale * p.scale * spread);
}

// End (exclusive) of the anchor window of row a (anchor.glsl).
uint anchor_window_end(uint a, uint key_limit) {
  const uint visible_end = aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL);
  return min(aat_row_key_end(a, p.q_len, p.kv_len, key_limit, true), visible_end);  // at the diagonal
}

// Merges the invocations' online log-sum-exp states (sPartM, sPartL) into one (log of the sum).
float reduce_log_sum() {
  const uint tid = gl_LocalInvocationID.x;
  for (uint stride = gl_WorkGroupSize.x / 2; stride > 0; stride /= 2) {
    if (tid < stride) {
      const float m0 = sPartM[tid], m1 = sPartM[tid + stride];
      const float m = max(m0, m1);
      const float l = m == AAT_NEG_INF ? 0.0 : sPartL[tid] * exp(m0 - m) + sPartL[tid + stride] * exp(m1 - m);
      sPartM[tid] = m;
      sPartL[tid] = l;
    }
    barrier();
  }
  const float result = sPartL[0] > 0.0 ? sPartM[0] + log(sPartL[0]) : AAT_NEG_INF;
  barrier();
  return result;
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint threads = gl_WorkGroupSize.x;
  const uint bh = gl_WorkGroupID.y;
  const uint b = bh / p.q_heads;
  const uint kv_head = (bh % p.q_heads) / (p.q_heads / p.kv_heads);
  const uint i = gl_WorkGroupID.x;
  const uint q0 = i * p.block_q;
  const uint q1 = min(q0 + p.block_q, p.q_len);
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[b], 0, int(p.kv_len))) : p.kv_len;
  const uint tk = p.tiles_k;
  const uint k_base = (b * p.kv_heads + kv_head) * tk * HEAD_DIM;
  const uint group = p.query_group;
  const uint groups = (q1 - q0 + group - 1u) / group;

  mark_tiles(q0, q1, key_limit);
  for (uint j = tid; j < tk; j += threads) {
    sD[j] = 0.0;
    keep_level(j, LEVEL_SKIP);
  }
  barrier();

  bool nan_seen = false;  // per invocation (each sees its own tiles); OR-ed below
  const bool all_full = p.all_full != 0u;
  for (uint a = 0; a < groups && !all_full; ++a) {
    const uint r0 = q0 + a * group, r1 = min(r0 + group, q1);
    const uint x_base = (bh * p.grouped_len + q0 / group + a) * HEAD_DIM;
    // The anchor bound: the least anchor mass of the group's rows that see a key.
    float anchor = AAT_NEG_INF;
    for (uint r = r0; r < r1; ++r) {
      const float x = Anchor.x[bh * p.q_len + r];
      if (isnan(x)) nan_seen = true;
      else if (x != AAT_NEG_INF) anchor = anchor == AAT_NEG_INF ? x : min(anchor, x);
    }
    // Keys holding an anchor key of some row of the group: [0, sinks) and [lo, hi).
    const uint hi = anchor_window_end(r1 - 1u, key_limit);
    const uint lo_end = anchor_window_end(r0, key_limit);
    const uint lo = lo_end > p.anchor_window ? lo_end - p.anchor_window : 0u;

    // log U per tile, and Jensen's sum as an online log-sum-exp per invocation.
    float m = AAT_NEG_INF, l = 0.0;
    for (uint j = tid; j < tk; j += threads) {
      const uint k0 = j * p.block_k, k1 = min(k0 + p.block_k, p.kv_len);
      float log_u = AAT_NEG_INF;
      const float n = (tile_flags(j) & FLAG_VISIBLE) != 0u ? group_keys(r0, r1, k0, k1, key_limit) : 0.0;
      if (n > 0.0) {
        const vec2 mom = moments(x_base, k_base, j);
        log_u = log(n) + mom.x + 0.5 * mom.y;
        if (isnan(log_u)) nan_seen = true;
        const bool anchored = k0 < p.anchor_sinks || (p.anchor_window > 0u && k1 > lo && k0 < hi);
        if ((tile_flags(j) & FLAG_FORCED) == 0u && !anchored && !isnan(log_u)) {
          const float s = log(n) + mom.x;
          const float m_new = max(m, s);
          l = l * exp(m - m_new) + exp(s - m_new);
          m = m_new;
        }
      }
      sU[j] = log_u;
    }
    sPartM[tid] = m;
    sPartL[tid] = l;
    barrier();
    const float jensen = reduce_log_sum();
    const float top = max(anchor, jensen);
    const float log_z = top == AAT_NEG_INF ? AAT_NEG_INF : top + log(exp(anchor - top) + exp(jensen - top));

    // Upper shares of the tiles this group sees; -1: not seen.
    for (uint j = tid; j < tk; j += threads) {
      const float log_u = sU[j];
      const bool counts = log_u != AAT_NEG_INF && !isnan(log_u);
      // A group with no lower bound (no anchor, no other tile): every tile it sees is needed.
      sU[j] = !counts ? -1.0 : log_z == AAT_NEG_INF ? uintBitsToFloat(0x7f800000u) : exp(log_u - log_z);
    }
    barrier();
    // The share ranked at or after each tile that is not forced (O(Tk^2) per group, from
    // shared memory), where it is not settled at once: u_j above tail_pool2 makes T_j above it
    // too (full); Tk u_j at most tail_skip bounds T_j (skip). Most tiles of a structured row
    // are one or the other; a row of evenly spread mass pays the whole loop.
    for (uint j = tid; j < tk; j += threads) {
      const float uj = sU[j];
      if (uj < 0.0) continue;
      sD[j] = max(sD[j], uj);
      if ((tile_flags(j) & FLAG_FORCED) != 0u) continue;
      float tail = uj > p.tail_pool2 ? uj : 0.0;
      if (uj <= p.tail_pool2 && float(tk) * uj > p.tail_skip) {
        [[dont_unroll]] for (uint k = 0; k < tk; ++k) {
          const float uk = sU[k];
          if (uk >= 0.0 && (tile_flags(k) & FLAG_FORCED) == 0u && (uk < uj || (uk == uj && k >= j))) tail += uk;
        }
      }
      const uint level = tail > p.tail_pool2 ? LEVEL_FULL
                         : tail > p.tail_pool4 ? LEVEL_POOL2
                         : tail > p.tail_skip  ? LEVEL_POOL4
                                               : LEVEL_SKIP;
      keep_level(j, min(kept_level(j), level));
    }
    barrier();
  }

  // nan_seen differs between invocations (each saw its own tiles): OR it over the workgroup.
  sPartM[tid] = nan_seen ? 1.0 : 0.0;
  barrier();
  for (uint stride = threads / 2; stride > 0; stride /= 2) {
    if (tid < stride) sPartM[tid] = max(sPartM[tid], sPartM[tid + stride]);
    barrier();
  }
  const bool nan_row = sPartM[0] != 0.0;
  barrier();

  for (uint j = tid; j < tk; j += threads) {
    const uint flags = tile_flags(j);
    uint level = LEVEL_MASKED;
    if ((flags & FLAG_VISIBLE) != 0u)
      level = nan_row || all_full || (flags & FLAG_FORCED) != 0u ? LEVEL_FULL : kept_level(j);
    // A forced tile whose own upper share would keep it full (a passage across its edge, not
    // only sinks or the local band) widens the halo as a tile ranked full does.
    if ((flags & FLAG_FORCED) != 0u && !nan_row && !all_full && sD[j] > p.tail_pool2) sTiles[j] |= FLAG_HALO;
    keep_level(j, level);
    if ((flags & FLAG_VISIBLE) == 0u) sD[j] = 0.0;
    else if (nan_row) sD[j] = uintBitsToFloat(0x7fc00000u);
  }
  barrier();
  store_levels();

  write_tiles((bh * p.tiles_q + i) * tk);
}
