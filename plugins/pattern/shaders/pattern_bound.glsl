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
// Ranking the group's non-forced visible tiles (below), T_aj = the sum of u over the tiles
// ranked at or after j is an upper estimate of the share of the group's mass left out if those
// tiles are dropped. Tile j needs, from group a,
//   full if T_aj > tail_pool2, pooled x2 if T_aj > tail_pool4, pooled x4 if T_aj > tail_skip,
//   else nothing (skip)
// (tail_pool2 = epsilon, tail_pool4 = epsilon (1 - pool2_share), tail_skip = epsilon (1 -
// pool2_share - pool4_share)), and gets the finest level any group of the tile needs. Forced
// tiles, the halo and the boundary rule as the mass rule (pattern_blocks.glsl), except that a
// forced tile with a largest u above tail_pool2 widens the halo too (a needle across the edge of
// the sink tile or of the diagonal window). Density out: the
// largest u_aj over the groups that see the tile (forced tiles included). A NaN anywhere in the tile's estimates makes its row of blocks
// full; all_full (epsilon 0) makes every visible block full.
// The ranking: by the *binade* of u below tail_pool2, b(u) = floor(log2(tail_pool2 / u)) (capped
// at NBINS - 1; a u above tail_pool2 is never dropped), then inside a binade by (j mod L, j div L)
// for subgroups of L lanes (lower first): by the lane that holds the tile, then its slot.
// Any ranking keeps the bound (the dropped tiles are a prefix of the ranking whose u sum to at
// most t); ranking by u itself drops a few more tiles, but this one needs no sort: the pivot
// binade comes from the binades' sums, the pivot tile from each lane's sums inside that binade
// (one scan over the lanes) and the lane's running sum over its own slots.
//
// How it runs (docs/adaptive.md, "The bound rule's kernel and its cost"): the workgroup takes
// the query tile's groups R_MAX at a time:
//   A  moments: each invocation one key tile at a time (the tile moments read tile-major, so a
//      subgroup's loads are contiguous), mu and s2 of the R_MAX staged groups; log U to the
//      workgroup's rows of Shares [R_MAX][tiles_k] (global memory: a pool in shared memory
//      held only ~3 groups at 32k keys, and each group more a load of the moments saves a pass
//      over them); Jensen's terms into a running log-sum-exp per group, reduced over the
//      subgroup, then over the subgroups;
//   B  one subgroup per group: Z (Jensen's sum and the anchor); u = U / Z; the binades' sums (a
//      column per lane, no atomics); per threshold the pivot binade and what is left of t below
//      it; one scan of the lanes' sums in the pivot binades; then each lane its slots from the
//      highest down, a running sum of u inside the pivot binades: each tile's need, folded into
//      its level by a shared atomicMin (the flags in the low byte are equal for all writers);
//      the density (largest u) by a shared atomicMax on u's bits (u >= 0).
// Per (group, visible key tile): about 13 D / 4 operations in A (2 D floats read, shared by the
// R_MAX groups), about 30 in B plus a few subgroup reductions per group.
//
// Two kernels share this body: pattern_bound.comp (A on the invocations, above) and
// pattern_bound_coopmat.comp (AAT_BOUND_TENSOR_MOMENTS: A as matrix products on the tensor cores,
// bound_moments_coopmat.glsl, for groups of one row; B is the same).
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_vote : require
#extension GL_KHR_memory_scope_semantics : require
#ifdef AAT_BOUND_TENSOR_MOMENTS
#extension GL_KHR_cooperative_matrix : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#include "aat/constants.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;  // a multiple of 4
layout(constant_id = 2) const uint MAX_TILES = 2048;  // key tiles per row this pipeline holds
layout(constant_id = 3) const bool CAUSAL = false;
layout(constant_id = 4) const bool HAS_LENGTHS = false;
layout(constant_id = 5) const bool GROUPED = false;  // query_group > 1: the rows' variance term
layout(constant_id = 6) const uint POOL_FLOATS = 2048;  // the shared pool (the host sizes it)
// Groups the workgroup takes at a time: each costs registers and R_MAX x STAGE floats of the pool.
layout(constant_id = 7) const uint R_MAX = 16;

