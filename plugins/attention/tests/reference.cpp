#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "aat/dtype.hpp"

namespace aat::attention::reference {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

void require(bool condition, const char* what) {
  if (!condition) throw std::invalid_argument(std::string("reference::attention: ") + what);
}

std::string multi_index(std::size_t flat, std::span<const std::int64_t> dims) {
  std::vector<std::int64_t> index(dims.size(), 0);
  auto rest = static_cast<std::int64_t>(flat);
  for (std::size_t a = dims.size(); a-- > 0;) {
    if (dims[a] > 0) {
      index[a] = rest % dims[a];
      rest /= dims[a];
    }
  }
  std::ostringstream s;
  s << '[';
  for (std::size_t a = 0; a < index.size(); ++a) s << (a ? "," : "") << index[a];
  s << ']';
  return s.str();
}

}  // namespace

Result attention(const Problem& p, std::span<const float> q, std::span<const float> k, std::span<const float> v) {
  require(p.batch >= 0 && p.q_heads >= 1 && p.kv_heads >= 1 && p.q_len >= 0 && p.kv_len >= 0 && p.head_dim >= 1,
          "bad dims");
  require(p.q_heads % p.kv_heads == 0, "Hq is not a multiple of Hkv");
  require(static_cast<std::int64_t>(q.size()) == p.q_elements(), "Q size");
  require(static_cast<std::int64_t>(k.size()) == p.kv_elements(), "K size");
  require(static_cast<std::int64_t>(v.size()) == p.kv_elements(), "V size");
  require(p.key_lengths.empty() || static_cast<std::int64_t>(p.key_lengths.size()) == p.batch, "key lengths size");
  if (!p.bias.empty()) {
    require(p.bias_batch == 1 || p.bias_batch == p.batch, "bias batch dim");
    require(p.bias_heads == 1 || p.bias_heads == p.q_heads, "bias head dim");
    require(static_cast<std::int64_t>(p.bias.size()) == p.bias_batch * p.bias_heads * p.q_len * p.kv_len,
            "bias size");
  }

  const std::int64_t D = p.head_dim, Nq = p.q_len, Nk = p.kv_len;
  const std::int64_t group = p.q_heads / p.kv_heads;
  const double scale = p.scale.value_or(1.0 / std::sqrt(static_cast<double>(D)));

  Result r;
  r.out.assign(static_cast<std::size_t>(p.q_elements()), 0.0);
  r.lse.assign(static_cast<std::size_t>(p.rows()), kNegInf);
  std::vector<double> s(static_cast<std::size_t>(Nk));

  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t length = p.key_lengths.empty() ? Nk : p.key_lengths[static_cast<std::size_t>(b)];
    for (std::int64_t h = 0; h < p.q_heads; ++h) {
      const std::int64_t kvh = h / group;
      const float* kb = k.data() + (b * p.kv_heads + kvh) * Nk * D;
      const float* vb = v.data() + (b * p.kv_heads + kvh) * Nk * D;
      const float* biasb = nullptr;
      if (!p.bias.empty())
        biasb = p.bias.data() + ((p.bias_batch == 1 ? 0 : b) * p.bias_heads + (p.bias_heads == 1 ? 0 : h)) * Nq * Nk;
      for (std::int64_t i = 0; i < Nq; ++i) {
        const std::int64_t row = (b * p.q_heads + h) * Nq + i;
        const float* qi = q.data() + row * D;
        double* oi = r.out.data() + row * D;

        // Pass 0: the scores, -inf where masked.
        bool nan = false;
        double m = kNegInf;
        for (std::int64_t j = 0; j < Nk; ++j) {
          double score = kNegInf;
          const bool visible = j < length && (!p.causal || j <= i + Nk - Nq);
          if (visible) {
            double dot = 0;
            for (std::int64_t d = 0; d < D; ++d) dot += static_cast<double>(qi[d]) * static_cast<double>(kb[j * D + d]);
            score = scale * dot;
            if (biasb) score += static_cast<double>(biasb[i * Nk + j]);
          }
          if (std::isnan(score)) nan = true;
          else m = std::max(m, score);
          s[static_cast<std::size_t>(j)] = score;
        }
        if (nan) {
          std::fill(oi, oi + D, std::numeric_limits<double>::quiet_NaN());
          r.lse[static_cast<std::size_t>(row)] = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        if (m == kNegInf) continue;  // fully masked: O = 0, L = -inf (already there)

        // Pass 1: sum exp(s - m) (every term <= 1, the max term exactly 1) and the weighted V.
        double sum = 0;
        for (std::int64_t j = 0; j < Nk; ++j) {
          const double sj = s[static_cast<std::size_t>(j)];
          if (sj == kNegInf) continue;
          const double w = std::exp(sj - m);
          sum += w;
          for (std::int64_t d = 0; d < D; ++d) oi[d] += w * static_cast<double>(vb[j * D + d]);
        }
        for (std::int64_t d = 0; d < D; ++d) oi[d] /= sum;
        r.lse[static_cast<std::size_t>(row)] = m + std::log(sum);
      }
    }
  }
  return r;
}

std::vector<float> round_to_half(std::span<const float> values) {
  const auto bits = to_half(values);
  return from_half(bits);
}

Comparison compare(std::span<const float> got, std::span<const double> want, double abs_tol, double rel_tol,
                   std::span<const std::int64_t> dims) {
  Comparison c;
  if (got.size() != want.size()) {
    c.ok = false;
    c.failures = 1;
    c.first_failure = "size " + std::to_string(got.size()) + " != expected " + std::to_string(want.size());
    return c;
  }
  bool have_non_finite_failure = false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    bool bad = false;
    if (std::isnan(w) || std::isinf(w)) {
      bad = std::isnan(w) ? !std::isnan(g) : g != w;
    } else if (!std::isfinite(g)) {
      bad = true;
    } else {
      const double err = std::abs(g - w);
      const double ratio = err / (abs_tol + rel_tol * std::abs(w));
      c.max_abs_error = std::max(c.max_abs_error, err);
      bad = ratio > 1.0;
      if (ratio > c.worst_ratio && !have_non_finite_failure) {
        c.worst_ratio = ratio;
        c.worst_index = i;
        c.worst_got = g;
        c.worst_want = w;
      }
    }
    if (bad) {
      if (c.failures == 0) {
        std::ostringstream s;
        s.precision(9);
        s << "index " << i << ' ' << multi_index(i, dims) << ": got " << g << ", want " << w;
        if (std::isfinite(g) && std::isfinite(w)) s << ", |err| " << std::abs(g - w) << " > " << abs_tol + rel_tol * std::abs(w);
        else s << " (non-finite mismatch)";
        c.first_failure = s.str();
      }
      if (!std::isfinite(g) || !std::isfinite(w)) {
        if (!have_non_finite_failure) {
          c.worst_index = i;
          c.worst_got = g;
          c.worst_want = w;
          c.worst_ratio = std::numeric_limits<double>::infinity();
        }
        have_non_finite_failure = true;
      }
      ++c.failures;
      c.ok = false;
    }
  }
  return c;
}

std::string describe(const Comparison& c) {
  std::ostringstream s;
  s.precision(6);
  s << (c.ok ? "ok" : "MISMATCH") << ": " << c.failures << " element(s) out of tolerance, max |err| "
    << c.max_abs_error << ", worst err/tol " << c.worst_ratio << " at index " << c.worst_index << " (got "
    << c.worst_got << ", want " << c.worst_want << ")";
  if (!c.ok) s << "; first failure " << c.first_failure;
  return s.str();
}

}  // namespace aat::attention::reference
