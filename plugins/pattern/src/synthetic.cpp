#include "aat/pattern/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace aat::pattern {

namespace {

std::vector<float> normal_values(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& e : x) e = normal(rng);
  return x;
}

}  // namespace

void check_input_shape(std::int64_t batch, std::int64_t heads, std::int64_t length, std::int64_t head_dim) {
  for (const auto& [name, value] : {std::pair{"batch", batch}, {"heads", heads}, {"length", length}, {"head dim", head_dim}})
    if (value < 1) throw std::invalid_argument(std::string(name) + " = " + std::to_string(value) + ": must be at least 1");
  constexpr std::int64_t kMaxElements = (std::int64_t{1} << 31) - 1;
  std::int64_t elements = 1;
  for (const std::int64_t d : {batch, heads, length, head_dim}) {
    if (elements > kMaxElements / d) {
      elements = kMaxElements + 1;
      break;
    }
    elements *= d;
  }
  if (elements > kMaxElements)
    throw std::invalid_argument("shape [" + std::to_string(batch) + ", " + std::to_string(heads) + ", " +
                                std::to_string(length) + ", " + std::to_string(head_dim) +
                                "] has 2^31 elements or more per tensor; attention indexes at most 2^31 - 1");
}

HostQkv gaussian_inputs(std::int64_t batch, std::int64_t heads, std::int64_t length, std::int64_t head_dim,
                        std::uint32_t seed) {
  check_input_shape(batch, heads, length, head_dim);
  HostQkv out;
  out.batch = batch;
  out.heads = heads;
  out.length = length;
  out.head_dim = head_dim;
  std::mt19937 rng(seed);
  const auto n = static_cast<std::size_t>(batch * heads * length * head_dim);
  out.q = normal_values(n, rng);
  out.k = normal_values(n, rng);
  out.v = normal_values(n, rng);
  return out;
}

HostQkv structured_inputs(const StructuredSpec& s) {
  const std::int64_t D = s.head_dim, N = s.length;
  const std::int64_t local_dims = s.local_dims > 0 ? s.local_dims : 3 * D / 4;
  const std::int64_t noise_dims = D - 1 - s.retrievals - local_dims;
  check_input_shape(s.batch, s.heads, N, D);
  if (D < 16) throw std::invalid_argument("structured_inputs: head dim must be at least 16");
  if (s.retrievals < 0 || s.retrievals > D / 8)
    throw std::invalid_argument("structured_inputs: at most D/8 = " + std::to_string(D / 8) + " retrievals");
  if (noise_dims < 1)
    throw std::invalid_argument("structured_inputs: local_dims leaves no noise coordinates");
  if (s.sinks < 0 || s.retrieval_keys < 1 || s.retrieval_queries < 1 || s.local_width <= 0)
    throw std::invalid_argument("structured_inputs: bad spec");

  HostQkv out;
  out.batch = s.batch;
  out.heads = s.heads;
  out.length = N;
  out.head_dim = D;
  const auto n = static_cast<std::size_t>(s.batch * s.heads * N * D);
  out.q.assign(n, 0.0f);
  out.k.assign(n, 0.0f);
  std::mt19937 rng(s.seed);
  std::normal_distribution<double> normal(0.0, 1.0);

  const double root_d = std::sqrt(static_cast<double>(D));
  const double sink_amp = std::sqrt(s.sink_logit * root_d);
  const double retrieval_amp = std::sqrt(s.retrieval_logit * root_d);
  const double local_amp = std::sqrt(s.local_logit * root_d);
  // Noise logit = sum over noise dims of q_d k_d / sqrt(D), variance noise_dims * sigma^4 / D.
  const double noise_sigma = noise_dims > 0 ? std::sqrt(s.noise * std::sqrt(static_cast<double>(D) / static_cast<double>(noise_dims))) : 0.0;
  const double rho = std::exp(-1.0 / s.local_width);
  const double innovation = std::sqrt(1.0 - rho * rho);
  const std::int64_t local0 = 1 + s.retrievals, noise0 = local0 + local_dims;

  std::vector<double> walk(static_cast<std::size_t>(local_dims));
  for (std::int64_t bh = 0; bh < s.batch * s.heads; ++bh) {
    float* q = out.q.data() + bh * N * D;
    float* k = out.k.data() + bh * N * D;
    for (auto& w : walk) w = normal(rng);
    for (std::int64_t t = 0; t < N; ++t) {
      float* qt = q + t * D;
      float* kt = k + t * D;
      qt[0] = static_cast<float>(sink_amp);
      if (t < s.sinks) kt[0] = static_cast<float>(sink_amp);
      if (t > 0)
        for (auto& w : walk) w = rho * w + innovation * normal(rng);
      double norm = 0;
      for (double w : walk) norm += w * w;
      const double unit = norm > 0 ? local_amp / std::sqrt(norm) : 0.0;
      for (std::int64_t d = 0; d < local_dims; ++d) {
        const auto value = static_cast<float>(unit * walk[static_cast<std::size_t>(d)]);
        qt[local0 + d] = value;
        kt[local0 + d] = value;
      }
      for (std::int64_t d = noise0; d < D; ++d) {
        qt[d] = static_cast<float>(noise_sigma * normal(rng));
        kt[d] = static_cast<float>(noise_sigma * normal(rng));
      }
    }
    // Retrieval passages: keys in the first half, their queries at least N/4 later.
    for (std::int64_t r = 0; r < s.retrievals; ++r) {
      const std::int64_t lk = std::min(s.retrieval_keys, N), lq = std::min(s.retrieval_queries, N);
      const std::int64_t key_lo = std::min(s.sinks, N - lk), key_hi = std::max(key_lo, N / 2 - lk);
      const std::int64_t kb = std::uniform_int_distribution<std::int64_t>(key_lo, key_hi)(rng);
      const std::int64_t query_lo = std::min(kb + N / 4, N - lq), query_hi = std::max(query_lo, N - lq);
      const std::int64_t qa = std::uniform_int_distribution<std::int64_t>(query_lo, query_hi)(rng);
      for (std::int64_t t = kb; t < kb + lk; ++t) k[t * D + 1 + r] = static_cast<float>(retrieval_amp);
      for (std::int64_t t = qa; t < qa + lq; ++t) q[t * D + 1 + r] = static_cast<float>(retrieval_amp);
    }
  }
  out.v = normal_values(n, rng);
  return out;
}

}  // namespace aat::pattern
