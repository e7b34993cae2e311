// Shared by the attention kernel suites: the problem description (Case), seeded inputs, the
// double-precision reference for a Case, the device fixture (AttentionKernel) with its
// reference comparison, and the checks for masked and finite rows.
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
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aat/attention/attention.hpp"
#include "aat/kernel_family.hpp"
#include "aat/dtype.hpp"
#include "case_shape.hpp"
#include "device_test.hpp"
#include "reference.hpp"

namespace aat::attention::test {


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

inline bool verbose() {
  const char* v = std::getenv("AAT_ATTENTION_VERBOSE");
  return v && *v && std::string(v) != "0";
}

inline std::vector<double> widen(const std::vector<float>& values) { return {values.begin(), values.end()}; }

// ---------------------------------------------------------------------------------------------
// The problem description shared by the reference and the GPU run.

struct Case {
  std::int64_t B = 1, Hq = 1, Hkv = 1, Nq = 1, Nk = 1, D = 64;
  DType dtype = DType::f32;
  bool causal = false;
  std::vector<std::int32_t> lengths{};  // empty: none
  std::int64_t bias_b = 0, bias_h = 0;  // bias dims [bias_b, bias_h, Nq, Nk]; 0: no bias
  std::optional<std::uint32_t> splits{};
  std::optional<float> scale{};
  std::optional<KernelPath> path{};
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
inline Inputs random_inputs(const Case& c) {
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

inline ref::Result reference_for(const Case& c, const Inputs& in) {
  auto p = aat::testing::shaped_as<ref::Problem>(c);
  if (c.scale) p.scale = static_cast<double>(*c.scale);
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

inline Tensor upload(const std::shared_ptr<Context>& context, DType dtype, std::vector<std::int64_t> shape,
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

// AAT_ATTENTION_PATH=<path name> runs every case that path can take on it (the rest on the
// default path): how the whole suite is run once per kernel path on a GPU (docs/performance.md).
// AAT_ATTENTION_VARIANT=<n> runs the coopmat2 cases on that kernel variant (Tiling::variant).
inline AttentionShape shape_of(const Case& c) { return aat::testing::shaped_as<AttentionShape>(c); }

inline std::optional<KernelPath> forced_path(const DeviceInfo& device, const Case& c) {
  const char* name = std::getenv("AAT_ATTENTION_PATH");
  if (!name || !*name) return std::nullopt;
  const auto path = parse_kernel_path(name);
  if (!path) throw std::runtime_error(std::string("AAT_ATTENTION_PATH: unknown kernel path '") + name + "'");
  if (!path_supported(device, shape_of(c), *path)) return std::nullopt;
  return path;
}

// ---------------------------------------------------------------------------------------------
// The device fixture: one Attention for the whole suite (pipelines are built once per config).

class AttentionKernel : public aat::testing::SharedObjectTest<Attention> {
 protected:
  Attention& attention() { return shared(); }

  // A case's inputs on the device; options() points at the masks held here.
  struct DeviceInputs {
    Tensor q, k, v, lengths, bias;
    AttentionOptions plain;  // without the mask pointers
    AttentionOptions options() const {
      AttentionOptions o = plain;
      if (lengths) o.key_lengths = &lengths;
      if (bias) o.bias = &bias;
      return o;
    }
  };

  // `extra` carries what a Case does not describe (a tiling override).
  DeviceInputs to_device(const Case& c, const Inputs& in, const AttentionOptions& extra = {}) {
    const auto ctx = context();
    DeviceInputs d;
    d.q = upload(ctx, c.dtype, c.q_shape(), in.q);
    d.k = upload(ctx, c.dtype, c.kv_shape(), in.k);
    d.v = upload(ctx, c.dtype, c.kv_shape(), in.v);
    d.plain = extra;
    d.plain.causal = c.causal;
    d.plain.scale = c.scale;
    d.plain.splits = c.splits;
    d.plain.path = c.path ? c.path : forced_path(ctx->device(), c);
    if (const char* variant = std::getenv("AAT_ATTENTION_VARIANT"); variant && *variant) {
      const KernelPath path = d.plain.path ? *d.plain.path : optimize_tiling(ctx->device(), shape_of(c)).path;
      if (path == KernelPath::cooperative_matrix2 && !d.plain.tiling.variant)
        d.plain.tiling.variant = static_cast<std::uint32_t>(std::stoul(variant));
    }
    if (!c.lengths.empty())
      d.lengths = unwrap(Tensor::from_values<std::int32_t>(ctx, DType::i32, {c.B}, c.lengths), "key lengths");
    if (c.has_bias())
      d.bias = unwrap(Tensor::from_values<float>(ctx, DType::f32, {c.bias_b, c.bias_h, c.Nq, c.Nk}, in.bias), "bias");
    return d;
  }

  GpuRun run(const Case& c, const Inputs& in, const AttentionOptions& extra = {}) {
    const DeviceInputs d = to_device(c, in, extra);
    AttentionResult result = unwrap(attention().run(d.q, d.k, d.v, d.options()), c.name().c_str());
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
  std::pair<GpuRun, ref::Result> expect_matches_reference(const Case& c, const Inputs& in,
                                                          const AttentionOptions& extra = {}) {
    SCOPED_TRACE(c.name());
    GpuRun gpu = run(c, in, extra);
    ref::Result want = reference_for(c, in);
    // The tensor-core path rounds P = exp(s - m) to f16 before P.V (as FlashAttention does on
    // tensor cores): each weight carries up to 2^-11 relative error on top of the f16 storage
    // rounding, so its O tolerance is twice the f16 one. L is accumulated in f32 from f32
    // scores, but its scores come from f16 products summed by the tensor cores: 1e-3 abs.
    const bool tensor_cores = gpu.tiling.path != KernelPath::scalar;
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

  // What every tensor-core path is checked on, f16 with head dim `d`: sizes off the tile grid
  // (`sizes`: Nq, Nk pairs), GQA, causal or not, each against the reference and against the
  // scalar path; then key lengths (one of them 0) with a bias broadcast over the batch, causal,
  // and split three ways. `extra` adds options (a kernel variant).
  void expect_path_matches(KernelPath path, std::int64_t d, const AttentionOptions& extra = {},
                           const std::vector<std::pair<std::int64_t, std::int64_t>>& sizes =
                               {{1, 200}, {63, 65}, {65, 63}, {130, 257}, {128, 128}}) {
    for (auto [nq, nk] : sizes) {
      for (bool causal : {false, true}) {
        Case c{.B = 2, .Hq = 4, .Hkv = 2, .Nq = nq, .Nk = nk, .D = d, .dtype = DType::f16, .causal = causal,
            .path = path, .seed = static_cast<std::uint32_t>(d * 1000 + nq + nk + causal)};
        const Inputs in = random_inputs(c);
        auto [tensor, want] = expect_matches_reference(c, in, extra);
        EXPECT_EQ(tensor.tiling.path, path) << c.name();
        Case scalar = c;
        scalar.path = KernelPath::scalar;
        const GpuRun plain = run(scalar, in);
        const auto same = ref::compare(tensor.out, widen(plain.out), 2 * kF16Abs, 2 * kF16Rel, c.q_shape());
        EXPECT_TRUE(same.ok) << c.name() << ": " << to_string(path) << " vs scalar " << ref::describe(same);
      }
    }
    Case masked;
    masked.B = 2, masked.Hq = 2, masked.Hkv = 1, masked.Nq = 70, masked.Nk = 150, masked.D = d;
    masked.dtype = DType::f16;
    masked.lengths = {0, 101};
    masked.bias_b = 1, masked.bias_h = 2;
    masked.path = path;
    expect_matches_reference(masked, random_inputs(masked), extra);
    masked.causal = true;
    expect_matches_reference(masked, random_inputs(masked), extra);
    masked.splits = 3;
    expect_matches_reference(masked, random_inputs(masked), extra);
  }

  // Forcing c.path where it cannot run is an `unsupported` error whose message has `needle`.
  void expect_forced_path_unsupported(const Case& c, std::string_view needle) {
    const Inputs in = random_inputs(c);
    Tensor q = upload(context(), c.dtype, c.q_shape(), in.q);
    Tensor k = upload(context(), c.dtype, c.kv_shape(), in.k);
    AttentionOptions options;
    options.path = c.path;
    auto result = attention().run(q, k, k, options);
    ASSERT_FALSE(result) << c.name();
    EXPECT_EQ(result.error().code(), ErrorCode::unsupported);
    EXPECT_THAT(result.error().what(), HasSubstr(std::string(needle)));
  }

};

// Every element of rows [b, h, i] of the GPU output with no visible key: O exactly 0, L = -inf.
inline void expect_masked_row(const Case& c, const GpuRun& gpu, std::int64_t b, std::int64_t h, std::int64_t i) {
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

inline void expect_all_finite(const Case& c, const GpuRun& gpu) {
  std::size_t bad = 0;
  for (float x : gpu.out) bad += std::isfinite(x) ? 0 : 1;
  EXPECT_EQ(bad, 0u) << c.name() << ": " << bad << " non-finite output element(s)";
  bad = 0;
  for (float x : gpu.lse) bad += std::isfinite(x) ? 0 : 1;
  EXPECT_EQ(bad, 0u) << c.name() << ": " << bad << " non-finite L element(s)";
}

}  // namespace aat::attention::test
