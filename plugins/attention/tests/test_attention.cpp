// The attention kernel against the double-precision reference (reference.hpp), plus the
// reference's own self-checks (ReferenceSelfCheck.*, no device needed).
//
// Tolerances (|gpu - ref| <= abs + rel * |ref|, elementwise, ref in double):
//  * f32 storage, O and L: abs = rel = 2e-5. The kernel accumulates in f32: a dot product of
//    D <= 256 terms and a softmax-weighted sum over Nk <= 331 keys, each with a relative
//    rounding error of order sqrt(n) * 2^-24 ~ 1e-6 (worst case n * 2^-24 ~ 2e-5), plus the
//    device's exp/log (a few ulp). O is a convex combination of V rows (|V| ~ 1..4 for normal
//    inputs), so 2e-5 * (1 + |ref|) leaves headroom without hiding a wrong mask or a wrong
//    tile edge (those give errors of order 1e-2..1).
//  * f16 storage: Q, K, V are rounded to f16 BEFORE the reference runs, so the reference sees
//    exactly the values the GPU reads; the only extra error is the final rounding of O to
//    f16 (half an ulp: 4.9e-4 at |O| in [1, 2), 2^-11 relative in general) on top of the f32
//    accumulation error above. O: abs = rel = 1e-3. L stays f32 (computed from the same
//    f16-exact inputs), so L keeps the f32 tolerance.
//  * split-K vs unsplit (same inputs, same dtype f32): abs = rel = 1e-5. Only the order of the
//    f32 sums differs (partial states merged with exp(lse_s - lse)), a few ulp per element.
//  * Large logits (~ +-1e4): the inputs are small integers (plus one coordinate of +-100) with
//    scale 1, so every f32 product and sum in Q K^T is exact and the GPU's scores equal the
//    reference's; the f32 tolerance above applies unchanged (L is ~1e4 and is compared with
//    rel 2e-5, i.e. ~0.2, above the f32 ulp there, 1e-3).
// Set AAT_ATTENTION_VERBOSE=1 to print every case's max errors.
#include "aat/attention/attention.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "aat/dtype.hpp"
#include "device_test.hpp"
#include "reference.hpp"

namespace aat::attention {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using aat::testing::unwrap;
namespace ref = reference;

constexpr double kF32Abs = 2e-5, kF32Rel = 2e-5;
constexpr double kF16Abs = 1e-3, kF16Rel = 1e-3;
constexpr double kLseAbs = 2e-5, kLseRel = 2e-5;
constexpr double kSplitAbs = 1e-5, kSplitRel = 1e-5;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

bool verbose() {
  const char* v = std::getenv("AAT_ATTENTION_VERBOSE");
  return v && *v && std::string(v) != "0";
}

std::vector<double> widen(const std::vector<float>& values) { return {values.begin(), values.end()}; }

// ---------------------------------------------------------------------------------------------
// The problem description shared by the reference and the GPU run.

struct Case {
  std::int64_t B = 1, Hq = 1, Hkv = 1, Nq = 1, Nk = 1, D = 64;
  DType dtype = DType::f32;
  bool causal = false;
  std::vector<std::int32_t> lengths;    // empty: none
  std::int64_t bias_b = 0, bias_h = 0;  // bias dims [bias_b, bias_h, Nq, Nk]; 0: no bias
  std::optional<std::uint32_t> splits;
  std::optional<float> scale;
  std::optional<KernelPath> path;
  std::uint32_t seed = 1;

  bool has_bias() const { return bias_b > 0; }
  std::string name() const {
    std::ostringstream s;
    s << "B" << B << " Hq" << Hq << " Hkv" << Hkv << " Nq" << Nq << " Nk" << Nk << " D" << D << ' '
      << to_string(dtype) << (causal ? " causal" : "");
    if (!lengths.empty()) {
      s << " len[";
      for (std::size_t i = 0; i < lengths.size(); ++i) s << (i ? "," : "") << lengths[i];
      s << "]";
    }
    if (has_bias()) s << " bias[" << bias_b << "," << bias_h << "," << Nq << "," << Nk << "]";
    if (splits) s << " splits=" << *splits;
    if (scale) s << " scale=" << *scale;
    if (path) s << " path=" << to_string(*path);
    return s.str();
  }
  std::vector<std::int64_t> q_shape() const { return {B, Hq, Nq, D}; }
  std::vector<std::int64_t> kv_shape() const { return {B, Hkv, Nk, D}; }
  std::vector<std::int64_t> lse_shape() const { return {B, Hq, Nq}; }
};

struct Inputs {
  std::vector<float> q, k, v, bias;
};

// Normal(0, 1) Q, K, V (rounded to f16 for f16 cases) and bias, from a seeded generator.
Inputs random_inputs(const Case& c) {
  std::mt19937 rng(c.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::int64_t n) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& e : x) e = normal(rng);
    return c.dtype == DType::f16 ? ref::round_to_half(x) : x;
  };
  Inputs in;
  in.q = fill(c.B * c.Hq * c.Nq * c.D);
  in.k = fill(c.B * c.Hkv * c.Nk * c.D);
  in.v = fill(c.B * c.Hkv * c.Nk * c.D);
  if (c.has_bias()) {
    in.bias.resize(static_cast<std::size_t>(c.bias_b * c.bias_h * c.Nq * c.Nk));
    for (auto& e : in.bias) e = 2.0f * normal(rng);
  }
  return in;
}

