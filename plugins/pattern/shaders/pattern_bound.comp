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
//
// How it runs (docs/adaptive.md, "The bound rule's kernel and its cost"): the tile's groups in
// batches of R (as many as the shared pool holds for the visible key tiles, at most R_MAX), each
// in three phases between barriers:
//   A  moments: the invocations share the (block of RB = 8 groups, key tile j) pairs; each loads,
//      per 4 coordinates, the tile's mean and variance once and updates mu and s2 of the block's
//      staged groups (register blocking); log U and Jensen's term log n + mu (-inf where it does
//      not count) to the pool, [R][tv] each;
//   B  one subgroup per group: Z (Jensen's sum by subgroupMax / subgroupAdd over the row of
//      terms, and the anchor), u = U / Z in place (forced tiles' u stored negated, unseen
//      tiles as UNSEEN), and per threshold t the pivot of the ranking: the dropped tiles (T <= t)
//      are the lowest-ranked ones, i.e. those below a value in u's bit order (u >= 0, so float
//      and uint order agree), ties cut by tile index. Found by bisection on the bits of u
//      (three thresholds at once; each pass one subgroup-wide sum), exact to the tie;
//   C  every invocation, for its own key tiles, compares each group's u with its pivots.
// Work per (group, visible key tile): about 13 D / 4 operations in A (more for groups), about 25
// per bisection pass in B (mostly one pass, a few on average), a handful in C; the previous kernel
// ran the groups one after another (several workgroup barriers each) and the tail sums in
// O(Tk^2) for every tile not settled at once.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;  // a multiple of 4
layout(constant_id = 2) const uint MAX_TILES = 2048;  // key tiles per row this pipeline holds
layout(constant_id = 3) const bool CAUSAL = false;
layout(constant_id = 4) const bool HAS_LENGTHS = false;
layout(constant_id = 5) const bool GROUPED = false;  // query_group > 1: the rows' variance term
layout(constant_id = 6) const uint POOL_FLOATS = 2048;  // the shared pool (the host sizes it)

const uint MAX_WORKGROUP = 256;
const uint R_MAX = 32u;  // groups per batch at most
const uint RB = 8u;      // groups per register block of phase A
const uint D4 = HEAD_DIM / 4u;
const uint STAGE = GROUPED ? 2u * HEAD_DIM : HEAD_DIM;  // staged floats per group: mean (, variance)
const uint UNSEEN = 0xffc00000u;  // a NaN: a tile the group does not see (not ranked)
const uint NO_TIE = 0xffffffffu;

layout(std430, binding = 0) readonly buffer QMeanBuffer { vec4 x[]; } QMean;      // [B, Hq, ceil(Nq / G), D]
layout(std430, binding = 1) readonly buffer KMeanBuffer { vec4 x[]; } KMean;      // [B, Hkv, Tk, D]
layout(std430, binding = 2) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 3) writeonly buffer DensityBuffer { float d[]; } Density;     // [B, Hq, Tq, Tk]
layout(std430, binding = 4) writeonly buffer LevelBuffer { uint8_t level[]; } Levels;  // [B, Hq, Tq, Tk]
layout(std430, binding = 5) readonly buffer KSquareBuffer { vec4 x[]; } KSquare;  // mean k^2, as KMean
layout(std430, binding = 6) readonly buffer QSquareBuffer { vec4 x[]; } QSquare;  // mean q^2, as QMean
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

// The batch's staged group moments [R][STAGE], then log U / u per (group, visible tile) [R][tv],
// then Jensen's terms [R][tv].
shared float sPool[POOL_FLOATS];
shared float sNan[MAX_WORKGROUP];  // the invocations' NaN flags, OR-ed at the end
// Per group and threshold (pool2, pool4, skip): the pivot (u bits, first dropped index of a tie).
shared uvec3 sPivotBits[R_MAX];
shared uvec3 sPivotIndex[R_MAX];

// End (exclusive) of the anchor window of row a (anchor.glsl).
uint anchor_window_end(uint a, uint key_limit) {
  const uint visible_end = aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL);
  return min(aat_row_key_end(a, p.q_len, p.kv_len, key_limit, true), visible_end);  // at the diagonal
}

