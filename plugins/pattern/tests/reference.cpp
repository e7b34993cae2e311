#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace aat::pattern::reference {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// The bound rule ranks by binades of u below tail_pool2, this many (the last takes everything
// below): part of the rule's definition (docs/adaptive.md), as pattern_bound.comp's NBINS.
constexpr int kBoundBins = 16;

void require(bool condition, const char* what) {
  if (!condition) throw std::invalid_argument(std::string("pattern reference: ") + what);
}

bool sees(const Problem& p, std::int64_t b, std::int64_t a, std::int64_t j) {
  const std::int64_t length = p.key_lengths.empty() ? p.kv_len : p.key_lengths[static_cast<std::size_t>(b)];
  if (j >= length) return false;
  if (p.causal && j > a + p.kv_len - p.q_len) return false;
  return true;
}

struct Tile {
  std::int64_t q0, q1, k0, k1;
};

Tile tile(const Problem& p, std::int64_t i, std::int64_t j) {
  return {i * p.block_q, std::min((i + 1) * p.block_q, p.q_len), j * p.block_k, std::min((j + 1) * p.block_k, p.kv_len)};
}

bool forced(const Problem& p, std::int64_t i, std::int64_t j) {
  if (j < p.sink_tiles) return true;
  const Tile t = tile(p, i, j);
  const std::int64_t offset = p.kv_len - p.q_len;
  const std::int64_t lo = t.q0 + offset - p.local_window;
  const std::int64_t hi = t.q1 - 1 + offset + (p.causal ? 0 : p.local_window);
  return t.k1 - 1 >= lo && t.k0 <= hi;
}

std::size_t index(const Problem& p, std::int64_t b, std::int64_t h, std::int64_t i, std::int64_t j) {
  return static_cast<std::size_t>(((b * p.q_heads + h) * p.tiles_q() + i) * p.tiles_k() + j);
}

// Mean and variance per coordinate of each key tile's keys below `length` (0 for an empty tile):
// [Tk, D] each.
void key_tile_moments(const Problem& p, const float* kb, std::int64_t length, std::vector<double>& mean,
                      std::vector<double>& var) {
  const std::int64_t D = p.head_dim, tk = p.tiles_k();
  mean.assign(static_cast<std::size_t>(tk * D), 0.0);
  var.assign(mean.size(), 0.0);
  for (std::int64_t j = 0; j < tk; ++j) {
    const Tile t = tile(p, 0, j);
    const std::int64_t end = std::min(t.k1, length);
    if (end <= t.k0) continue;
    const auto n = static_cast<double>(end - t.k0);
    for (std::int64_t d = 0; d < D; ++d) {
      double sum = 0, squares = 0;
      for (std::int64_t key = t.k0; key < end; ++key) sum += kb[key * D + d];
      const double m = sum / n;
      for (std::int64_t key = t.k0; key < end; ++key) squares += (kb[key * D + d] - m) * (kb[key * D + d] - m);
      mean[static_cast<std::size_t>(j * D + d)] = m;
      var[static_cast<std::size_t>(j * D + d)] = squares / n;
    }
  }
}

}  // namespace

Visible visibility(const Problem& p, std::int64_t b, std::int64_t i, std::int64_t j) {
  const Tile t = tile(p, i, j);
  std::int64_t seen = 0, total = 0;
  for (std::int64_t a = t.q0; a < t.q1; ++a)
    for (std::int64_t key = t.k0; key < t.k1; ++key) {
      ++total;
      seen += sees(p, b, a, key) ? 1 : 0;
    }
  if (seen == 0) return Visible::masked;
  return seen == total ? Visible::full : Visible::partial;
}

std::int64_t visible_pairs(const Problem& p, std::int64_t b, std::int64_t i, std::int64_t j) {
  const Tile t = tile(p, i, j);
  std::int64_t seen = 0;
  for (std::int64_t a = t.q0; a < t.q1; ++a)
    for (std::int64_t key = t.k0; key < t.k1; ++key) seen += sees(p, b, a, key) ? 1 : 0;
  return seen;
}