ref::Result reference_for(const Case& c, const Inputs& in) {
  ref::Problem p;
  p.batch = c.B;
  p.q_heads = c.Hq;
  p.kv_heads = c.Hkv;
  p.q_len = c.Nq;
  p.kv_len = c.Nk;
  p.head_dim = c.D;
  p.causal = c.causal;
  if (c.scale) p.scale = static_cast<double>(*c.scale);
  p.key_lengths = c.lengths;
  if (c.has_bias()) {
    p.bias = in.bias;
    p.bias_batch = c.bias_b;
    p.bias_heads = c.bias_h;
  }
  return ref::attention(p, in.q, in.k, in.v);
}

struct GpuRun {
  std::vector<float> out, lse;
  Tiling tiling;
  double flops = 0;
  double gpu_ms = 0;
  std::vector<std::int64_t> out_shape, lse_shape;
  DType out_dtype = DType::f32, lse_dtype = DType::f32;
};

Tensor upload(const std::shared_ptr<Context>& context, DType dtype, std::vector<std::int64_t> shape,
              const std::vector<float>& values) {
  if (dtype == DType::f16) {
    const auto bits = to_half(values);
    return unwrap(Tensor::from_values<std::uint16_t>(context, DType::f16, std::move(shape), bits), "upload f16");
  }
  return unwrap(Tensor::from_values<float>(context, DType::f32, std::move(shape), values), "upload f32");
}

struct Comparisons {
  ref::Comparison out, lse;
};

// ---------------------------------------------------------------------------------------------
// The device fixture: one Attention for the whole suite (pipelines are built once per config).

class AttentionKernel : public aat::testing::DeviceTest {
 protected:
  static void TearDownTestSuite() { attention_.reset(); }

  Attention& attention() {
    if (!attention_) attention_ = unwrap(Attention::create(context()), "Attention::create");
    return *attention_;
  }

  GpuRun run(const Case& c, const Inputs& in) {
    const auto ctx = context();
    Tensor q = upload(ctx, c.dtype, c.q_shape(), in.q);
    Tensor k = upload(ctx, c.dtype, c.kv_shape(), in.k);
    Tensor v = upload(ctx, c.dtype, c.kv_shape(), in.v);
    Tensor lengths, bias;
    AttentionOptions options;
    options.causal = c.causal;
    options.scale = c.scale;
    options.splits = c.splits;
    options.path = c.path;
    if (!c.lengths.empty()) {
      lengths = unwrap(Tensor::from_values<std::int32_t>(ctx, DType::i32, {c.B}, c.lengths), "key lengths");
      options.key_lengths = &lengths;
    }
    if (c.has_bias()) {
      bias = unwrap(Tensor::from_values<float>(ctx, DType::f32, {c.bias_b, c.bias_h, c.Nq, c.Nk}, in.bias), "bias");
      options.bias = &bias;
    }
    AttentionResult result = unwrap(attention().run(q, k, v, options), c.name().c_str());
    GpuRun r;
    r.out = unwrap(result.out.download_f32(), "download O");
    r.lse = unwrap(result.lse.download_f32(), "download L");
    r.tiling = result.tiling;
    r.flops = result.flops;
    r.gpu_ms = result.gpu_ms;
    r.out_shape = result.out.shape();
    r.lse_shape = result.lse.shape();
    r.out_dtype = result.out.dtype();
    r.lse_dtype = result.lse.dtype();
    return r;
  }

  // Runs the case on the GPU, compares O and L with the reference (EXPECTs), returns both.
  std::pair<GpuRun, ref::Result> expect_matches_reference(const Case& c, const Inputs& in) {
    SCOPED_TRACE(c.name());
    GpuRun gpu = run(c, in);
    ref::Result want = reference_for(c, in);
    // The tensor-core path rounds P = exp(s - m) to f16 before P.V (as FlashAttention does on
    // tensor cores): each weight carries up to 2^-11 relative error on top of the f16 storage
    // rounding, so its O tolerance is twice the f16 one. L is accumulated in f32 from f32
    // scores, but its scores come from f16 products summed by the tensor cores: 1e-3 abs.
    const bool tensor_cores = gpu.tiling.path == KernelPath::cooperative_matrix_nv;
    EXPECT_EQ(gpu.out_shape, c.q_shape());
    EXPECT_EQ(gpu.out_dtype, c.dtype);
    EXPECT_EQ(gpu.lse_shape, c.lse_shape());
    EXPECT_EQ(gpu.lse_dtype, DType::f32);
    const bool half = c.dtype == DType::f16;
    const auto q_dims = c.q_shape();
    const auto l_dims = c.lse_shape();
    const double out_scale = tensor_cores ? 2.0 : 1.0;
    const auto out = ref::compare(gpu.out, want.out, out_scale * (half ? kF16Abs : kF32Abs),
                                  out_scale * (half ? kF16Rel : kF32Rel), q_dims);
    const auto lse = ref::compare(gpu.lse, want.lse, tensor_cores ? 1e-3 : kLseAbs, tensor_cores ? 1e-3 : kLseRel, l_dims);
    EXPECT_TRUE(out.ok) << c.name() << ": O " << ref::describe(out);
    EXPECT_TRUE(lse.ok) << c.name() << ": L " << ref::describe(lse);
    if (verbose())
      std::printf("  %-70s O max|err| %.3g (ratio %.3g)  L max|err| %.3g  tiling Br=%u Bc=%u wg=%u splits=%u\n",
                  c.name().c_str(), out.max_abs_error, out.worst_ratio, lse.max_abs_error, gpu.tiling.block_q,
                  gpu.tiling.block_kv, gpu.tiling.workgroup_size, gpu.tiling.splits);
    return {std::move(gpu), std::move(want)};
  }