// One bisection pass of a subgroup over its group's ranked u (bits <= 0x7f800000; forced and
// unseen tiles have the sign bit set and fall outside every range below), per threshold k:
//   sum.k    = the sum of u with bits <= mid.k
//   inside.k = how many have bits in (lo.k, hi.k), ties.k = how many have bits == hi.k.
void scan(uint base, uint tv, uvec3 lo, uvec3 mid, uvec3 hi, out vec3 sum, out uvec3 inside, out uvec3 ties) {
  vec3 s = vec3(0.0);
  uvec3 n = uvec3(0u), c = uvec3(0u);
  const uint lanes = gl_SubgroupSize;
  for (uint j0 = gl_SubgroupInvocationID; j0 < tv; j0 += 4u * lanes) {
    [[unroll]] for (uint e = 0u; e < 4u; ++e) {
      const uint j = j0 + e * lanes;
      if (j >= tv) break;
      const float v = sPool[base + j];
      const uvec3 bits = uvec3(floatBitsToUint(v));
      s += mix(vec3(0.0), vec3(v), lessThanEqual(bits, mid));
      n += uvec3(greaterThan(bits, lo)) * uvec3(lessThan(bits, hi));
      c += uvec3(equal(bits, hi));
    }
  }
  sum = subgroupAdd(s);
  inside = subgroupAdd(n);
  ties = subgroupAdd(c);
}

// The sums of the group's ranked u with bits <= b1 and with bits <= b2, per threshold.
void sums_at(uint base, uint tv, uvec3 b1, uvec3 b2, out vec3 s1, out vec3 s2) {
  vec3 x1 = vec3(0.0), x2 = vec3(0.0);
  for (uint j = gl_SubgroupInvocationID; j < tv; j += gl_SubgroupSize) {
    const float v = sPool[base + j];
    const uvec3 bits = uvec3(floatBitsToUint(v));
    x1 += mix(vec3(0.0), vec3(v), lessThanEqual(bits, b1));
    x2 += mix(vec3(0.0), vec3(v), lessThanEqual(bits, b2));
  }
  s1 = subgroupAdd(x1);
  s2 = subgroupAdd(x2);
}

// How many ranked u of the group have bits == `bits` and index >= x.
uint count_ties_from(uint base, uint tv, uint bits, uint x) {
  uint n = 0u;
  for (uint j = x + gl_SubgroupInvocationID; j < tv; j += gl_SubgroupSize)
    if (floatBitsToUint(sPool[base + j]) == bits) ++n;
  return subgroupAdd(n);
}