Map levels_from_density(const Problem& p, std::span<const double> density) {
  require(static_cast<std::int64_t>(density.size()) == p.blocks(), "density size");
  const std::int64_t tq = p.tiles_q(), tk = p.tiles_k();
  Map m;
  m.density.assign(density.begin(), density.end());
  m.levels.assign(density.size(), 4);
  m.before.assign(density.size(), kNaN);
  m.forced.assign(density.size(), 0);
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t h = 0; h < p.q_heads; ++h)
      for (std::int64_t i = 0; i < tq; ++i) {
        bool nan_row = false;
        std::vector<std::int64_t> ranked;  // visible, not forced
        double forced_mass = 0;
        for (std::int64_t j = 0; j < tk; ++j) {
          const auto at = index(p, b, h, i, j);
          if (visibility(p, b, i, j) == Visible::masked) continue;
          if (std::isnan(density[at])) nan_row = true;
          if (forced(p, i, j)) {
            m.forced[at] = 1;
            forced_mass += density[at];
          } else {
            ranked.push_back(j);
          }
        }
        std::stable_sort(ranked.begin(), ranked.end(), [&](std::int64_t x, std::int64_t y) {
          const double dx = density[index(p, b, h, i, x)], dy = density[index(p, b, h, i, y)];
          return dx > dy || (dx == dy && x < y);
        });
        for (std::int64_t j = 0; j < tk; ++j) {
          const auto at = index(p, b, h, i, j);
          if (visibility(p, b, i, j) != Visible::masked) m.levels[at] = 0;
        }
        if (nan_row || p.all_full) continue;
        double before = forced_mass;
        std::vector<bool> ranked_full(static_cast<std::size_t>(tk), false);
        for (std::int64_t j : ranked) {
          const auto at = index(p, b, h, i, j);
          const std::uint8_t level = before < p.threshold_full    ? 0
                                     : before < p.threshold_pool2 ? 1
                                     : before < p.threshold_pool4 ? 2
                                                                  : 3;
          ranked_full[static_cast<std::size_t>(j)] = level == 0;
          m.levels[at] = level;
          m.before[at] = before;
          before += density[at];
        }
        for (std::int64_t j : ranked) {
          const auto at = index(p, b, h, i, j);
          for (std::int64_t n = std::max<std::int64_t>(0, j - p.halo); n <= std::min(tk - 1, j + p.halo); ++n)
            if (ranked_full[static_cast<std::size_t>(n)]) m.levels[at] = 0;
          if ((m.levels[at] == 1 || m.levels[at] == 2) && visibility(p, b, i, j) == Visible::partial) m.levels[at] = 0;
        }
      }
  return m;
}