  std::pair<GpuRun, ref::Result> expect_matches_reference(const Case& c) {
    return expect_matches_reference(c, random_inputs(c));
  }

  static inline std::optional<Attention> attention_;
};

// Every element of rows [b, h, i] of the GPU output with no visible key: O exactly 0, L = -inf.
void expect_masked_row(const Case& c, const GpuRun& gpu, std::int64_t b, std::int64_t h, std::int64_t i) {
  const std::int64_t row = (b * c.Hq + h) * c.Nq + i;
  for (std::int64_t d = 0; d < c.D; ++d) {
    const float o = gpu.out[static_cast<std::size_t>(row * c.D + d)];
    if (o != 0.0f) {
      ADD_FAILURE() << c.name() << ": masked row [" << b << "," << h << "," << i << "] has O[" << d << "] = " << o
                    << ", want exactly 0";
      return;
    }
  }
  const float l = gpu.lse[static_cast<std::size_t>(row)];
  EXPECT_TRUE(std::isinf(l) && l < 0) << c.name() << ": masked row [" << b << "," << h << "," << i << "] has L = " << l
                                      << ", want -inf";
}

void expect_all_finite(const Case& c, const GpuRun& gpu) {
  std::size_t bad = 0;
  for (float x : gpu.out) bad += std::isfinite(x) ? 0 : 1;
  EXPECT_EQ(bad, 0u) << c.name() << ": " << bad << " non-finite output element(s)";
  bad = 0;
  for (float x : gpu.lse) bad += std::isfinite(x) ? 0 : 1;
  EXPECT_EQ(bad, 0u) << c.name() << ": " << bad << " non-finite L element(s)";
}

// =============================================================================================
// ReferenceSelfCheck: the reference against facts that follow from the definition.

ref::Problem problem(std::int64_t B, std::int64_t Hq, std::int64_t Hkv, std::int64_t Nq, std::int64_t Nk,
                     std::int64_t D) {
  ref::Problem p;
  p.batch = B;
  p.q_heads = Hq;
  p.kv_heads = Hkv;
  p.q_len = Nq;
  p.kv_len = Nk;
  p.head_dim = D;
  return p;
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

TEST_F(AttentionKernel, NoMaskMatchesReference) {
  // Sizes that are not multiples of any tile, each batch/head count kept small.
  for (auto [n, b, h, d] : std::vector<std::array<std::int64_t, 4>>{
           {1, 2, 3, 64}, {7, 2, 2, 64}, {63, 2, 2, 64}, {65, 2, 3, 64}, {257, 1, 2, 32}}) {
    Case c;
    c.B = b, c.Hq = c.Hkv = h, c.Nq = c.Nk = n, c.D = d;
    c.seed = static_cast<std::uint32_t>(n);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, NqDifferentFromNkMatchesReference) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{1, 257}, {7, 65}, {65, 7}, {63, 1}, {33, 129}}) {
    Case c;
    c.B = 2, c.Hq = c.Hkv = 2, c.Nq = nq, c.Nk = nk, c.D = 32;
    c.seed = static_cast<std::uint32_t>(nq * 1000 + nk);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, CustomScaleMatchesReference) {
  Case c;
  c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 17, c.Nk = 40, c.D = 32, c.scale = 0.3f;
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, CausalMatchesReference) {
  for (auto [n, b, h, d] : std::vector<std::array<std::int64_t, 4>>{
           {1, 2, 2, 64}, {7, 2, 2, 64}, {63, 2, 2, 64}, {65, 2, 3, 64}, {257, 1, 2, 32}}) {
    Case c;
    c.B = b, c.Hq = c.Hkv = h, c.Nq = c.Nk = n, c.D = d, c.causal = true;
    c.seed = static_cast<std::uint32_t>(100 + n);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, CausalWithFewerQueriesThanKeys) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{1, 257}, {7, 65}, {63, 257}, {16, 17}, {33, 40}}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = nq, c.Nk = nk, c.D = 32, c.causal = true;
    c.seed = static_cast<std::uint32_t>(200 + nq + nk);
    expect_matches_reference(c);
  }
}

