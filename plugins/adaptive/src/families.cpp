#include "aat/adaptive/families.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>

namespace aat::adaptive::families {

namespace {

using Matrix = std::vector<double>;  // D x D, row major

// A random orthogonal matrix: Gram-Schmidt on a Gaussian one (rows orthonormal).
Matrix random_orthogonal(std::int64_t d, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  Matrix m(static_cast<std::size_t>(d * d));
  for (auto& x : m) x = normal(rng);
  for (std::int64_t r = 0; r < d; ++r) {
    double* row = m.data() + r * d;
    for (std::int64_t p = 0; p < r; ++p) {
      const double* prev = m.data() + p * d;
      double dot = 0;
      for (std::int64_t c = 0; c < d; ++c) dot += row[c] * prev[c];
      for (std::int64_t c = 0; c < d; ++c) row[c] -= dot * prev[c];
    }
    double norm = 0;
    for (std::int64_t c = 0; c < d; ++c) norm += row[c] * row[c];
    for (std::int64_t c = 0; c < d; ++c) row[c] /= std::sqrt(norm);
  }
  return m;
}

// x <- x M for every row of x [rows, D] (scores x . y are unchanged when both are rotated).
void rotate(float* x, std::int64_t rows, std::int64_t d, const Matrix& m) {
  std::vector<double> out(static_cast<std::size_t>(d));
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * d;
    std::fill(out.begin(), out.end(), 0.0);
    for (std::int64_t a = 0; a < d; ++a)
      for (std::int64_t c = 0; c < d; ++c) out[static_cast<std::size_t>(c)] += row[a] * m[static_cast<std::size_t>(a * d + c)];
    for (std::int64_t c = 0; c < d; ++c) row[c] = static_cast<float>(out[static_cast<std::size_t>(c)]);
  }
}

// Amplitude a of a feature carried by both q and k that adds `logit`: a^2 / sqrt(D) = logit.
double amplitude(double logit, std::int64_t d) { return std::sqrt(logit * std::sqrt(static_cast<double>(d))); }

void rotary(float* q, float* k, std::int64_t n, std::int64_t d, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> phase(0.0, 2.0 * std::numbers::pi);
  const std::int64_t pairs = d / 2;
  std::vector<double> u(static_cast<std::size_t>(d));
  for (std::int64_t p = 0; p < pairs; ++p) {
    const double angle = phase(rng), weight = std::sqrt(1.0 / static_cast<double>(pairs));
    u[static_cast<std::size_t>(2 * p)] = weight * std::cos(angle);
    u[static_cast<std::size_t>(2 * p + 1)] = weight * std::sin(angle);
  }
  const double s = amplitude(20.0, d);
  for (float* x : {q, k})
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t p = 0; p < pairs; ++p) {
        const double a = s * u[static_cast<std::size_t>(2 * p)] + normal(rng);
        const double b = s * u[static_cast<std::size_t>(2 * p + 1)] + normal(rng);
        const double theta = std::pow(10000.0, -2.0 * static_cast<double>(p) / static_cast<double>(d));
        const double c = std::cos(static_cast<double>(t) * theta), sn = std::sin(static_cast<double>(t) * theta);
        x[t * d + 2 * p] = static_cast<float>(a * c - b * sn);
        x[t * d + 2 * p + 1] = static_cast<float>(a * sn + b * c);
      }
}

void sinks_window(float* q, float* k, std::int64_t n, std::int64_t d, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  const std::int64_t features = d - 8, frequencies = features / 2, noise_dims = 7;
  std::vector<double> omega(static_cast<std::size_t>(frequencies));
  for (auto& w : omega) w = normal(rng) / 64.0;
  // phi(i) . phi(j) = (2 / F) sum_l cos(omega_l (i - j)), times 14: the window in logits.
  const double scale = amplitude(14.0, d) * std::sqrt(2.0 / static_cast<double>(features));
  const double sink = amplitude(10.0, d);
  const double noise = std::sqrt(std::sqrt(static_cast<double>(d) / static_cast<double>(noise_dims)));
  for (std::int64_t t = 0; t < n; ++t) {
    for (std::int64_t l = 0; l < frequencies; ++l) {
      const double x = omega[static_cast<std::size_t>(l)] * static_cast<double>(t);
      for (float* y : {q, k}) {
        y[t * d + l] = static_cast<float>(scale * std::cos(x));
        y[t * d + frequencies + l] = static_cast<float>(scale * std::sin(x));
      }
    }
    q[t * d + features] = static_cast<float>(sink);
    k[t * d + features] = t < 4 ? static_cast<float>(sink) : 0.0f;
    for (std::int64_t c = features + 1; c < d; ++c) {
      q[t * d + c] = static_cast<float>(noise * normal(rng));
      k[t * d + c] = static_cast<float>(noise * normal(rng));
    }
  }
  const Matrix m = random_orthogonal(d, rng);
  rotate(q, n, d, m);
  rotate(k, n, d, m);
}