Map block_map(const Problem& p, std::span<const float> q, std::span<const float> k) {
  const std::int64_t D = p.head_dim, tq = p.tiles_q(), tk = p.tiles_k();
  require(static_cast<std::int64_t>(q.size()) == p.batch * p.q_heads * p.q_len * D, "Q size");
  require(static_cast<std::int64_t>(k.size()) == p.batch * p.kv_heads * p.kv_len * D, "K size");
  require(p.key_lengths.empty() || static_cast<std::int64_t>(p.key_lengths.size()) == p.batch, "key lengths");
  const double scale = p.scale.value_or(1.0 / std::sqrt(static_cast<double>(D)));
  std::vector<double> density(static_cast<std::size_t>(p.blocks()), 0.0);

  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t length = p.key_lengths.empty() ? p.kv_len : p.key_lengths[static_cast<std::size_t>(b)];
    for (std::int64_t h = 0; h < p.q_heads; ++h) {
      const std::int64_t kvh = h / (p.q_heads / p.kv_heads);
      const float* kb = k.data() + (b * p.kv_heads + kvh) * p.kv_len * D;
      const float* qb = q.data() + (b * p.q_heads + h) * p.q_len * D;
      std::vector<double> k_mean, k_var;
      key_tile_moments(p, kb, length, k_mean, k_var);
      // The block score of a query vector x (mean or row) against key tile j.
      auto score = [&](auto x, std::int64_t j) {
        double dot = 0, spread = 0;
        for (std::int64_t d = 0; d < D; ++d) {
          const double xd = static_cast<double>(x[d]);
          dot += xd * k_mean[static_cast<std::size_t>(j * D + d)];
          spread += xd * xd * k_var[static_cast<std::size_t>(j * D + d)];
        }
        return scale * dot + (p.variance ? std::min(0.5 * scale * scale * spread, p.variance_cap) : 0.0);
      };
      for (std::int64_t i = 0; i < tq && p.row_estimate; ++i) {
        const Tile ti = tile(p, i, 0);
        double seeing = 0;
        bool nan = false;
        std::vector<double> sum_p(static_cast<std::size_t>(tk), 0.0);
        for (std::int64_t g0 = ti.q0; g0 < ti.q1; g0 += p.query_group) {
          const std::int64_t g1 = std::min(g0 + p.query_group, ti.q1);
          std::vector<double> x(static_cast<std::size_t>(D), 0.0);
          for (std::int64_t a = g0; a < g1; ++a)
            for (std::int64_t d = 0; d < D; ++d) x[static_cast<std::size_t>(d)] += qb[a * D + d] / static_cast<double>(g1 - g0);
          std::vector<double> s(static_cast<std::size_t>(tk), kNegInf);
          double max = kNegInf;
          for (std::int64_t j = 0; j < tk; ++j) {
            const Tile tj = tile(p, i, j);
            std::int64_t n = 0;
            for (std::int64_t a = g0; a < g1; ++a)
              for (std::int64_t key = tj.k0; key < tj.k1; ++key) n += sees(p, b, a, key) ? 1 : 0;
            if (n == 0) continue;
            s[static_cast<std::size_t>(j)] = score(x.data(), j) + std::log(static_cast<double>(n) / static_cast<double>(g1 - g0));
            if (std::isnan(s[static_cast<std::size_t>(j)])) nan = true;
            else max = std::max(max, s[static_cast<std::size_t>(j)]);
          }
          if (max == kNegInf) continue;
          const double weight = static_cast<double>(g1 - g0);
          seeing += weight;
          double sum = 0;
          for (double e : s) sum += e == kNegInf ? 0.0 : std::exp(e - max);
          for (std::int64_t j = 0; j < tk; ++j)
            if (s[static_cast<std::size_t>(j)] != kNegInf)
              sum_p[static_cast<std::size_t>(j)] += weight * std::exp(s[static_cast<std::size_t>(j)] - max) / sum;
        }
        for (std::int64_t j = 0; j < tk; ++j) {
          if (visible_pairs(p, b, i, j) == 0) continue;
          density[index(p, b, h, i, j)] = nan ? kNaN : sum_p[static_cast<std::size_t>(j)] / std::max(seeing, 1.0);
        }
      }
      for (std::int64_t i = 0; i < tq && !p.row_estimate; ++i) {
        const Tile ti = tile(p, i, 0);
        std::vector<double> q_mean(static_cast<std::size_t>(D), 0.0);
        for (std::int64_t a = ti.q0; a < ti.q1; ++a)
          for (std::int64_t d = 0; d < D; ++d) q_mean[static_cast<std::size_t>(d)] += qb[a * D + d];
        for (auto& x : q_mean) x /= static_cast<double>(ti.q1 - ti.q0);
        std::vector<double> s(static_cast<std::size_t>(tk), kNegInf);
        double max = kNegInf;
        bool nan = false;
        for (std::int64_t j = 0; j < tk; ++j) {
          const std::int64_t pairs = visible_pairs(p, b, i, j);
          if (pairs == 0) continue;
          const double sj = score(q_mean.data(), j) + std::log(static_cast<double>(pairs) / static_cast<double>(ti.q1 - ti.q0));
          s[static_cast<std::size_t>(j)] = sj;
          if (std::isnan(sj)) nan = true;
          else max = std::max(max, sj);
        }
        double sum = 0;
        for (std::int64_t j = 0; j < tk; ++j)
          if (s[static_cast<std::size_t>(j)] != kNegInf) sum += std::exp(s[static_cast<std::size_t>(j)] - max);
        for (std::int64_t j = 0; j < tk; ++j) {
          const double sj = s[static_cast<std::size_t>(j)];
          if (sj == kNegInf) continue;
          density[index(p, b, h, i, j)] = nan ? kNaN : std::exp(sj - max) / sum;
        }
      }
    }
  }
  return levels_from_density(p, density);
}

namespace {

std::int64_t key_length(const Problem& p, std::int64_t b) {
  return p.key_lengths.empty() ? p.kv_len : p.key_lengths[static_cast<std::size_t>(b)];
}

// The anchor keys of row a (visible keys only).
std::vector<std::int64_t> anchor_keys(const Problem& p, std::int64_t b, std::int64_t a) {
  const std::int64_t w = std::clamp<std::int64_t>(a + p.kv_len - p.q_len + 1, 0, key_length(p, b));
  std::vector<std::int64_t> keys;
  for (std::int64_t j = 0; j < p.kv_len; ++j)
    if ((j < p.anchor_sinks || (j >= w - p.anchor_window && j < w)) && sees(p, b, a, j)) keys.push_back(j);
  return keys;
}

double log_sum_exp(const std::vector<double>& x) {
  double max = kNegInf;
  for (double e : x) max = std::max(max, e);
  if (max == kNegInf) return kNegInf;
  double sum = 0;
  for (double e : x) sum += std::exp(e - max);
  return max + std::log(sum);
}

}  // namespace