// Query i sees keys j <= i + Nk - Nq: rows i < Nq - Nk see nothing.
TEST_F(AttentionKernel, CausalWithMoreQueriesThanKeysMasksEarlyRows) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{65, 7}, {257, 63}, {7, 1}, {40, 33}}) {
    Case c;
    c.B = 2, c.Hq = c.Hkv = 1, c.Nq = nq, c.Nk = nk, c.D = 32, c.causal = true;
    c.seed = static_cast<std::uint32_t>(300 + nq + nk);
    const auto [gpu, want] = expect_matches_reference(c);
    for (std::int64_t b = 0; b < c.B; ++b)
      for (std::int64_t i = 0; i < nq - nk; ++i) expect_masked_row(c, gpu, b, 0, i);
  }
}

TEST_F(AttentionKernel, KeyLengthsMaskTrailingKeys) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (bool causal : {false, true}) {
      Case c;
      c.B = 5, c.Hq = c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = 32, c.dtype = dtype, c.causal = causal;
      c.lengths = {65, 1, 0, 37, 64};
      c.seed = causal ? 401 : 400;
      const auto [gpu, want] = expect_matches_reference(c);
      for (std::int64_t h = 0; h < c.Hq; ++h)
        for (std::int64_t i = 0; i < c.Nq; ++i) expect_masked_row(c, gpu, 2, h, i);  // length 0
      std::size_t nan = 0;
      for (float x : gpu.out) nan += std::isnan(x) ? 1 : 0;
      EXPECT_EQ(nan, 0u) << c.name();
    }
  }
}

// Causal with Nq > Nk and short key lengths: a mix of rows masked by each rule.
TEST_F(AttentionKernel, KeyLengthsWithCausalMoreQueriesThanKeys) {
  Case c;
  c.B = 3, c.Hq = c.Hkv = 1, c.Nq = 70, c.Nk = 50, c.D = 16, c.causal = true;
  c.lengths = {50, 10, 0};
  c.seed = 410;
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, BiasFullShape) {
  Case c;
  c.B = 2, c.Hq = c.Hkv = 3, c.Nq = 33, c.Nk = 65, c.D = 32, c.bias_b = 2, c.bias_h = 3;
  c.seed = 500;
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, BiasBroadcastOverBatchAndHeads) {
  Case c;
  c.B = 2, c.Hq = c.Hkv = 3, c.Nq = 33, c.Nk = 65, c.D = 32, c.bias_b = 1, c.bias_h = 1;
  c.seed = 501;
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, BiasBroadcastOverHeads) {
  Case c;
  c.B = 2, c.Hq = c.Hkv = 3, c.Nq = 33, c.Nk = 65, c.D = 32, c.bias_b = 2, c.bias_h = 1;
  c.seed = 502;
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, BiasBroadcastOverBatch) {
  Case c;
  c.B = 2, c.Hq = c.Hkv = 3, c.Nq = 33, c.Nk = 65, c.D = 32, c.bias_b = 1, c.bias_h = 3;
  c.seed = 503;
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, BiasWithCausalGqaAndKeyLengths) {
  Case c;
  c.B = 2, c.Hq = 4, c.Hkv = 2, c.Nq = 40, c.Nk = 70, c.D = 32, c.causal = true, c.bias_b = 2, c.bias_h = 1;
  c.lengths = {70, 45};
  c.seed = 504;
  expect_matches_reference(c);
}

// A bias of -inf masks a key like any mask; a row whose every bias is -inf has no visible key.
TEST_F(AttentionKernel, MinusInfinityBiasMasks) {
  Case c;
  c.B = 1, c.Hq = c.Hkv = 1, c.Nq = 9, c.Nk = 40, c.D = 16, c.bias_b = 1, c.bias_h = 1;
  c.seed = 505;
  Inputs in = random_inputs(c);
  const float inf = std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < c.Nk; ++j) {
    in.bias[static_cast<std::size_t>(0 * c.Nk + j)] = j % 3 == 0 ? -inf : 0.0f;  // row 0: every third key masked
    in.bias[static_cast<std::size_t>(4 * c.Nk + j)] = -inf;                      // row 4: every key masked
  }
  const auto [gpu, want] = expect_matches_reference(c, in);
  expect_masked_row(c, gpu, 0, 0, 4);
}