void needles(float* q, float* k, std::int64_t n, std::int64_t d, std::mt19937& rng) {
  sinks_window(q, k, n, d, rng);
  const std::int64_t count = 8, width = std::min<std::int64_t>(8, n), run = std::min<std::int64_t>(16, n);
  const auto a = static_cast<float>(amplitude(14.0, d));
  for (std::int64_t m = 0; m < count; ++m) {
    const std::int64_t key = std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(0, n / 2 - width))(rng);
    const std::int64_t lo = std::min(key + width + 256, n - run);
    const std::int64_t row = std::uniform_int_distribution<std::int64_t>(lo, n - run)(rng);
    for (std::int64_t t = key; t < key + width; ++t) k[t * d + m] += a;
    for (std::int64_t t = row; t < row + run; ++t) q[t * d + m] += a;
  }
}

void documents(float* q, float* k, std::int64_t n, std::int64_t d, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  const Matrix basis = random_orthogonal(d, rng);  // rows: the directions
  const double a = amplitude(10.0, d);
  std::int64_t start = 0;
  for (std::int64_t doc = 0; start < n; ++doc) {
    const std::int64_t end = std::min(n, start + std::uniform_int_distribution<std::int64_t>(128, 1024)(rng));
    const double* e = basis.data() + (doc % (d / 2)) * d;
    for (std::int64_t t = start; t < end; ++t)
      for (std::int64_t c = 0; c < d; ++c) {
        q[t * d + c] = static_cast<float>(a * e[c] + normal(rng));
        k[t * d + c] = static_cast<float>(a * e[c] + normal(rng));
      }
    start = end;
  }
}

}  // namespace

std::string_view to_string(Family family) {
  switch (family) {
    case Family::rotary: return "rotary";
    case Family::sinks_window: return "sinks_window";
    case Family::needles: return "needles";
    case Family::documents: return "documents";
    case Family::gaussian: return "gaussian";
  }
  return "?";
}

std::optional<Family> parse_family(std::string_view name) {
  for (const Family f : kFamilies)
    if (to_string(f) == name) return f;
  return std::nullopt;
}

Qkv generate(Family family, std::int64_t heads, std::int64_t length, std::int64_t head_dim, std::uint32_t seed) {
  if (heads < 1 || length < 1) throw std::invalid_argument("families: heads and length must be at least 1");
  if (head_dim < 16 || head_dim % 2 != 0)
    throw std::invalid_argument("families: head dim " + std::to_string(head_dim) + " must be even and at least 16");
  Qkv out;
  out.heads = heads;
  out.length = length;
  out.head_dim = head_dim;
  const auto size = static_cast<std::size_t>(heads * length * head_dim);
  out.q.assign(size, 0.0f);
  out.k.assign(size, 0.0f);
  out.v.resize(size);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (std::int64_t h = 0; h < heads; ++h) {
    float* q = out.q.data() + h * length * head_dim;
    float* k = out.k.data() + h * length * head_dim;
    switch (family) {
      case Family::rotary: rotary(q, k, length, head_dim, rng); break;
      case Family::sinks_window: sinks_window(q, k, length, head_dim, rng); break;
      case Family::needles: needles(q, k, length, head_dim, rng); break;
      case Family::documents: documents(q, k, length, head_dim, rng); break;
      case Family::gaussian:
        for (std::int64_t i = 0; i < length * head_dim; ++i) {
          q[i] = normal(rng);
          k[i] = normal(rng);
        }
        break;
    }
  }
  for (auto& x : out.v) x = normal(rng);
  return out;
}

}  // namespace aat::adaptive::families