std::vector<double> anchor_log_mass(const Problem& p, std::span<const float> q, std::span<const float> k) {
  const std::int64_t D = p.head_dim;
  const double scale = p.scale.value_or(1.0 / std::sqrt(static_cast<double>(D)));
  std::vector<double> out(static_cast<std::size_t>(p.batch * p.q_heads * p.q_len), kNegInf);
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t h = 0; h < p.q_heads; ++h) {
      const float* kb = k.data() + (b * p.kv_heads + h / (p.q_heads / p.kv_heads)) * p.kv_len * D;
      const float* qb = q.data() + (b * p.q_heads + h) * p.q_len * D;
      for (std::int64_t a = 0; a < p.q_len; ++a) {
        std::vector<double> s;
        for (std::int64_t j : anchor_keys(p, b, a)) {
          double dot = 0;
          for (std::int64_t d = 0; d < D; ++d) dot += static_cast<double>(qb[a * D + d]) * kb[j * D + d];
          s.push_back(scale * dot);
        }
        bool nan = false;
        for (double x : s) nan = nan || std::isnan(x);
        out[static_cast<std::size_t>((b * p.q_heads + h) * p.q_len + a)] = nan ? kNaN : log_sum_exp(s);
      }
    }
  return out;
}

Map bound_map(const Problem& p, std::span<const float> q, std::span<const float> k) {
  const std::int64_t D = p.head_dim, tq = p.tiles_q(), tk = p.tiles_k();
  require(static_cast<std::int64_t>(q.size()) == p.batch * p.q_heads * p.q_len * D, "Q size");
  require(static_cast<std::int64_t>(k.size()) == p.batch * p.kv_heads * p.kv_len * D, "K size");
  require(p.key_lengths.empty() || static_cast<std::int64_t>(p.key_lengths.size()) == p.batch, "key lengths");
  const double scale = p.scale.value_or(1.0 / std::sqrt(static_cast<double>(D)));
  const double thresholds[] = {p.tail_pool2, p.tail_pool4, p.tail_skip};
  const std::vector<double> anchors = anchor_log_mass(p, q, k);
  Map m;
  m.density.assign(static_cast<std::size_t>(p.blocks()), 0.0);
  m.levels.assign(m.density.size(), 4);
  m.before.assign(m.density.size(), kNaN);
  m.forced.assign(m.density.size(), 0);
  m.margin.assign(m.density.size(), std::numeric_limits<double>::infinity());
  auto at = [&](std::int64_t b, std::int64_t h, std::int64_t i, std::int64_t j) { return index(p, b, h, i, j); };

  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t length = key_length(p, b);
    for (std::int64_t h = 0; h < p.q_heads; ++h) {
      const float* kb = k.data() + (b * p.kv_heads + h / (p.q_heads / p.kv_heads)) * p.kv_len * D;
      const float* qb = q.data() + (b * p.q_heads + h) * p.q_len * D;
      std::vector<double> k_mean, k_var;
      key_tile_moments(p, kb, length, k_mean, k_var);
      for (std::int64_t i = 0; i < tq; ++i) {
        const Tile ti = tile(p, i, 0);
        std::vector<int> need(static_cast<std::size_t>(tk), 3);
        std::vector<double> margin(static_cast<std::size_t>(tk), std::numeric_limits<double>::infinity());
        std::vector<double> largest(static_cast<std::size_t>(tk), 0.0);
        bool nan = false;
        for (std::int64_t g0 = ti.q0; g0 < ti.q1; g0 += p.query_group) {
          const std::int64_t g1 = std::min(g0 + p.query_group, ti.q1), rows = g1 - g0;
          std::vector<double> mean(static_cast<std::size_t>(D), 0.0), var(mean.size(), 0.0);
          for (std::int64_t d = 0; d < D; ++d) {
            for (std::int64_t a = g0; a < g1; ++a) mean[static_cast<std::size_t>(d)] += qb[a * D + d] / static_cast<double>(rows);
            for (std::int64_t a = g0; a < g1; ++a) {
              const double dev = qb[a * D + d] - mean[static_cast<std::size_t>(d)];
              var[static_cast<std::size_t>(d)] += dev * dev / static_cast<double>(rows);
            }
          }
          // The lower bound Z_a: the least anchor mass, plus Jensen's bound of the other tiles.
          double anchor = kNegInf;
          std::vector<bool> anchored(static_cast<std::size_t>(tk), false);
          for (std::int64_t a = g0; a < g1; ++a) {
            const double x = anchors[static_cast<std::size_t>((b * p.q_heads + h) * p.q_len + a)];
            if (std::isnan(x)) nan = true;
            else if (x != kNegInf) anchor = anchor == kNegInf ? x : std::min(anchor, x);
            for (std::int64_t j : anchor_keys(p, b, a)) anchored[static_cast<std::size_t>(j / p.block_k)] = true;
          }
          std::vector<double> log_u(static_cast<std::size_t>(tk), kNegInf), lower{anchor};
          for (std::int64_t j = 0; j < tk; ++j) {
            const Tile tj = tile(p, i, j);
            std::int64_t seen = 0;
            for (std::int64_t a = g0; a < g1; ++a)
              for (std::int64_t key = tj.k0; key < tj.k1; ++key) seen += sees(p, b, a, key) ? 1 : 0;
            if (seen == 0) continue;
            double mu = 0, s2 = 0;
            for (std::int64_t d = 0; d < D; ++d) {
              const auto x = static_cast<std::size_t>(d), y = static_cast<std::size_t>(j * D + d);
              mu += mean[x] * k_mean[y];
              s2 += mean[x] * mean[x] * k_var[y] + var[x] * (k_mean[y] * k_mean[y] + k_var[y]);
            }
            const double log_n = std::log(static_cast<double>(seen) / static_cast<double>(rows));
            log_u[static_cast<std::size_t>(j)] = log_n + scale * mu + 0.5 * scale * scale * s2;
            if (std::isnan(log_u[static_cast<std::size_t>(j)])) nan = true;
            else if (!forced(p, i, j) && !anchored[static_cast<std::size_t>(j)]) lower.push_back(log_n + scale * mu);
          }
          const double log_z = log_sum_exp(lower);
          std::vector<double> u(static_cast<std::size_t>(tk), -1.0);
          std::vector<std::int64_t> ranked;
          for (std::int64_t j = 0; j < tk; ++j) {
            const double x = log_u[static_cast<std::size_t>(j)];
            if (x == kNegInf || std::isnan(x)) continue;
            u[static_cast<std::size_t>(j)] = log_z == kNegInf ? std::numeric_limits<double>::infinity() : std::exp(x - log_z);
            largest[static_cast<std::size_t>(j)] = std::max(largest[static_cast<std::size_t>(j)], u[static_cast<std::size_t>(j)]);
            if (!forced(p, i, j)) ranked.push_back(j);
          }
          // Ranked by the binade of u below tail_pool2 (above it: -1, never dropped; the last
          // binade takes everything below), then by lane and slot (Problem::rank_lanes). A u within 1e-3 binades of a binade
          // edge may land on the other side in f32: the tiles of its row in the binades beside
          // that edge get no margin.
          const auto binade_of = [&](std::size_t j, double* edge_distance) {
            const double x = std::log2(p.tail_pool2) - std::log2(u[j]);  // log2(tail_pool2 / u); +inf at u = 0
            *edge_distance = std::isfinite(x) ? std::abs(x - std::round(x)) : 1.0;
            return x < 0 ? -1 : static_cast<int>(std::min(std::floor(x), static_cast<double>(kBoundBins - 1)));
          };
          std::vector<int> bin(static_cast<std::size_t>(tk), 0);
          std::vector<bool> near_edge(kBoundBins + 1, false);  // edge e: between binades e - 1 and e
          for (std::int64_t j : ranked) {
            double edge_distance = 1.0;
            bin[static_cast<std::size_t>(j)] = binade_of(static_cast<std::size_t>(j), &edge_distance);
            const double x = std::log2(p.tail_pool2) - std::log2(u[static_cast<std::size_t>(j)]);
            if (edge_distance < 1e-3 && x > -0.5 && x < kBoundBins - 0.5) near_edge[static_cast<std::size_t>(std::lround(x))] = true;
          }
          std::stable_sort(ranked.begin(), ranked.end(), [&](std::int64_t x, std::int64_t y) {
            const int bx = bin[static_cast<std::size_t>(x)], by = bin[static_cast<std::size_t>(y)];
            const auto order = [&](std::int64_t j) { return std::pair{j % p.rank_lanes, j / p.rank_lanes}; };
            return bx < by || (bx == by && order(x) < order(y));
          });
          double tail = 0;
          for (auto it = ranked.rbegin(); it != ranked.rend(); ++it) {
            const auto j = static_cast<std::size_t>(*it);
            tail += u[j];
            const int level = tail > p.tail_pool2 ? 0 : tail > p.tail_pool4 ? 1 : tail > p.tail_skip ? 2 : 3;
            need[j] = std::min(need[j], level);
            for (double t : thresholds)
              if (t > 0) margin[j] = std::min(margin[j], std::abs(tail - t) / t);
            const int bj = bin[j];
            for (int e = std::max(bj, 0); e <= std::min(bj + 1, kBoundBins); ++e)
              if (near_edge[static_cast<std::size_t>(e)]) margin[j] = 0;
          }
        }
        std::vector<bool> ranked_full(static_cast<std::size_t>(tk), false);
        for (std::int64_t j = 0; j < tk; ++j) {
          const auto x = at(b, h, i, j);
          if (visibility(p, b, i, j) == Visible::masked) continue;
          const bool is_forced = forced(p, i, j);
          m.forced[x] = is_forced ? 1 : 0;
          m.density[x] = nan ? kNaN : largest[static_cast<std::size_t>(j)];
          m.margin[x] = margin[static_cast<std::size_t>(j)];
          int level = need[static_cast<std::size_t>(j)];
          if (is_forced || nan || p.all_full) level = 0;
          ranked_full[static_cast<std::size_t>(j)] =
              (level == 0 && !is_forced) ||
              (is_forced && !nan && !p.all_full && largest[static_cast<std::size_t>(j)] > p.tail_pool2);
          m.levels[x] = static_cast<std::uint8_t>(level);
        }
        for (std::int64_t j = 0; j < tk; ++j) {
          const auto x = at(b, h, i, j);
          if (m.levels[x] == 4) continue;
          for (std::int64_t n = std::max<std::int64_t>(0, j - p.halo); n <= std::min(tk - 1, j + p.halo); ++n)
            if (ranked_full[static_cast<std::size_t>(n)]) m.levels[x] = 0;
          if ((m.levels[x] == 1 || m.levels[x] == 2) && visibility(p, b, i, j) == Visible::partial) m.levels[x] = 0;
        }
      }
    }
  }
  return m;
}