// 4-vectors of the tile moments loaded at once. 2, not 4: the kernel's registers (148 -> 130 on the
// H200) limit how many workgroups an SM holds, and 2 was 4-5% faster at 32k keys, D = 64 and 128.
const uint UNROLL_D4 = 2u;
const uint NBINS = 16u;   // binades of u below tail_pool2 (the last one takes everything below)
const uint D4 = HEAD_DIM / 4u;
const uint STAGE = GROUPED ? 2u * HEAD_DIM : HEAD_DIM;  // staged floats per group: mean (, variance)
#ifdef AAT_BOUND_TENSOR_MOMENTS
const uint POOL_STAGE = 0u;  // the rows are staged as matrices (bound_moments_coopmat.glsl)
#else
const uint POOL_STAGE = R_MAX * STAGE;
#endif

#ifndef AAT_BOUND_TENSOR_MOMENTS  // which reads the operands (bound_moments_coopmat.glsl) instead
layout(std430, binding = 0) readonly buffer QMeanBuffer { vec4 x[]; } QMean;      // [B, Hq, ceil(Nq / G), D]
layout(std430, binding = 1) readonly buffer KMeanBuffer { vec4 x[]; } KMean;      // [B, Hkv, D / 4, Tk] of vec4
#endif
layout(std430, binding = 2) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 3) writeonly buffer DensityBuffer { float d[]; } Density;     // [B, Hq, Tq, Tk]
layout(std430, binding = 4) writeonly buffer LevelBuffer { uint8_t level[]; } Levels;  // [B, Hq, Tq, Tk]
#ifndef AAT_BOUND_TENSOR_MOMENTS
layout(std430, binding = 5) readonly buffer KSquareBuffer { vec4 x[]; } KSquare;  // mean k^2, as KMean
layout(std430, binding = 6) readonly buffer QSquareBuffer { vec4 x[]; } QSquare;  // mean q^2, as QMean
#endif
layout(std430, binding = 7) readonly buffer AnchorBuffer { float x[]; } Anchor;    // [B, Hq, Nq]
// log U, then u, per (group of the batch, key tile): [workgroups of the dispatch, R_MAX, tiles_k].
// Written and read by this workgroup only (workgroup-scope coherence and barriers).
layout(std430, binding = 8) workgroupcoherent buffer ShareBuffer { float x[]; } Shares;

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
  uint head_offset;   // the dispatch's first batch x head (the host splits large problems)
  uint tile_offset;   // the dispatch's first query tile
} p;

#include "pattern_blocks.glsl"  // sD (largest upper share), sTiles (flags, finest level needed)

// The pool: a scratch area (the staged group moments in A; each subgroup's binade columns in B),
// the R_MAX groups' log Z and each subgroup's part of Jensen's sums [R_MAX][subgroups][2].
shared float sPool[POOL_FLOATS];
shared uint sDensityBits[MAX_TILES];  // the largest u of each tile (u >= 0: bits order as values)
shared uint sTileNan;                 // a NaN estimate: the query tile's blocks all full

// Shared-memory atomics at workgroup scope (the default scope is the device's, which devices
// with the memory model but not its device scope refuse).
#define shared_max(x, v) atomicMax(x, v, gl_ScopeWorkgroup, gl_StorageSemanticsShared, gl_SemanticsRelaxed)
#define shared_min(x, v) atomicMin(x, v, gl_ScopeWorkgroup, gl_StorageSemanticsShared, gl_SemanticsRelaxed)
// barrier() orders shared memory only; Shares needs the buffer storage class too.
#define barrier_with_shares() \
  controlBarrier(gl_ScopeWorkgroup, gl_ScopeWorkgroup, gl_StorageSemanticsShared | gl_StorageSemanticsBuffer, \
                 gl_SemanticsAcquireRelease)

// End (exclusive) of the anchor window of row a (anchor.glsl).
uint anchor_window_end(uint a, uint key_limit) {
  const uint visible_end = aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL);
  return min(aat_row_key_end(a, p.q_len, p.kv_len, key_limit, true), visible_end);  // at the diagonal
}

// The binade of a candidate (x = log2(tail_pool2 / u) >= 0; larger: smaller u).
uint binade(float x) { return uint(min(floor(x), float(NBINS - 1u))); }