TEST_F(AttentionKernel, GroupedQueryAttention) {
  for (bool causal : {false, true}) {
    Case c;
    c.B = 2, c.Hq = 8, c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = 32, c.causal = causal;
    c.seed = causal ? 601 : 600;
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, MultiQueryAttention) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{1, 257}, {65, 65}}) {
    Case c;
    c.B = 1, c.Hq = 8, c.Hkv = 1, c.Nq = nq, c.Nk = nk, c.D = 32, c.causal = true;
    c.seed = static_cast<std::uint32_t>(610 + nq);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, HeadDimsF32) {
  for (std::int64_t d : {8, 16, 32, 64, 80, 128, 256}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = d, c.causal = d == 80;
    c.seed = static_cast<std::uint32_t>(700 + d);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, HeadDimsF16) {
  for (std::int64_t d : {8, 16, 32, 64, 80, 128, 256}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = d, c.dtype = DType::f16, c.causal = d == 128;
    c.seed = static_cast<std::uint32_t>(800 + d);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, F16SizesMasksAndGqa) {
  for (std::int64_t n : {1, 7, 63, 65, 257}) {
    Case c;
    c.B = 1, c.Hq = 4, c.Hkv = 2, c.Nq = c.Nk = n, c.D = 64, c.dtype = DType::f16, c.causal = true;
    if (n == 257) c.D = 16;
    c.seed = static_cast<std::uint32_t>(900 + n);
    expect_matches_reference(c);
  }
  Case c;
  c.B = 2, c.Hq = 8, c.Hkv = 1, c.Nq = 20, c.Nk = 70, c.D = 64, c.dtype = DType::f16, c.causal = true;
  c.lengths = {70, 33};
  c.bias_b = 1, c.bias_h = 8;
  c.seed = 950;
  expect_matches_reference(c);
}

// Scores ~ +-1e4: exp(1e4) overflows (and exp(-1e4) underflows) in f32 and in double, so a
// softmax that does not subtract the row max gives Inf/NaN. Integer inputs with scale 1 keep
// every score exact in f32 (see the tolerance note at the top).
Inputs large_logit_inputs(const Case& c, float offset) {
  std::mt19937 rng(c.seed);
  std::uniform_int_distribution<int> small(-1, 1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Inputs in;
  in.q.resize(static_cast<std::size_t>(c.B * c.Hq * c.Nq * c.D));
  in.k.resize(static_cast<std::size_t>(c.B * c.Hkv * c.Nk * c.D));
  in.v.resize(in.k.size());
  for (std::size_t i = 0; i < in.q.size(); ++i)
    in.q[i] = i % static_cast<std::size_t>(c.D) == 0 ? 100.0f : static_cast<float>(small(rng));
  for (std::size_t i = 0; i < in.k.size(); ++i)
    in.k[i] = i % static_cast<std::size_t>(c.D) == 0 ? offset / 100.0f : static_cast<float>(small(rng));
  for (auto& e : in.v) e = normal(rng);
  if (c.dtype == DType::f16) in.v = ref::round_to_half(in.v);  // Q and K are exact in f16 already
  return in;
}

TEST_F(AttentionKernel, LargeLogitsDoNotOverflow) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (float offset : {1e4f, -1e4f}) {
      for (bool causal : {false, true}) {
        Case c;
        c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = 32, c.dtype = dtype, c.causal = causal;
        c.scale = 1.0f;
        c.seed = 1000;
        const Inputs in = large_logit_inputs(c, offset);
        const auto [gpu, want] = expect_matches_reference(c, in);
        expect_all_finite(c, gpu);
        EXPECT_GT(std::abs(want.lse[0]), 9000.0) << "the test must produce logits ~1e4";
      }
    }
  }
}

// The same through the split-K merge. The merged O must not depend on how the keys were cut:
// the partial states have to carry the row max exactly. (A merge that keeps only each split's
// f32 lse = m + log l loses ~|lse| 2^-24 ~ 6e-4 at |lse| ~ 1e4 in every merge weight
// exp(lse_s - max lse), i.e. ~1e-4 in O, far above the unsplit kernel's ~1e-6 here.)
TEST_F(AttentionKernel, LargeLogitsThroughSplitKMerge) {
  for (float offset : {1e4f, -1e4f}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 3, c.Nk = 257, c.D = 32, c.scale = 1.0f, c.splits = 4;
    c.seed = 1001;
    const auto [gpu, want] = expect_matches_reference(c, large_logit_inputs(c, offset));
    expect_all_finite(c, gpu);
  }
}

// ---------------------------------------------------------------------------------------------
// Split-K: the same answer with the keys cut into `splits` ranges and merged.

TEST_F(AttentionKernel, SplitKMatchesUnsplit) {
  struct SplitCase {
    std::int64_t nq, nk;
    std::uint32_t splits;
    bool causal;
    std::vector<std::int32_t> lengths;
  };
  const std::vector<SplitCase> cases{
      {1, 257, 4, false, {}},        // decode, Nk not a tile multiple
      {5, 331, 3, false, {}},        // Nk prime
      {5, 211, 3, false, {}},        // Nk prime, the last split may cover no tile
      {3, 331, 4, true, {}},         // causal, Nq < Nk
      {40, 257, 4, true, {}},        // causal prefill-ish: early rows see only the first split
      {2, 257, 4, false, {5, 257}},  // batch 0: splits past key 5 see nothing
      {1, 300, 3, false, {0, 299}},  // batch 0 fully masked in every split
  };
  for (const auto& s : cases) {
    Case c;
    c.B = s.lengths.empty() ? 1 : 2, c.Hq = 4, c.Hkv = 2, c.Nq = s.nq, c.Nk = s.nk, c.D = 32, c.causal = s.causal;
    c.lengths = s.lengths;
    c.seed = static_cast<std::uint32_t>(1100 + s.nk + s.nq);
    const Inputs in = random_inputs(c);
    c.splits = s.splits;
    const auto [split, want] = expect_matches_reference(c, in);
    c.splits = 1;
    const auto [single, want1] = expect_matches_reference(c, in);
    EXPECT_EQ(single.tiling.splits, 1u) << c.name();
    const std::uint32_t tiles = static_cast<std::uint32_t>((s.nk + split.tiling.block_kv - 1) / split.tiling.block_kv);
    if (s.splits <= tiles) EXPECT_EQ(split.tiling.splits, s.splits) << c.name() << " (forced)";
    else EXPECT_LE(split.tiling.splits, s.splits) << c.name();
    EXPECT_GE(split.tiling.splits, 1u);

    const auto q_dims = c.q_shape();
    const auto l_dims = c.lse_shape();
    const auto o_cmp = ref::compare(split.out, widen(single.out), kSplitAbs, kSplitRel, q_dims);
    const auto l_cmp = ref::compare(split.lse, widen(single.lse), kSplitAbs, kSplitRel, l_dims);
    EXPECT_TRUE(o_cmp.ok) << c.name() << ": O split " << s.splits << " vs 1: " << ref::describe(o_cmp);
    EXPECT_TRUE(l_cmp.ok) << c.name() << ": L split " << s.splits << " vs 1: " << ref::describe(l_cmp);
    if (verbose())
      std::printf("  split %u vs 1: O max|diff| %.3g  L max|diff| %.3g\n", s.splits, o_cmp.max_abs_error,
                  l_cmp.max_abs_error);
  }
}

TEST_F(AttentionKernel, SplitKF16AndDefaultChoice) {
  Case c;
  c.B = 1, c.Hq = 8, c.Hkv = 2, c.Nq = 1, c.Nk = 257, c.D = 64, c.dtype = DType::f16;
  c.seed = 1200;
  const Inputs in = random_inputs(c);
  c.splits = 4;
  expect_matches_reference(c, in);
  c.splits = std::nullopt;  // whatever optimize_tiling picks for a decode shape on this device
  expect_matches_reference(c, in);
}

// ---------------------------------------------------------------------------------------------
// NaN in one query row: that row is NaN (O and L), every other row is untouched.

TEST_F(AttentionKernel, NanInOneQueryRowStaysInThatRow) {
  struct NanCase {
    DType dtype;
    std::int64_t nq, nk;
    std::optional<std::uint32_t> splits;
    bool causal;
  };
  for (const auto& n : std::vector<NanCase>{{DType::f32, 65, 65, std::nullopt, false},
                                            {DType::f32, 65, 65, std::nullopt, true},
                                            {DType::f16, 33, 65, std::nullopt, false},
                                            {DType::f32, 3, 257, 4u, false}}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = n.nq, c.Nk = n.nk, c.D = 32, c.dtype = n.dtype, c.causal = n.causal;
    c.splits = n.splits;
    c.seed = 1300;
    Inputs in = random_inputs(c);
    const std::int64_t h = 1, i = 2, d = 3;
    in.q[static_cast<std::size_t>(((0 * c.Hq + h) * c.Nq + i) * c.D + d)] = kNaN;
    const auto [gpu, want] = expect_matches_reference(c, in);  // the reference row is NaN, the rest finite
    const auto row = static_cast<std::size_t>((0 * c.Hq + h) * c.Nq + i);
    EXPECT_TRUE(std::isnan(want.lse[row]));
    std::size_t nan_elsewhere = 0;
    for (std::size_t e = 0; e < gpu.out.size(); ++e)
      if (e / static_cast<std::size_t>(c.D) != row && std::isnan(gpu.out[e])) ++nan_elsewhere;
    EXPECT_EQ(nan_elsewhere, 0u) << c.name() << ": NaN leaked into other rows";
  }
}

// ---------------------------------------------------------------------------------------------
// What the result reports.

// The tensor-core path where the device has it (the H100 does; lavapipe does not): every mask
// kind, GQA, tile edges and split-K against the reference, and against the scalar path.
TEST_F(AttentionKernel, CooperativeMatrixPathMatchesReferenceAndScalarPath) {
  AttentionShape probe;
  probe.dtype = DType::f16;
  probe.head_dim = 64;
  if (!coopmat_supported(context()->device(), probe)) GTEST_SKIP() << "no VK_NV_cooperative_matrix on this device";
  for (std::int64_t d : {64, 128}) {
    for (auto [nq, nk] : {std::pair<std::int64_t, std::int64_t>{1, 200}, {63, 65}, {65, 63}, {130, 257}}) {
      for (bool causal : {false, true}) {
        Case c;
        c.B = 2; c.Hq = 4; c.Hkv = 2; c.Nq = nq; c.Nk = nk; c.D = d;
        c.dtype = DType::f16;
        c.causal = causal;
        c.path = KernelPath::cooperative_matrix_nv;
        const Inputs in = random_inputs(c);
        auto [tensor, want] = expect_matches_reference(c, in);
        EXPECT_EQ(tensor.tiling.path, KernelPath::cooperative_matrix_nv);
        Case scalar = c;
        scalar.path = KernelPath::scalar;
        const GpuRun plain = run(scalar, in);
        const auto same = ref::compare(tensor.out, widen(plain.out), 2 * kF16Abs, 2 * kF16Rel, c.q_shape());
        EXPECT_TRUE(same.ok) << c.name() << ": tensor cores vs scalar " << ref::describe(same);
      }
    }
    Case masked;
    masked.B = 2; masked.Hq = 2; masked.Hkv = 1; masked.Nq = 70; masked.Nk = 150; masked.D = d;
    masked.dtype = DType::f16;
    masked.lengths = {0, 101};
    masked.bias_b = 1; masked.bias_h = 2;
    masked.path = KernelPath::cooperative_matrix_nv;
    expect_matches_reference(masked);
    masked.splits = 3;
    expect_matches_reference(masked);
  }
}

TEST_F(AttentionKernel, ForcingTensorCoresWhereTheyCannotRunIsUnsupported) {
  Case c;
  c.D = 32;  // no tensor-core variant for D = 32 on any device
  c.dtype = DType::f16;
  c.path = KernelPath::cooperative_matrix_nv;
  const Inputs in = random_inputs(c);
  Tensor q = upload(context(), c.dtype, c.q_shape(), in.q);
  Tensor k = upload(context(), c.dtype, c.kv_shape(), in.k);
  AttentionOptions options;
  options.path = KernelPath::cooperative_matrix_nv;
  auto result = attention().run(q, k, k, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::unsupported);
  EXPECT_THAT(result.error().what(), HasSubstr("cooperative"));
}

TEST_F(AttentionKernel, ResultReportsFlopsAndTiling) {
  struct Shape {
    std::int64_t B, Hq, Hkv, Nq, Nk, D;
    bool causal;
    DType dtype;
  };
  for (const auto& s : std::vector<Shape>{{2, 4, 2, 33, 33, 64, true, DType::f32},
                                          {2, 4, 2, 33, 33, 64, false, DType::f32},
                                          {1, 8, 1, 1, 257, 128, true, DType::f16},
                                          {1, 2, 2, 65, 7, 32, true, DType::f32}}) {
    Case c;
    c.B = s.B, c.Hq = s.Hq, c.Hkv = s.Hkv, c.Nq = s.Nq, c.Nk = s.Nk, c.D = s.D, c.causal = s.causal, c.dtype = s.dtype;
    SCOPED_TRACE(c.name());
    const GpuRun gpu = run(c, random_inputs(c));
    double want = 4.0 * static_cast<double>(s.B * s.Hq * s.Nq * s.Nk * s.D);
    if (s.causal && s.Nq == s.Nk) want /= 2;
    EXPECT_DOUBLE_EQ(gpu.flops, want);
    AttentionShape shape;
    shape.batch = s.B, shape.q_heads = s.Hq, shape.kv_heads = s.Hkv, shape.q_len = s.Nq, shape.kv_len = s.Nk;
    shape.head_dim = s.D, shape.dtype = s.dtype, shape.causal = s.causal;
    EXPECT_DOUBLE_EQ(attention_flops(shape), want);
    const Tiling expected = optimize_tiling(context()->device(), shape);
    EXPECT_EQ(gpu.tiling.block_q, expected.block_q);
    EXPECT_EQ(gpu.tiling.block_kv, expected.block_kv);
    EXPECT_EQ(gpu.tiling.workgroup_size, expected.workgroup_size);
    EXPECT_EQ(gpu.tiling.splits, expected.splits);
    EXPECT_EQ(gpu.tiling.shared_bytes, expected.shared_bytes);
    EXPECT_FALSE(gpu.tiling.reason.empty());
    EXPECT_GE(gpu.gpu_ms, 0.0);
    // Forced splits change only the split count.
    c.splits = 2;
    const GpuRun forced = run(c, random_inputs(c));
    EXPECT_EQ(forced.tiling.block_q, expected.block_q);
    EXPECT_EQ(forced.tiling.block_kv, expected.block_kv);
    EXPECT_EQ(forced.tiling.workgroup_size, expected.workgroup_size);
    EXPECT_LE(forced.tiling.splits, 2u);
    EXPECT_GE(forced.tiling.splits, 1u);
    EXPECT_DOUBLE_EQ(forced.flops, want);
  }
}

// =============================================================================================
// Input errors: the code, and a message naming the problem.

class AttentionErrors : public AttentionKernel {
 protected:
  Tensor f32(std::vector<std::int64_t> shape) { return make(DType::f32, std::move(shape)); }
  Tensor make(DType dtype, std::vector<std::int64_t> shape) {
    return unwrap(Tensor::create(context(), dtype, std::move(shape)), "create");
  }
  Tensor i32_values(std::vector<std::int32_t> values) {
    const auto n = static_cast<std::int64_t>(values.size());
    return unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {n}, values), "lengths");
  }
};

