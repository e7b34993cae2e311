// The double-precision reference (reference.hpp) against facts that follow from the definition
// of attention; no device needed. Tolerances: attention_test_support.hpp.
#include "attention_test_support.hpp"

namespace aat::attention {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the suites' shared vocabulary

// =============================================================================================
// ReferenceSelfCheck: the reference against facts that follow from the definition.

ref::Problem problem(std::int64_t B, std::int64_t Hq, std::int64_t Hkv, std::int64_t Nq, std::int64_t Nk,
                     std::int64_t D) {
  return {.batch = B, .q_heads = Hq, .kv_heads = Hkv, .q_len = Nq, .kv_len = Nk, .head_dim = D};
}

std::vector<float> normal_vector(std::size_t n, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> x(n);
  for (auto& e : x) e = normal(rng);
  return x;
}

TEST(ReferenceSelfCheck, EqualScoresGiveTheMeanOfV) {
  const auto p = problem(1, 1, 1, 3, 5, 8);
  const std::vector<float> q(3 * 8, 0.0f);  // every score 0
  const auto k = normal_vector(5 * 8, 1), v = normal_vector(5 * 8, 2);
  const auto r = ref::attention(p, q, k, v);
  for (int i = 0; i < 3; ++i) {
    for (int d = 0; d < 8; ++d) {
      double mean = 0;
      for (int j = 0; j < 5; ++j) mean += v[static_cast<std::size_t>(j * 8 + d)] / 5.0;
      EXPECT_NEAR(r.out[static_cast<std::size_t>(i * 8 + d)], mean, 1e-15);
    }
    EXPECT_NEAR(r.lse[static_cast<std::size_t>(i)], std::log(5.0), 1e-15);
  }
}

TEST(ReferenceSelfCheck, TwoKeysMatchTheClosedForm) {
  auto p = problem(1, 1, 1, 1, 2, 8);
  p.scale = 0.5;
  const auto q = normal_vector(8, 3), k = normal_vector(16, 4), v = normal_vector(16, 5);
  double s0 = 0, s1 = 0;
  for (int d = 0; d < 8; ++d) {
    s0 += 0.5 * q[static_cast<std::size_t>(d)] * k[static_cast<std::size_t>(d)];
    s1 += 0.5 * q[static_cast<std::size_t>(d)] * k[static_cast<std::size_t>(8 + d)];
  }
  const double w0 = 1.0 / (1.0 + std::exp(s1 - s0));  // sigmoid(s0 - s1)
  const auto r = ref::attention(p, q, k, v);
  for (int d = 0; d < 8; ++d)
    EXPECT_NEAR(r.out[static_cast<std::size_t>(d)],
                w0 * v[static_cast<std::size_t>(d)] + (1 - w0) * v[static_cast<std::size_t>(8 + d)], 1e-14);
  EXPECT_NEAR(r.lse[0], std::log(std::exp(s0) + std::exp(s1)), 1e-14);
}

TEST(ReferenceSelfCheck, CausalRowZeroSeesOnlyKeyZero) {
  auto p = problem(1, 1, 1, 6, 6, 8);
  p.causal = true;
  const auto q = normal_vector(48, 6), k = normal_vector(48, 7), v = normal_vector(48, 8);
  const auto r = ref::attention(p, q, k, v);
  double s00 = 0;
  for (int d = 0; d < 8; ++d) s00 += q[static_cast<std::size_t>(d)] * static_cast<double>(k[static_cast<std::size_t>(d)]);
  s00 /= std::sqrt(8.0);
  for (int d = 0; d < 8; ++d) EXPECT_EQ(r.out[static_cast<std::size_t>(d)], v[static_cast<std::size_t>(d)]);
  EXPECT_NEAR(r.lse[0], s00, 1e-15);
  // The last row sees every key: it equals the unmasked row.
  p.causal = false;
  const auto full = ref::attention(p, q, k, v);
  for (int d = 0; d < 8; ++d) EXPECT_EQ(r.out[static_cast<std::size_t>(5 * 8 + d)], full.out[static_cast<std::size_t>(5 * 8 + d)]);
}

// Causal, bottom-right aligned: query i of Nq sees the first i + Nk - Nq + 1 keys, i.e. it is
// unmasked attention over that prefix.
TEST(ReferenceSelfCheck, CausalIsBottomRightAligned) {
  const std::int64_t Nq = 3, Nk = 7, D = 8;
  auto p = problem(1, 1, 1, Nq, Nk, D);
  p.causal = true;
  const auto q = normal_vector(Nq * D, 9), k = normal_vector(Nk * D, 10), v = normal_vector(Nk * D, 11);
  const auto r = ref::attention(p, q, k, v);
  for (std::int64_t i = 0; i < Nq; ++i) {
    const std::int64_t visible = i + Nk - Nq + 1;
    auto prefix = problem(1, 1, 1, 1, visible, D);
    const std::vector<float> qi(q.begin() + i * D, q.begin() + (i + 1) * D);
    const std::vector<float> kp(k.begin(), k.begin() + visible * D), vp(v.begin(), v.begin() + visible * D);
    const auto want = ref::attention(prefix, qi, kp, vp);
    for (std::int64_t d = 0; d < D; ++d)
      EXPECT_NEAR(r.out[static_cast<std::size_t>(i * D + d)], want.out[static_cast<std::size_t>(d)], 1e-15);
    EXPECT_NEAR(r.lse[static_cast<std::size_t>(i)], want.lse[0], 1e-15);
  }
}

TEST(ReferenceSelfCheck, FullyMaskedRowsAreZeroWithMinusInfinityLse) {
  // Key length 0 for batch 0.
  auto p = problem(2, 1, 1, 2, 3, 8);
  const std::vector<std::int32_t> lengths{0, 3};
  p.key_lengths = lengths;
  const auto q = normal_vector(2 * 2 * 8, 12), k = normal_vector(2 * 3 * 8, 13), v = normal_vector(2 * 3 * 8, 14);
  auto r = ref::attention(p, q, k, v);
  for (int i = 0; i < 2 * 8; ++i) EXPECT_EQ(r.out[static_cast<std::size_t>(i)], 0.0);
  EXPECT_EQ(r.lse[0], kNegInf);
  EXPECT_EQ(r.lse[1], kNegInf);
  EXPECT_TRUE(std::isfinite(r.lse[2]) && std::isfinite(r.lse[3]));
  // Causal with Nq > Nk: rows i < Nq - Nk see no key.
  auto c = problem(1, 1, 1, 5, 2, 8);
  c.causal = true;
  const auto qc = normal_vector(5 * 8, 15), kc = normal_vector(2 * 8, 16), vc = normal_vector(2 * 8, 17);
  r = ref::attention(c, qc, kc, vc);
  for (int i = 0; i < 5; ++i) {
    if (i < 3) {
      EXPECT_EQ(r.lse[static_cast<std::size_t>(i)], kNegInf) << i;
      for (int d = 0; d < 8; ++d) EXPECT_EQ(r.out[static_cast<std::size_t>(i * 8 + d)], 0.0);
    } else {
      EXPECT_TRUE(std::isfinite(r.lse[static_cast<std::size_t>(i)])) << i;
    }
  }
  // Row 3 sees key 0 only: O = V[0].
  for (int d = 0; d < 8; ++d) EXPECT_EQ(r.out[static_cast<std::size_t>(3 * 8 + d)], vc[static_cast<std::size_t>(d)]);
}

TEST(ReferenceSelfCheck, GqaEqualsMhaWithRepeatedKeyValueHeads) {
  const std::int64_t Hq = 6, Hkv = 2, Nq = 4, Nk = 5, D = 8, group = Hq / Hkv;
  const auto q = normal_vector(Hq * Nq * D, 18), k = normal_vector(Hkv * Nk * D, 19), v = normal_vector(Hkv * Nk * D, 20);
  std::vector<float> k_rep, v_rep;
  for (std::int64_t h = 0; h < Hq; ++h) {
    const auto from = (h / group) * Nk * D;
    k_rep.insert(k_rep.end(), k.begin() + from, k.begin() + from + Nk * D);
    v_rep.insert(v_rep.end(), v.begin() + from, v.begin() + from + Nk * D);
  }
  auto gqa_p = problem(1, Hq, Hkv, Nq, Nk, D);
  auto mha_p = problem(1, Hq, Hq, Nq, Nk, D);
  gqa_p.causal = mha_p.causal = true;
  const auto gqa = ref::attention(gqa_p, q, k, v);
  const auto mha = ref::attention(mha_p, q, k_rep, v_rep);
  EXPECT_EQ(gqa.out, mha.out);
  EXPECT_EQ(gqa.lse, mha.lse);
}

TEST(ReferenceSelfCheck, BroadcastBiasEqualsTheExpandedBias) {
  const std::int64_t B = 2, H = 3, Nq = 4, Nk = 5, D = 8;
  const auto q = normal_vector(B * H * Nq * D, 21), k = normal_vector(B * H * Nk * D, 22),
             v = normal_vector(B * H * Nk * D, 23);
  const auto small = normal_vector(B * Nq * Nk, 24);  // [B, 1, Nq, Nk]
  std::vector<float> full;                            // [B, H, Nq, Nk]
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      full.insert(full.end(), small.begin() + b * Nq * Nk, small.begin() + (b + 1) * Nq * Nk);
  auto pb = problem(B, H, H, Nq, Nk, D);
  pb.bias = small;
  pb.bias_batch = B;
  pb.bias_heads = 1;
  auto pf = problem(B, H, H, Nq, Nk, D);
  pf.bias = full;
  pf.bias_batch = B;
  pf.bias_heads = H;
  const auto rb = ref::attention(pb, q, k, v), rf = ref::attention(pf, q, k, v);
  EXPECT_EQ(rb.out, rf.out);
  EXPECT_EQ(rb.lse, rf.lse);
  // [1, 1, Nq, Nk]: the first batch's slice everywhere.
  std::vector<float> one(small.begin(), small.begin() + Nq * Nk), expanded;
  for (std::int64_t i = 0; i < B * H; ++i) expanded.insert(expanded.end(), one.begin(), one.end());
  pb.bias = one;
  pb.bias_batch = 1;
  pf.bias = expanded;
  const auto r1 = ref::attention(pb, q, k, v), re = ref::attention(pf, q, k, v);
  EXPECT_EQ(r1.out, re.out);
  EXPECT_EQ(r1.lse, re.lse);
  // And the bias does change the answer.
  auto plain = problem(B, H, H, Nq, Nk, D);
  EXPECT_NE(ref::attention(plain, q, k, v).out, r1.out);
}

// softmax(s + c) = softmax(s) and L(s + c) = L(s) + c, even where exp(s + c) overflows.
TEST(ReferenceSelfCheck, HugeLogitsAreShiftInvariant) {
  const std::int64_t Nq = 3, Nk = 6, D = 8;
  const auto q = normal_vector(Nq * D, 25), k = normal_vector(Nk * D, 26), v = normal_vector(Nk * D, 27);
  auto p = problem(1, 1, 1, Nq, Nk, D);
  const auto base = ref::attention(p, q, k, v);
  for (float shift : {1e4f, -1e4f, 2e5f}) {  // exp(s + shift) over/underflows even in double
    const std::vector<float> bias(static_cast<std::size_t>(Nq * Nk), shift);
    p.bias = bias;
    const auto shifted = ref::attention(p, q, k, v);
    for (std::size_t i = 0; i < base.out.size(); ++i) ASSERT_NEAR(shifted.out[i], base.out[i], 1e-9) << shift;  // s + shift rounds at ~|shift| 2^-52
    for (std::size_t i = 0; i < base.lse.size(); ++i)
      ASSERT_NEAR(shifted.lse[i], base.lse[i] + shift, 1e-14 * (1 + std::abs(static_cast<double>(shift)))) << shift;
  }
}

TEST(ReferenceSelfCheck, NanPoisonsOnlyItsRow) {
  const std::int64_t Nq = 3, Nk = 4, D = 8;
  auto q = normal_vector(Nq * D, 28);
  const auto k = normal_vector(Nk * D, 29), v = normal_vector(Nk * D, 30);
  q[static_cast<std::size_t>(1 * D + 2)] = kNaN;
  const auto r = ref::attention(problem(1, 1, 1, Nq, Nk, D), q, k, v);
  for (std::int64_t i = 0; i < Nq; ++i) {
    for (std::int64_t d = 0; d < D; ++d)
      EXPECT_EQ(std::isnan(r.out[static_cast<std::size_t>(i * D + d)]), i == 1) << i << "," << d;
    EXPECT_EQ(std::isnan(r.lse[static_cast<std::size_t>(i)]), i == 1);
  }
}

TEST(ReferenceSelfCheck, CompareHandlesNonFiniteValues) {
  const std::vector<std::int64_t> dims{4};
  const std::vector<float> got{1.0f, kNaN, -std::numeric_limits<float>::infinity(), 0.0f};
  std::vector<double> want{1.0, std::nan(""), kNegInf, 0.0};
  EXPECT_TRUE(ref::compare(got, want, 1e-6, 0, dims).ok);
  want[3] = std::nan("");  // a NaN expected, 0 found
  EXPECT_FALSE(ref::compare(got, want, 1e-6, 0, dims).ok);
  want[3] = 0.0;
  want[1] = 2.0;  // a finite value expected, NaN found
  const auto c = ref::compare(got, want, 1e-6, 0, dims);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.worst_index, 1u);
  want[1] = std::nan("");
  want[0] = 1.0 + 1e-5;  // out of tolerance
  EXPECT_FALSE(ref::compare(got, want, 1e-6, 0, dims).ok);
  EXPECT_TRUE(ref::compare(got, want, 0, 1e-4, dims).ok);
}

// =============================================================================================
// The kernel against the reference.

}  // namespace
}  // namespace aat::attention