#ifdef AAT_BOUND_TENSOR_MOMENTS
#include "bound_moments_coopmat.glsl"  // tensor_moments: phase A on the tensor cores
#endif

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint threads = gl_WorkGroupSize.x;
  const uint lane = gl_SubgroupInvocationID;
  const uint lanes = gl_SubgroupSize;
  const uint bh = p.head_offset + gl_WorkGroupID.y;
  const uint b = bh / p.q_heads;
  const uint kv_head = (bh % p.q_heads) / (p.q_heads / p.kv_heads);
  const uint i = p.tile_offset + gl_WorkGroupID.x;
  const uint q0 = i * p.block_q;
  const uint q1 = min(q0 + p.block_q, p.q_len);
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[b], 0, int(p.kv_len))) : p.kv_len;
  const uint tk = p.tiles_k;
  const uint k_base4 = (b * p.kv_heads + kv_head) * D4 * tk;  // tile-major: [d4][tile]
  const uint group = p.query_group;
  const uint groups = (q1 - q0 + group - 1u) / group;
  // Visible keys are a prefix per row, longest for the tile's last row.
  const uint tv = min(tk, (aat_row_key_end(q1 - 1u, p.q_len, p.kv_len, key_limit, CAUSAL) + p.block_k - 1u) / p.block_k);
  const uint subgroups = gl_NumSubgroups;
  const uint hist_stride = lanes + 1u;  // a column per lane, padded against bank conflicts
  const uint hist_base = gl_SubgroupID * NBINS * hist_stride;  // this subgroup's columns
  const uint log_z_base = max(subgroups * NBINS * hist_stride, POOL_STAGE);
  const uint partial_base = log_z_base + R_MAX;
  const uint shares_base = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * R_MAX * tk;
  const bool all_full = p.all_full != 0u;
  const float log2_top = log2(p.tail_pool2);
  const vec3 t = vec3(p.tail_pool2, p.tail_pool4, p.tail_skip);

  mark_tiles(q0, q1, key_limit);  // ends with a barrier
  for (uint j = tid; j < tk; j += threads) {
    sDensityBits[j] = 0u;
    sTiles[j] = tile_flags(j) | (LEVEL_SKIP << 8);
  }
  if (tid == 0u) sTileNan = 0u;
  barrier();

  for (uint a0 = 0u; a0 < groups && !all_full; a0 += R_MAX) {
    const uint rows = min(R_MAX, groups - a0);
#ifdef AAT_BOUND_TENSOR_MOMENTS
    tensor_moments(a0, rows, q0, bh, kv_head, tv, key_limit, shares_base, partial_base);
#else
    // Stage the groups' means (and, for groups, the rows' variances).
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

    // Phase A: log U per (group, tile) to Shares; Jensen's terms into a running log-sum-exp.
    float jensen_max[R_MAX], jensen_sum[R_MAX];  // per group, this lane's tiles
    [[unroll]] for (uint r = 0u; r < R_MAX; ++r) {
      jensen_max[r] = AAT_NEG_INF;
      jensen_sum[r] = 0.0;
    }
    for (uint j = tid; j < tv; j += threads) {
      float dots[R_MAX], spreads[R_MAX];
      [[unroll]] for (uint r = 0u; r < R_MAX; ++r) {
        dots[r] = 0.0;
        spreads[r] = 0.0;
      }
      // UNROLL_D4 coordinates' loads issued together: a lane's loads are otherwise one L2 round
      // trip after another.
      [[dont_unroll]] for (uint d0 = 0u; d0 < D4; d0 += UNROLL_D4) {
        vec4 k[UNROLL_D4], k_square[UNROLL_D4];
        [[unroll]] for (uint c = 0u; c < UNROLL_D4; ++c) {
          const uint d4 = min(d0 + c, D4 - 1u);
          k[c] = KMean.x[k_base4 + d4 * tk + j];
          k_square[c] = KSquare.x[k_base4 + d4 * tk + j];
        }
        [[unroll]] for (uint c = 0u; c < UNROLL_D4; ++c) {
          if (d0 + c >= D4) break;
          const vec4 k_var = max(k_square[c] - k[c] * k[c], vec4(0.0));
          const vec4 k_second = k[c] * k[c] + k_var;
          [[unroll]] for (uint r = 0u; r < R_MAX; ++r) {
            if (r >= rows) break;
            const uint s = r * STAGE + 4u * (d0 + c);
            const vec4 q = vec4(sPool[s], sPool[s + 1u], sPool[s + 2u], sPool[s + 3u]);
            dots[r] += dot(q, k[c]);
            spreads[r] += dot(q * q, k_var);
            if (GROUPED) {
              const uint sv = s + HEAD_DIM;
              spreads[r] += dot(vec4(sPool[sv], sPool[sv + 1u], sPool[sv + 2u], sPool[sv + 3u]), k_second);
            }
          }
        }
      }
      const uint flags = tile_flags(j);
      const uint k0 = j * p.block_k, k1 = min(k0 + p.block_k, p.kv_len);
      [[unroll]] for (uint r = 0u; r < R_MAX; ++r) {
        if (r >= rows) break;
        const uint a = a0 + r;
        const uint r0 = q0 + a * group, r1 = min(r0 + group, q1);
        float log_u = AAT_NEG_INF;
        const float n = (flags & FLAG_VISIBLE) != 0u ? group_keys(r0, r1, k0, k1, key_limit) : 0.0;
        if (n > 0.0) {
          const float mu = p.scale * dots[r];
          log_u = log(n) + mu + 0.5 * p.scale * p.scale * spreads[r];
          if (isnan(log_u)) sTileNan = 1u;  // every writer stores the same value
          // Keys holding an anchor key of some row of the group: [0, sinks) and [lo, hi).
          const uint hi = anchor_window_end(r1 - 1u, key_limit);
          const uint lo_end = anchor_window_end(r0, key_limit);
          const uint lo = lo_end > p.anchor_window ? lo_end - p.anchor_window : 0u;
          const bool anchored = k0 < p.anchor_sinks || (p.anchor_window > 0u && k1 > lo && k0 < hi);
          if ((flags & FLAG_FORCED) == 0u && !anchored && !isnan(log_u)) {
            const float term = log(n) + mu;
            if (term > jensen_max[r]) {
              jensen_sum[r] = jensen_sum[r] * exp(jensen_max[r] - term) + 1.0;
              jensen_max[r] = term;
            } else if (term != AAT_NEG_INF) {
              jensen_sum[r] += exp(term - jensen_max[r]);
            }
          }
        }
        Shares.x[shares_base + r * tk + j] = log_u;
      }
    }
    // Jensen's sums over the subgroup's lanes, to the pool.
    [[unroll]] for (uint r = 0u; r < R_MAX; ++r) {
      if (r >= rows) break;
      const float m = subgroupMax(jensen_max[r]);
      const float l = subgroupAdd(jensen_max[r] == AAT_NEG_INF ? 0.0 : jensen_sum[r] * exp(jensen_max[r] - m));
      if (lane == 0u) {
        sPool[partial_base + 2u * (r * subgroups + gl_SubgroupID)] = m;
        sPool[partial_base + 2u * (r * subgroups + gl_SubgroupID) + 1u] = l;
      }
    }
    barrier_with_shares();

#endif
    // Z per group (a subgroup each, as its phase B): Jensen's sum, and the least anchor mass of
    // the group's rows that see a key.
    for (uint r = gl_SubgroupID; r < rows; r += subgroups) {
      float m = AAT_NEG_INF, l = 0.0;
      for (uint s = 0u; s < subgroups; ++s) {
        const float ms = sPool[partial_base + 2u * (r * subgroups + s)];
        const float ls = sPool[partial_base + 2u * (r * subgroups + s) + 1u];
        if (!(ls > 0.0)) continue;
        const float top = max(m, ms);
        l = l * exp(m - top) + ls * exp(ms - top);
        m = top;
      }
      const float log_jensen = l > 0.0 ? m + log(l) : AAT_NEG_INF;
      const uint r0 = q0 + (a0 + r) * group, r1 = min(r0 + group, q1);
      float anchor = AAT_NEG_INF;
      for (uint row = r0; row < r1; ++row) {
        const float x = Anchor.x[bh * p.q_len + row];
        if (isnan(x)) sTileNan = 1u;
        else if (x != AAT_NEG_INF) anchor = anchor == AAT_NEG_INF ? x : min(anchor, x);
      }
      const float top = max(anchor, log_jensen);
      if (lane == 0u)
        sPool[log_z_base + r] = top == AAT_NEG_INF ? AAT_NEG_INF : top + log(exp(anchor - top) + exp(log_jensen - top));
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // Phase B, per group (a subgroup each): u, the pivots and every tile's need.
    for (uint r = gl_SubgroupID; r < rows; r += subgroups) {
      const float log_z = sPool[log_z_base + r];

      // u in place (NaN: not ranked: unseen, forced, or a NaN estimate); the binades' sums.
      const uint base = shares_base + r * tk;  // each lane reads back only the u it wrote
      [[unroll]] for (uint bin = 0u; bin < NBINS; ++bin) sPool[hist_base + bin * hist_stride + lane] = 0.0;
      for (uint j = lane; j < tv; j += lanes) {
        const float log_u = Shares.x[base + j];
        float u = uintBitsToFloat(0x7fc00000u);
        if (log_u != AAT_NEG_INF && !isnan(log_u)) {
          // A group with no lower bound (no anchor, no other tile): every tile it sees is needed.
          const float share = log_z == AAT_NEG_INF ? uintBitsToFloat(0x7f800000u) : exp(log_u - log_z);
          shared_max(sDensityBits[j], floatBitsToUint(share));
          if ((tile_flags(j) & FLAG_FORCED) == 0u) {
            const float x = log2_top - log2(share);  // log2(tail_pool2 / u); recomputed alike below
            if (x >= 0.0) {
              u = share;
              sPool[hist_base + binade(x) * hist_stride + lane] += share;
            } else {
              shared_min(sTiles[j], tile_flags(j) | (LEVEL_FULL << 8));  // above tail_pool2: never dropped
            }
          }
        }
        Shares.x[base + j] = u;
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      // Every lane the binades' sums (the columns), then per threshold k the pivot binade: the
      // lowest-u binade whose sum with everything below it exceeds t_k (NBINS: none does, every
      // candidate is dropped), and what is left of t_k below it.
      for (uint bin = lane; bin < NBINS; bin += lanes) {
        float sum = 0.0;
        for (uint c = 0u; c < lanes; ++c) sum += sPool[hist_base + bin * hist_stride + c];
        sPool[hist_base + bin * hist_stride + lanes] = sum;  // the column's padding slot
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      ivec3 pivot = ivec3(-1);  // -1: no binade exceeds t_k, every candidate is dropped
      vec3 room = t;
      float below = 0.0;
      for (int bin = int(NBINS) - 1; bin >= 0; --bin) {
        const float sum = sPool[hist_base + uint(bin) * hist_stride + lanes];
        [[unroll]] for (uint k = 0u; k < 3u; ++k) {
          if (pivot[k] < 0 && below + sum > t[k]) {
            pivot[k] = bin;
            room[k] = t[k] - below;
          }
        }
        below += sum;
      }
      // Inside the pivot binade a tile is dropped at t_k while the sum of u over the binade's
      // tiles ranked at or after it stays within room_k. There the ranking is by lane, then slot
      // (lower first), so that sum is what the lanes above this one hold in the binade (their
      // columns: one scan) plus this lane's running sum from its highest slot down, and the slots
      // need no subgroup operation (ranking by index did: a scan or two per slot).
      vec3 carry = vec3(0.0);  // the pivot binades' sums over the lanes above this one
      {
        vec3 own = vec3(0.0);
        [[unroll]] for (uint k = 0u; k < 3u; ++k)
          if (pivot[k] >= 0) own[k] = sPool[hist_base + uint(pivot[k]) * hist_stride + lane];
        carry = subgroupAdd(own) - subgroupInclusiveAdd(own);
      }
      const uint slots = (tv + lanes - 1u) / lanes;
      for (uint slot = slots; slot-- > 0u;) {
        const uint j = slot * lanes + lane;
        if (j >= tv) continue;
        const float u = Shares.x[base + j];
        if (isnan(u)) continue;  // not ranked
        const int bin = int(binade(log2_top - log2(u)));
        carry += mix(vec3(0.0), vec3(u), equal(ivec3(bin), pivot));
        const bvec3 dropped = bvec3(uvec3(greaterThan(ivec3(bin), pivot)) |
                                    uvec3(equal(ivec3(bin), pivot)) * uvec3(lessThanEqual(carry, room)));
        const uint need = !dropped.x ? LEVEL_FULL : !dropped.y ? LEVEL_POOL2 : !dropped.z ? LEVEL_POOL4 : LEVEL_SKIP;
        if (need != LEVEL_SKIP) shared_min(sTiles[j], tile_flags(j) | (need << 8));
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
    }
    barrier_with_shares();  // the next batch overwrites the scratch area, the pool and Shares
  }
  barrier();

  const bool nan_row = sTileNan != 0u;
  for (uint j = tid; j < tk; j += threads) {
    const uint flags = tile_flags(j);
    const float density = uintBitsToFloat(sDensityBits[j]);
    uint level = LEVEL_MASKED;
    if ((flags & FLAG_VISIBLE) != 0u)
      level = nan_row || all_full || (flags & FLAG_FORCED) != 0u ? LEVEL_FULL : tile_level(j);
    // A forced tile whose own upper share would keep it full (a passage across its edge, not
    // only sinks or the local band) widens the halo as a tile ranked full does.
    const bool halo = (flags & FLAG_FORCED) != 0u && !nan_row && !all_full && density > p.tail_pool2;
    sTiles[j] = (flags | (halo ? FLAG_HALO : 0u)) | (level << 8);
    sD[j] = (flags & FLAG_VISIBLE) == 0u ? 0.0 : nan_row ? uintBitsToFloat(0x7fc00000u) : density;
  }
  barrier();

  write_tiles((bh * p.tiles_q + i) * tk);
}
