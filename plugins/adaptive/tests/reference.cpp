#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace aat::adaptive::reference {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool sees(const Problem& p, std::int64_t b, std::int64_t a, std::int64_t j) {
  if (!p.key_lengths.empty() && j >= p.key_lengths[static_cast<std::size_t>(b)]) return false;
  return !p.causal || j <= a + p.kv_len - p.q_len;
}

}  // namespace

Result attention_over_map(const Problem& p, std::span<const float> q, std::span<const float> k,
                          std::span<const float> v, std::span<const std::uint8_t> levels) {
  const std::int64_t D = p.head_dim, Nq = p.q_len, Nk = p.kv_len;
  const std::int64_t tq = (Nq + p.block_q - 1) / p.block_q, tk = (Nk + p.block_k - 1) / p.block_k;
  if (static_cast<std::int64_t>(q.size()) != p.batch * p.q_heads * Nq * D ||
      static_cast<std::int64_t>(k.size()) != p.batch * p.kv_heads * Nk * D || k.size() != v.size() ||
      (!levels.empty() && static_cast<std::int64_t>(levels.size()) != p.batch * p.q_heads * tq * tk))
    throw std::invalid_argument("adaptive reference: inconsistent sizes");
  const double scale = p.scale.value_or(1.0 / std::sqrt(static_cast<double>(D)));
  Result r;
  r.out.assign(q.size(), 0.0);
  r.lse.assign(static_cast<std::size_t>(p.batch * p.q_heads * Nq), kNegInf);

  struct Key {
    std::vector<double> k, v;
    double bias;
    std::int64_t index;  // >= 0: a full key (masked per row); -1: pooled
  };
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t h = 0; h < p.q_heads; ++h) {
      const std::int64_t kvh = h / (p.q_heads / p.kv_heads);
      const float* kb = k.data() + (b * p.kv_heads + kvh) * Nk * D;
      const float* vb = v.data() + (b * p.kv_heads + kvh) * Nk * D;
      for (std::int64_t i = 0; i < tq; ++i) {
        const std::int64_t q0 = i * p.block_q, q1 = std::min(q0 + p.block_q, Nq);
        // The keys this row tile runs.
        std::vector<Key> keys;
        for (std::int64_t t = 0; t < tk; ++t) {
          const std::int64_t k0 = t * p.block_k, k1 = std::min(k0 + p.block_k, Nk);
          std::int64_t seen = 0;
          for (std::int64_t a = q0; a < q1; ++a)
            for (std::int64_t j = k0; j < k1; ++j) seen += sees(p, b, a, j) ? 1 : 0;
          int level = levels.empty() ? 0 : levels[static_cast<std::size_t>(((b * p.q_heads + h) * tq + i) * tk + t)];
          if (seen == 0 || level >= 3) continue;
          if (seen != (q1 - q0) * (k1 - k0)) level = 0;
          const std::int64_t pool = std::int64_t{1} << level;
          for (std::int64_t g = k0; g < k1; g += pool) {
            Key key{std::vector<double>(static_cast<std::size_t>(D), 0.0), std::vector<double>(static_cast<std::size_t>(D), 0.0),
                    0.0, level == 0 ? g : -1};
            const std::int64_t end = std::min(g + pool, Nk);
            for (std::int64_t j = g; j < end; ++j)
              for (std::int64_t d = 0; d < D; ++d) {
                key.k[static_cast<std::size_t>(d)] += kb[j * D + d] / static_cast<double>(end - g);
                key.v[static_cast<std::size_t>(d)] += vb[j * D + d] / static_cast<double>(end - g);
              }
            key.bias = std::log(static_cast<double>(end - g));
            keys.push_back(std::move(key));
          }
        }
        for (std::int64_t a = q0; a < q1; ++a) {
          const std::int64_t row = (b * p.q_heads + h) * Nq + a;
          const float* qa = q.data() + row * D;
          std::vector<double> s(keys.size(), kNegInf);
          double m = kNegInf;
          bool nan = false;
          for (std::size_t n = 0; n < keys.size(); ++n) {
            if (keys[n].index >= 0 && !sees(p, b, a, keys[n].index)) continue;
            double dot = 0;
            for (std::int64_t d = 0; d < D; ++d) dot += static_cast<double>(qa[d]) * keys[n].k[static_cast<std::size_t>(d)];
            s[n] = scale * dot + keys[n].bias;
            if (std::isnan(s[n])) nan = true;
            else m = std::max(m, s[n]);
          }
          double* o = r.out.data() + row * D;
          if (nan) {
            std::fill(o, o + D, kNaN);
            r.lse[static_cast<std::size_t>(row)] = kNaN;
            continue;
          }
          if (m == kNegInf) continue;
          double sum = 0;
          for (std::size_t n = 0; n < keys.size(); ++n) {
            if (s[n] == kNegInf) continue;
            const double w = std::exp(s[n] - m);
            sum += w;
            for (std::int64_t d = 0; d < D; ++d) o[d] += w * keys[n].v[static_cast<std::size_t>(d)];
          }
          for (std::int64_t d = 0; d < D; ++d) o[d] /= sum;
          r.lse[static_cast<std::size_t>(row)] = m + std::log(sum);
        }
      }
    }
  return r;
}

}  // namespace aat::adaptive::reference