std::vector<double> exact_block_mass(const Problem& p, std::span<const float> q, std::span<const float> k) {
  const std::int64_t D = p.head_dim, tq = p.tiles_q(), tk = p.tiles_k();
  const double scale = p.scale.value_or(1.0 / std::sqrt(static_cast<double>(D)));
  std::vector<double> mass(static_cast<std::size_t>(p.blocks()), 0.0);
  std::vector<double> w(static_cast<std::size_t>(p.kv_len));
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t h = 0; h < p.q_heads; ++h) {
      const std::int64_t kvh = h / (p.q_heads / p.kv_heads);
      const float* kb = k.data() + (b * p.kv_heads + kvh) * p.kv_len * D;
      const float* qb = q.data() + (b * p.q_heads + h) * p.q_len * D;
      for (std::int64_t i = 0; i < tq; ++i) {
        const Tile ti = tile(p, i, 0);
        std::int64_t rows_seeing = 0;
        std::vector<double> row_mass(static_cast<std::size_t>(tk), 0.0);
        for (std::int64_t a = ti.q0; a < ti.q1; ++a) {
          double max = kNegInf;
          for (std::int64_t j = 0; j < p.kv_len; ++j) {
            w[static_cast<std::size_t>(j)] = kNegInf;
            if (!sees(p, b, a, j)) continue;
            double dot = 0;
            for (std::int64_t d = 0; d < D; ++d) dot += static_cast<double>(qb[a * D + d]) * kb[j * D + d];
            w[static_cast<std::size_t>(j)] = scale * dot;
            max = std::max(max, scale * dot);
          }
          if (max == kNegInf) continue;
          ++rows_seeing;
          double sum = 0;
          for (double& x : w) sum += x == kNegInf ? 0.0 : std::exp(x - max);
          for (std::int64_t j = 0; j < p.kv_len; ++j)
            if (w[static_cast<std::size_t>(j)] != kNegInf)
              row_mass[static_cast<std::size_t>(j / p.block_k)] += std::exp(w[static_cast<std::size_t>(j)] - max) / sum;
        }
        for (std::int64_t j = 0; j < tk; ++j)
          if (rows_seeing > 0) mass[index(p, b, h, i, j)] = row_mass[static_cast<std::size_t>(j)] / static_cast<double>(rows_seeing);
      }
    }
  return mass;
}

}  // namespace aat::pattern::reference