TEST_F(AttentionErrors, HeadDimMismatchNamesBothShapes) {
  const Tensor q = f32({1, 2, 8, 64}), k = f32({1, 2, 8, 32}), v = f32({1, 2, 8, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(q.describe()));
  EXPECT_THAT(shape.error().what(), HasSubstr(k.describe()));
  // run() refuses the same way, before any dispatch.
  auto result = attention().run(q, k, v);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(result.error().what(), HasSubstr(k.describe()));
}

TEST_F(AttentionErrors, QueryHeadsNotAMultipleOfKeyValueHeads) {
  const Tensor q = f32({1, 6, 8, 32}), k = f32({1, 4, 8, 32}), v = f32({1, 4, 8, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr("6"));
  EXPECT_THAT(shape.error().what(), HasSubstr("4"));
  EXPECT_THAT(shape.error().what(), HasSubstr("head"));
}

TEST_F(AttentionErrors, UnsupportedHeadDimIsNamed) {
  for (std::int64_t d : {12, 264, 4}) {
    const Tensor q = f32({1, 1, 8, d}), k = f32({1, 1, 8, d}), v = f32({1, 1, 8, d});
    auto shape = check_inputs(q, k, v, {});
    ASSERT_FALSE(shape) << "D = " << d;
    EXPECT_THAT(shape.error().code(), AnyOf(ErrorCode::unsupported, ErrorCode::invalid_argument)) << "D = " << d;
    EXPECT_THAT(shape.error().what(), HasSubstr(std::to_string(d))) << "D = " << d;
    EXPECT_FALSE(attention().run(q, k, v)) << "D = " << d;
  }
}

TEST_F(AttentionErrors, BadKeyLengths) {
  const Tensor q = f32({2, 1, 8, 32}), k = f32({2, 1, 16, 32}), v = f32({2, 1, 16, 32});
  AttentionOptions options;
  // Wrong dtype.
  const Tensor as_f32 = unwrap(Tensor::from_values<float>(context(), DType::f32, {2}, std::vector<float>{4, 4}));
  options.key_lengths = &as_f32;
  auto shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(as_f32.describe()));
  // Wrong shapes: one too many, rank 2.
  const Tensor three = i32_values({4, 4, 4});
  options.key_lengths = &three;
  shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(three.describe()));
  const Tensor rank2 = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {2, 1}, std::vector<std::int32_t>{4, 4}));
  options.key_lengths = &rank2;
  shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  // Out of range values: > Nk, < 0.
  for (std::int32_t bad : {17, -1}) {
    const Tensor lengths = i32_values({4, bad});
    options.key_lengths = &lengths;
    shape = check_inputs(q, k, v, options);
    ASSERT_FALSE(shape) << bad;
    EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument) << bad;
    EXPECT_THAT(shape.error().what(), HasSubstr(std::to_string(bad)));
    EXPECT_FALSE(attention().run(q, k, v, options)) << bad;
  }
  // The bounds themselves are fine.
  const Tensor edge = i32_values({0, 16});
  options.key_lengths = &edge;
  EXPECT_TRUE(check_inputs(q, k, v, options).has_value());
}

