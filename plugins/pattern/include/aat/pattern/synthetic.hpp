// Synthetic attention inputs for tests and benchmarks (host vectors, C order [B, H, N, D]).
//
// gaussian_inputs: Q, K, V ~ N(0, 1) iid. With scale 1/sqrt(D) every logit is ~N(0, 1):
// attention is spread almost evenly, the worst case for an adaptive plan.
//
// structured_inputs: the patterns attention heads show in language models, built in disjoint
// coordinate groups of Q and K so each contributes its own logit term (scale = 1/sqrt(D)):
//   sink       dim 0:           the first `sinks` keys carry a; every query carries a,
//                               a^2 / sqrt(D) = sink_logit;
//   retrieval  dims 1..R:       R passages; passage r is `retrieval_keys` keys at a random place
//                               in the first half and `retrieval_queries` queries at least N/4
//                               later, both carrying c in dim 1 + r, c^2 / sqrt(D) = retrieval_logit;
//   local      next L dims:     a smooth random walk w_t (AR(1), correlation length
//                               `local_width` tokens, normalised to |w_t| = 1); query t and key t
//                               carry e w_t with e^2 / sqrt(D) = local_logit, so key t - d scores
//                               about local_logit exp(-d / local_width) and far keys
//                               ~N(0, local_logit^2 / L); L = `local_dims` (default 3D/4);
//   noise      the other dims:  N(0, s^2) with s chosen so the noise logit is ~N(0, noise^2).
// V ~ N(0, 1): values carry no structure (pooling and skipping get no help from V).
// docs/adaptive.md describes the mass each part holds; bench/adaptive_inputs.py mirrors it.
#pragma once

#include <cstdint>
#include <vector>

namespace aat::pattern {

struct HostQkv {
  std::int64_t batch = 1, heads = 1, length = 0, head_dim = 64;
  std::vector<float> q, k, v;  // [B, H, N, D] each
  std::vector<std::int64_t> shape() const { return {batch, heads, length, head_dim}; }
};

struct StructuredSpec {
  std::int64_t batch = 1, heads = 1, length = 1024, head_dim = 64;
  std::uint32_t seed = 1;
  double noise = 1.0;              // std of the background logit
  std::int64_t sinks = 4;          // leading keys every query attends to
  double sink_logit = 12.0;
  double local_logit = 18.0;       // peak logit of the local (diagonal) band
  double local_width = 32.0;       // correlation length of the local band, in tokens
  std::int64_t local_dims = 0;     // coordinates of the local walk; 0: 3D/4
  std::int64_t retrievals = 4;     // long-range passages per (batch, head); at most D/8
  std::int64_t retrieval_keys = 64;
  std::int64_t retrieval_queries = 64;
  double retrieval_logit = 14.0;
};

// Throws std::invalid_argument naming the parameter when a dimension is below 1, or when one
// tensor [B, H, N, D] would hold 2^31 elements or more (what the attention kernels index).
void check_input_shape(std::int64_t batch, std::int64_t heads, std::int64_t length, std::int64_t head_dim);

// Both throw std::invalid_argument when the shape fails check_input_shape; structured_inputs
// also when the spec cannot be built (D < 16, too many retrievals).
HostQkv gaussian_inputs(std::int64_t batch, std::int64_t heads, std::int64_t length, std::int64_t head_dim,
                        std::uint32_t seed);

HostQkv structured_inputs(const StructuredSpec& spec);

}  // namespace aat::pattern
