// Input families adaptive attention was not designed on: the quality tests
// (tests/test_families.cpp), bench_adaptive --kinds and `aat run adaptive-inputs`. Written
// independently of aat::pattern's synthetic inputs and of bench/adaptive_inputs.py: other
// constructions, another random stream. Q, K, V are
// [1, H, N, D] f32 (C order), every head an independent draw from `seed`; D even, at least 16.
// Logits below are scale * q . k with scale = 1/sqrt(D); V ~ N(0, 1) iid in every family
// (values carry no structure).
//
//   rotary        smooth positional decay, as rotary embeddings give: q_i = R_i (s u + g_i),
//                 k_j = R_j (s u + h_j), R_t the rotary rotation of position t (pair p turned by
//                 t theta_p, theta_p = 10000^(-2p/D)), u a fixed unit vector with the same weight
//                 on every frequency pair and random phases, s^2 / sqrt(D) = 20, g, h ~ N(0, I).
//                 The shared part scores 20 * mean_p cos((j - i) theta_p): 20 at j = i, falling
//                 off smoothly (about logarithmically) with |i - j|; the rest is noise of about
//                 1.6 logits.
//   sinks_window  attention sinks and a sliding window: D - 8 coordinates carry random Fourier
//                 features of the position (frequencies ~ N(0, 1/64^2)) scaled so that keys
//                 score 14 exp(-(i - j)^2 / (2 * 64^2)) (a Gaussian window of width 64) up to the
//                 features' sampling noise; one coordinate carries the sinks (every query and
//                 the first 4 keys: +10); 7 coordinates of noise (1 logit). Then q and k are
//                 rotated by one random orthogonal matrix (scores unchanged, the features no
//                 longer in their own coordinates).
//   needles       sinks_window plus 8 needles: needle m is 8 consecutive keys at a random place
//                 in the first half, matched by a run of 16 consecutive queries at least 256
//                 tokens later; both carry sqrt(14 sqrt(D)) in coordinate m (+14 logits).
//   documents     block-diagonal documents: lengths uniform in [128, 1024]; document t has a
//                 direction e_t (columns of a random orthogonal matrix, D/2 of them, reused
//                 cyclically) and its queries and keys carry sqrt(10 sqrt(D)) e_t on top of
//                 N(0, I) noise: +10 logits within a document, 0 across (plus ~1.1 of noise).
//   gaussian      q, k ~ N(0, I): every logit ~ N(0, 1), nothing to skip.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace aat::adaptive::families {

enum class Family { rotary, sinks_window, needles, documents, gaussian };
inline constexpr Family kFamilies[] = {Family::rotary, Family::sinks_window, Family::needles, Family::documents,
                                       Family::gaussian};
std::string_view to_string(Family family);
std::optional<Family> parse_family(std::string_view name);

struct Qkv {
  std::int64_t heads = 1, length = 0, head_dim = 0;
  std::vector<float> q, k, v;  // [1, H, N, D]
};

// Throws std::invalid_argument for odd D, D < 16 or a dimension below 1.
Qkv generate(Family family, std::int64_t heads, std::int64_t length, std::int64_t head_dim, std::uint32_t seed);

}  // namespace aat::adaptive::families