TEST_F(AttentionErrors, BadBiasShapeIsNamed) {
  const Tensor q = f32({3, 2, 8, 32}), k = f32({3, 2, 16, 32}), v = f32({3, 2, 16, 32});
  AttentionOptions options;
  for (const auto& dims : std::vector<std::vector<std::int64_t>>{
           {3, 2, 8, 17}, {3, 2, 9, 16}, {2, 2, 8, 16}, {3, 3, 8, 16}, {2, 8, 16}, {1, 3, 2, 8, 16}}) {
    const Tensor bias = f32(dims);
    options.bias = &bias;
    auto shape = check_inputs(q, k, v, options);
    ASSERT_FALSE(shape) << bias.describe();
    EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument) << bias.describe();
    EXPECT_THAT(shape.error().what(), HasSubstr(bias.describe()));
  }
  const Tensor half_bias = make(DType::f16, {3, 2, 8, 16});
  options.bias = &half_bias;
  auto shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_THAT(shape.error().code(), AnyOf(ErrorCode::invalid_argument, ErrorCode::type_mismatch));
  // Every allowed broadcast passes.
  for (const auto& dims : std::vector<std::vector<std::int64_t>>{{3, 2, 8, 16}, {1, 2, 8, 16}, {3, 1, 8, 16}, {1, 1, 8, 16}}) {
    const Tensor bias = f32(dims);
    options.bias = &bias;
    EXPECT_TRUE(check_inputs(q, k, v, options).has_value()) << bias.describe();
  }
}

TEST_F(AttentionErrors, MixedDtypesAreATypeMismatch) {
  const Tensor q = make(DType::f16, {1, 2, 8, 32}), k = f32({1, 2, 8, 32}), v = f32({1, 2, 8, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::type_mismatch);
  EXPECT_THAT(shape.error().what(), HasSubstr("f16"));
  EXPECT_THAT(shape.error().what(), HasSubstr("f32"));
  auto result = attention().run(q, k, v);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::type_mismatch);
}

TEST_F(AttentionErrors, KeyValueShapeMismatchAndRank) {
  const Tensor q = f32({1, 2, 8, 32}), k = f32({1, 2, 8, 32}), v = f32({1, 2, 9, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(v.describe()));
  const Tensor q3 = f32({2, 8, 32});
  shape = check_inputs(q3, k, k, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(q3.describe()));
}

}  // namespace
}  // namespace aat::attention