// The pivots of one group (a subgroup, uniform control flow): for each threshold t, tile j is
// dropped (T_j <= t) iff bits(u_j) < pivot_bits, or bits(u_j) == pivot_bits and j >= pivot_index.
// T in ascending (u, -j) order is a prefix sum, so the dropped tiles are a prefix of that order;
// S(b) = the sum of u with bits <= b is monotone, and the pivot is the first value where S
// exceeds t (the tie at that value cut by how many of its copies still fit under t).
void find_pivots(uint base, uint tv, vec3 t, out uvec3 pivot_bits, out uvec3 pivot_index) {
  const uvec3 top = floatBitsToUint(t);
  // Everything at most t/(4 tv) is dropped at t (at most tv such u sum to t/4 or less).
  const uvec3 bottom = min(floatBitsToUint(t / float(4u * max(tv, 1u))), top);
  vec3 s_top, s_lo;
  sums_at(base, tv, top, bottom, s_top, s_lo);
  // At t: the tail of everything up to t fits (all of it dropped), or the pivot lies in
  // (bottom, top]: S(lo) <= t < S(hi) throughout.
  bvec3 done = lessThanEqual(s_top, t);
  uvec3 lo = bottom, hi = top;
  uvec3 tie_count = uvec3(0u);
  [[dont_unroll]] while (!all(done)) {
    const uvec3 mid = lo + (hi - lo) / 2u;
    vec3 s;
    uvec3 inside, ties;
    scan(base, tv, lo, mid, hi, s, inside, ties);
    [[unroll]] for (uint k = 0u; k < 3u; ++k) {
      if (done[k]) continue;
      if (inside[k] == 0u) {
        done[k] = true;
        tie_count[k] = ties[k];
      } else if (s[k] <= t[k]) {
        lo[k] = mid[k];
        s_lo[k] = s[k];
      } else {
        hi[k] = mid[k];
      }
    }
  }
  const bvec3 all_dropped = lessThanEqual(s_top, t);
  [[unroll]] for (uint k = 0u; k < 3u; ++k) {
    if (all_dropped[k]) {
      pivot_bits[k] = top[k];
      pivot_index[k] = 0u;
      continue;
    }
    // The u at hi: its copies, taken from the highest index, are dropped while S(lo) + m u <= t.
    pivot_bits[k] = hi[k];
    const float w = uintBitsToFloat(hi[k]);
    const uint c = tie_count[k];
    const float room = floor((t[k] - s_lo[k]) / w);
    const uint fit = room <= 0.0 ? 0u : room >= float(c) ? c : uint(room);
    if (fit == 0u) {
      pivot_index[k] = NO_TIE;
    } else if (fit >= c) {
      pivot_index[k] = 0u;
    } else {
      // The fit-th largest index of the copies: the largest x with at least `fit` copies at or after x.
      uint x_lo = 0u, x_hi = tv;  // count(x_lo) >= fit > count(x_hi)
      [[dont_unroll]] while (x_hi - x_lo > 1u) {
        const uint x = x_lo + (x_hi - x_lo) / 2u;
        if (count_ties_from(base, tv, hi[k], x) >= fit) x_lo = x;
        else x_hi = x;
      }
      pivot_index[k] = x_lo;
    }
  }
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
  const uint k_base4 = (b * p.kv_heads + kv_head) * tk * D4;
  const uint group = p.query_group;
  const uint groups = (q1 - q0 + group - 1u) / group;
  // Visible keys are a prefix per row, longest for the tile's last row.
  const uint tv = min(tk, (aat_row_key_end(q1 - 1u, p.q_len, p.kv_len, key_limit, CAUSAL) + p.block_k - 1u) / p.block_k);
  const uint subgroups = gl_NumSubgroups;
  // Whole register blocks where more than one fits.
  const uint fit = min(R_MAX, POOL_FLOATS / (STAGE + 2u * max(tv, 1u)));
  const uint batch_rows = max(1u, fit >= RB ? fit - fit % RB : fit);

  mark_tiles(q0, q1, key_limit);
  for (uint j = tid; j < tk; j += threads) {
    sD[j] = 0.0;
    keep_level(j, LEVEL_SKIP);
  }
  barrier();

  bool nan_seen = false;  // per invocation (each sees its own tiles); OR-ed below
  const bool all_full = p.all_full != 0u;
  for (uint a0 = 0u; a0 < groups && !all_full && tv > 0u; a0 += batch_rows) {
    const uint rows = min(batch_rows, groups - a0);
    const uint values = rows * STAGE;     // start of the [rows][tv] log U / u in the pool
    const uint terms = values + rows * tv;  // start of the [rows][tv] Jensen terms
    // Stage the batch's group means (and, for groups, the rows' variances).
    for (uint x = tid; x < rows * D4; x += threads) {
      const uint r = x / D4, d4 = x % D4;
      const uint src = (bh * p.grouped_len + q0 / group + a0 + r) * D4 + d4;
      const vec4 q = QMean.x[src];
      [[unroll]] for (uint c = 0u; c < 4u; ++c) sPool[r * STAGE + 4u * d4 + c] = q[c];
      if (GROUPED) {
        const vec4 q_var = max(QSquare.x[src] - q * q, vec4(0.0));
        [[unroll]] for (uint c = 0u; c < 4u; ++c) sPool[r * STAGE + HEAD_DIM + 4u * d4 + c] = q_var[c];
      }
    }
    barrier();

    // Phase A: log U and Jensen's term per (group, tile), over (register block, tile) pairs.
    const uint blocks = (rows + RB - 1u) / RB;
    for (uint x = tid; x < blocks * tv; x += threads) {
      const uint rb = (x / tv) * RB, j = x % tv;
      float dots[RB], spreads[RB];
      [[unroll]] for (uint r = 0u; r < RB; ++r) {
        dots[r] = 0.0;
        spreads[r] = 0.0;
      }
      const uint kb = k_base4 + j * D4;
      [[dont_unroll]] for (uint d4 = 0u; d4 < D4; ++d4) {
        const vec4 k = KMean.x[kb + d4];
        const vec4 k_var = max(KSquare.x[kb + d4] - k * k, vec4(0.0));
        const vec4 k_second = k * k + k_var;
        [[unroll]] for (uint r = 0u; r < RB; ++r) {
          const uint s = min(rb + r, rows - 1u) * STAGE + 4u * d4;
          const vec4 q = vec4(sPool[s], sPool[s + 1u], sPool[s + 2u], sPool[s + 3u]);
          dots[r] += dot(q, k);
          spreads[r] += dot(q * q, k_var);
          if (GROUPED) {
            const uint sv = s + HEAD_DIM;
            spreads[r] += dot(vec4(sPool[sv], sPool[sv + 1u], sPool[sv + 2u], sPool[sv + 3u]), k_second);
          }
        }
      }
      const uint flags = tile_flags(j);
      const uint k0 = j * p.block_k, k1 = min(k0 + p.block_k, p.kv_len);
      [[unroll]] for (uint r = 0u; r < RB; ++r) {
        if (rb + r >= rows) break;
        const uint a = a0 + rb + r;
        const uint r0 = q0 + a * group, r1 = min(r0 + group, q1);
        float log_u = AAT_NEG_INF, term = AAT_NEG_INF;
        const float n = (flags & FLAG_VISIBLE) != 0u ? group_keys(r0, r1, k0, k1, key_limit) : 0.0;
        if (n > 0.0) {
          const float mu = p.scale * dots[r];
          log_u = log(n) + mu + 0.5 * p.scale * p.scale * spreads[r];
          if (isnan(log_u)) nan_seen = true;
          // Keys holding an anchor key of some row of the group: [0, sinks) and [lo, hi).
          const uint hi = anchor_window_end(r1 - 1u, key_limit);
          const uint lo_end = anchor_window_end(r0, key_limit);
          const uint lo = lo_end > p.anchor_window ? lo_end - p.anchor_window : 0u;
          const bool anchored = k0 < p.anchor_sinks || (p.anchor_window > 0u && k1 > lo && k0 < hi);
          if ((flags & FLAG_FORCED) == 0u && !anchored && !isnan(log_u)) term = log(n) + mu;
        }
        sPool[values + (rb + r) * tv + j] = log_u;
        sPool[terms + (rb + r) * tv + j] = term;
      }
    }
    barrier();

    // Phase B: per group (one subgroup each), u in place and the pivots.
    for (uint r = gl_SubgroupID; r < rows; r += subgroups) {
      const uint a = a0 + r;
      const uint r0 = q0 + a * group, r1 = min(r0 + group, q1);
      // Jensen's sum over the group's terms (log-sum-exp: the largest first).
      const uint term_base = terms + r * tv;
      float m_lane = AAT_NEG_INF;
      for (uint j = gl_SubgroupInvocationID; j < tv; j += gl_SubgroupSize) m_lane = max(m_lane, sPool[term_base + j]);
      const float m = subgroupMax(m_lane);
      float l_lane = 0.0;
      if (m != AAT_NEG_INF)
        for (uint j = gl_SubgroupInvocationID; j < tv; j += gl_SubgroupSize) l_lane += exp(sPool[term_base + j] - m);
      const float l = subgroupAdd(l_lane);
      const float log_jensen = l > 0.0 ? m + log(l) : AAT_NEG_INF;
      // The anchor bound: the least anchor mass of the group's rows that see a key.
      float anchor = AAT_NEG_INF;
      for (uint row = r0; row < r1; ++row) {
        const float x = Anchor.x[bh * p.q_len + row];
        if (isnan(x)) nan_seen = true;
        else if (x != AAT_NEG_INF) anchor = anchor == AAT_NEG_INF ? x : min(anchor, x);
      }
      const float top = max(anchor, log_jensen);
      const float log_z = top == AAT_NEG_INF ? AAT_NEG_INF : top + log(exp(anchor - top) + exp(log_jensen - top));
      const uint base = values + r * tv;
      for (uint j = gl_SubgroupInvocationID; j < tv; j += gl_SubgroupSize) {
        const float log_u = sPool[base + j];
        const bool counts = log_u != AAT_NEG_INF && !isnan(log_u);
        // A group with no lower bound (no anchor, no other tile): every tile it sees is needed.
        const float u = log_z == AAT_NEG_INF ? uintBitsToFloat(0x7f800000u) : exp(log_u - log_z);
        sPool[base + j] = !counts ? uintBitsToFloat(UNSEEN) : (tile_flags(j) & FLAG_FORCED) != 0u ? -u : u;
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      uvec3 pivot_bits, pivot_index;
      find_pivots(base, tv, vec3(p.tail_pool2, p.tail_pool4, p.tail_skip), pivot_bits, pivot_index);
      if (subgroupElect()) {
        sPivotBits[r] = pivot_bits;
        sPivotIndex[r] = pivot_index;
      }
    }
    barrier();

    // Phase C: each invocation's own tiles: the finest level any group needs, the largest u.
    for (uint j = tid; j < tv; j += threads) {
      const bool forced = (tile_flags(j) & FLAG_FORCED) != 0u;
      uint level = kept_level(j);
      float density = sD[j];
      for (uint r = 0u; r < rows; ++r) {
        const uint bits = floatBitsToUint(sPool[values + r * tv + j]);
        if (bits == UNSEEN) continue;
        density = max(density, abs(uintBitsToFloat(bits)));
        if (forced) continue;
        const uvec3 pb = sPivotBits[r], pi = sPivotIndex[r];
        const bvec3 dropped = bvec3(uvec3(lessThan(uvec3(bits), pb)) |
                                    uvec3(equal(uvec3(bits), pb)) * uvec3(greaterThanEqual(uvec3(j), pi)));
        const uint need = !dropped.x ? LEVEL_FULL : !dropped.y ? LEVEL_POOL2 : !dropped.z ? LEVEL_POOL4 : LEVEL_SKIP;
        level = min(level, need);
      }
      sD[j] = density;
      keep_level(j, level);
    }
    barrier();
  }

  // nan_seen differs between invocations (each saw its own tiles): OR it over the workgroup.
  sNan[tid] = nan_seen ? 1.0 : 0.0;
  barrier();
  for (uint stride = threads / 2; stride > 0; stride /= 2) {
    if (tid < stride) sNan[tid] = max(sNan[tid], sNan[tid + stride]);
    barrier();
  }
  const bool nan_row = sNan[0] != 0.0;
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
