// An independent CPU reference of the block map, in double precision, written from the
// definition (README.md, docs/adaptive.md) and nothing else:
//
//   visibility: query row a of batch b sees key j iff j < len[b] and (not causal or
//               j <= a + Nk - Nq); a block is masked / partial / full by enumerating its pairs;
//   k_j  = mean of tile j's keys j < len[b] (0 if none);
//   tile estimate: q_i = mean of tile i's query rows, s_ij = scale * q_i . k_j +
//          log(visible pairs / rows of tile i), density = softmax_j(s_ij) over the visible blocks;
//   row estimate: for each group a of `query_group` consecutive rows of tile i (the last may
//          be shorter), q_a = their mean, s_aj = scale * q_a . k_j + log(mean visible keys of the
//          group's rows in tile j), density_ij = mean over the groups that see any key,
//          weighted by their rows, of softmax_j(s_aj);
//   (density 0 for masked blocks); with `variance` every score gets
//          + min(scale^2 / 2 * sum_d x_d^2 var_jd, variance_cap) (x = q_i or q_a; var_jd the
//          variance of dim d over the tile's keys below the length);
//   forced = visible and (j < sink_tiles or tile j's keys meet [q0 + Nk - Nq - W,
//            q1 - 1 + Nk - Nq + (causal ? 0 : W)]);
//   before_ij = mass of the forced blocks + mass of the other visible blocks ranked before j
//               (density descending, ties by lower j);
//   level = full if forced or all_full; else full / pool2 / pool4 / skip as before_ij is below
//           threshold full / pool2 / pool4 / none; a partially masked block is never pooled;
//           masked blocks are 4; then a pooled or skipped block within `halo` tiles of a block
//           ranked full (full by `before`, not forced) becomes full. NaN anywhere in a row of
//           scores makes that row all full.
//
// The bound rule (bound_map), per group a of `query_group` rows of tile i:
//   q_a, var_a: the rows' mean and variance per coordinate; k_j, var_j as above;
//   n_aj  = mean visible keys of the group's rows in tile j;
//   mu_aj = scale q_a . k_j,  s2_aj = scale^2 sum_d (q_ad^2 var_jd + var_ad (k_jd^2 + var_jd)),
//   U_aj  = n_aj exp(mu_aj + s2_aj / 2);
//   anchor of row r: the visible keys j < anchor_sinks or w_r - anchor_window <= j < w_r,
//          w_r = clamp(r + Nk - Nq + 1, 0, len[b]); A_r = sum over them of exp(scale q_r . k_j);
//   Z_a   = min over the group's rows with an anchor key of A_r + sum over the tiles j with
//           n_aj > 0, not forced and holding no anchor key of the group's rows, of n_aj exp(mu_aj);
//   u_aj  = U_aj / Z_a (infinite when Z_a = 0); T_aj = sum of u_ak over the non-forced tiles k
//           seen by the group ranked at or after j (u descending, ties by lower k);
//   needed level from group a: full if T > tail_pool2, pool2 if T > tail_pool4, pool4 if
//           T > tail_skip, else skip; level = the finest over the groups (skip if none);
//   forced, masked, halo, boundary and NaN as above, the halo's sources being the tiles full by
//           the rule (not forced) and the forced tiles whose largest u exceeds tail_pool2;
//   density = the largest u_aj over the groups (0 for masked blocks).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace aat::pattern::reference {

struct Problem {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  bool causal = false;
  std::optional<double> scale{};
  std::vector<std::int32_t> key_lengths{};  // empty: none
  std::int64_t block_q = 32, block_k = 64;
  std::int64_t sink_tiles = 1;
  std::int64_t local_window = 64;
  double threshold_full = 0.99, threshold_pool2 = 0.995, threshold_pool4 = 0.9975;
  bool all_full = false;
  std::int64_t halo = 1;
  bool row_estimate = true;
  std::int64_t query_group = 4;
  bool variance = true;
  double variance_cap = 8.0;
  // The bound rule.
  bool bound = false;
  double tail_pool2 = 0.01, tail_pool4 = 0.005, tail_skip = 0.0025;
  std::int64_t anchor_sinks = 4, anchor_window = 32;
  // Inside a binade tiles rank by (j mod rank_lanes, j div rank_lanes): the lane of a subgroup of
  // rank_lanes that holds the tile in pattern_bound.glsl, then its slot (the device's subgroup size).
  std::int64_t rank_lanes = 1;

  std::int64_t tiles_q() const { return (q_len + block_q - 1) / block_q; }
  std::int64_t tiles_k() const { return (kv_len + block_k - 1) / block_k; }
  std::int64_t blocks() const { return batch * q_heads * tiles_q() * tiles_k(); }
};

enum class Visible : std::uint8_t { masked, partial, full };

struct Map {
  std::vector<double> density;      // [B, Hq, Tq, Tk]
  std::vector<std::uint8_t> levels; // [B, Hq, Tq, Tk]
  std::vector<double> before;       // ranked mass before the block (NaN: forced, masked or NaN row)
  std::vector<std::uint8_t> forced; // 1 where forced full
  // bound rule: per block, the least relative distance |T_aj - t| / t of any group's tail
  // share to any positive threshold t (infinity where no group ranks the block).
  std::vector<double> margin;
};

// Brute force over every (row, key) pair of the block.
Visible visibility(const Problem& p, std::int64_t b, std::int64_t i, std::int64_t j);
std::int64_t visible_pairs(const Problem& p, std::int64_t b, std::int64_t i, std::int64_t j);

// Densities and levels from the inputs. Throws std::invalid_argument on inconsistent sizes.
Map block_map(const Problem& p, std::span<const float> q, std::span<const float> k);

// Levels (and ranked mass before each block) from given densities, e.g. the GPU's.
Map levels_from_density(const Problem& p, std::span<const double> density);

// The bound rule's map (see above).
Map bound_map(const Problem& p, std::span<const float> q, std::span<const float> k);

// log A_r of every query row [B, Hq, Nq] (-inf: no anchor key).
std::vector<double> anchor_log_mass(const Problem& p, std::span<const float> q, std::span<const float> k);

// Exact attention mass of each block: sum over the block's visible pairs of softmax weights,
// averaged over the tile's query rows that see any key. For the self-checks.
std::vector<double> exact_block_mass(const Problem& p, std::span<const float> q, std::span<const float> k);

}  // namespace aat::pattern::reference
