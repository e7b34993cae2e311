// Adaptive attention against the double-precision reference of attention over a block map
// (reference.hpp): with mass 1 that is exact attention; with pooled and skipped blocks it is
// the map the GPU's pattern chose (downloaded and fed to the reference), so the kernel's slot
// gathering, pooled scores (+ log n), masks and the split/merge are checked exactly.
//
// Tolerances as the attention suite's (test_attention.cpp): f32 storage abs = rel = 2e-5 for O
// and L (f32 accumulation over D <= 128 and a few hundred keys); f16 storage 1e-3 for O (the
// inputs are rounded to f16 before the reference sees them; pooled K/V are stored in f16 too,
// one more rounding of a mean: still within 1e-3 of |O| <= 4). A wrong mask, pool or merge
// gives errors of order 1e-2 and more.
#include "aat/adaptive/adaptive.hpp"
#include "aat/attention/loop_limit.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "aat/pattern/synthetic.hpp"
#include "aat/plugin.hpp"
#include "case_shape.hpp"
#include "device_test.hpp"
#include "reference.hpp"

extern "C" const aat_plugin_descriptor* aat_plugin_adaptive_entry(void);

namespace aat::adaptive {
namespace {

using aat::testing::unwrap;
using aat::testing::upload_floats;
namespace ref = reference;

// The plan kernel on every map, by the mass rule (the bound rule and the exact fallback:
// test_families.cpp, test_exact_fallback.cpp).
AdaptiveOptions plan_always() {
  AdaptiveOptions o;
  o.mode = pattern::Mode::mass;
  o.exact_below_cer = 0.0;
  return o;
}

struct Case {
  std::int64_t B = 1, Hq = 1, Hkv = 1, Nq = 128, Nk = 128, D = 32;
  DType dtype = DType::f32;
  bool causal = false;
  std::vector<std::int32_t> lengths{};
  AdaptiveOptions options = plan_always();
  std::uint32_t seed = 1;
  std::string name() const {
    std::ostringstream s;
    s << "B" << B << " Hq" << Hq << " Hkv" << Hkv << " Nq" << Nq << " Nk" << Nk << " D" << D << ' ' << to_string(dtype)
      << (causal ? " causal" : "") << " mass " << options.mass << " item_slots " << options.item_slots
      << (options.path ? " path " + std::string(attention::to_string(*options.path)) : "");
    return s.str();
  }
};

struct Inputs {
  std::vector<float> q, k, v;
};

Inputs random_inputs(const Case& c) {
  std::mt19937 rng(c.seed);
  std::normal_distribution<float> normal;
  auto fill = [&](std::int64_t n) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& e : x) e = normal(rng);
    return c.dtype == DType::f16 ? from_half(to_half(x)) : x;
  };
  return {fill(c.B * c.Hq * c.Nq * c.D), fill(c.B * c.Hkv * c.Nk * c.D), fill(c.B * c.Hkv * c.Nk * c.D)};
}


// Cases both kernels run (the scalar suite as given; TensorCorePlan in f16 on tensor cores).
Case key_lengths_case() {  // batch 1 sees no key; items split the rows
  Case c{.B = 3, .Nq = 70, .Nk = 200, .D = 64, .dtype = DType::f16, .causal = true, .lengths = {200, 0, 77}};
  c.options.mass = 1.0;
  c.options.item_slots = 100;
  return c;
}

Case early_rows_case() {  // causal, Nq > Nk: the first 90 rows see no key
  Case c{.Nq = 150, .Nk = 60, .causal = true};
  c.options.mass = 1.0;
  return c;
}

Case decode_case() {
  Case c{.Hq = 8, .Nq = 1, .Nk = 1000, .causal = true};
  c.options.mass = 1.0;
  c.options.item_slots = 256;
  return c;
}

Case pooled_ragged_case() {  // every level, a ragged last key tile: pools of fewer keys
  Case c{.Nq = 256, .Nk = 2 * 64 * 5 + 6, .causal = true};
  c.options.mass = 0.3;
  c.options.pool2_share = 0.4;
  c.options.pool4_share = 0.4;
  c.options.local_window = 0;
  return c;
}

Case pooled_lengths_case() {  // pooled blocks split across items, key lengths
  Case c{.B = 2, .Hq = 2, .Nq = 96, .Nk = 700, .D = 64, .dtype = DType::f16, .lengths = {700, 389}};
  c.options.mass = 0.2;
  c.options.item_slots = 96;
  return c;
}

struct GpuRun;
void expect_rows_without_keys(const GpuRun& gpu, std::int64_t first, std::int64_t end, std::int64_t head_dim);
void expect_every_level(const GpuRun& gpu);

struct GpuRun {
  std::vector<float> out, lse;
  std::vector<std::uint8_t> levels;
  AdaptiveResult result;
};

class AdaptiveTest : public aat::testing::SharedObjectTest<AdaptiveAttention> {
 protected:
  AdaptiveAttention& adaptive() { return shared(); }

  struct Device {
    Tensor q, k, v, lengths;
    AdaptiveOptions options;
  };
  Device upload_case(const Case& c, const Inputs& in) {
    Device d;
    d.q = upload_floats(context(), c.dtype, {c.B, c.Hq, c.Nq, c.D}, in.q);
    d.k = upload_floats(context(), c.dtype, {c.B, c.Hkv, c.Nk, c.D}, in.k);
    d.v = upload_floats(context(), c.dtype, {c.B, c.Hkv, c.Nk, c.D}, in.v);
    d.options = c.options;
    d.options.causal = c.causal;
    if (!c.lengths.empty()) d.lengths = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {c.B}, c.lengths));
    return d;
  }

  GpuRun run(const Case& c, const Inputs& in) {
    Device d = upload_case(c, in);
    if (d.lengths) d.options.key_lengths = &d.lengths;
    GpuRun r;
    r.result = unwrap(adaptive().run(d.q, d.k, d.v, d.options), c.name().c_str());
    r.out = unwrap(r.result.out.download_f32());
    r.lse = unwrap(r.result.lse.download_f32());
    r.levels = unwrap(r.result.map.levels.download_values<std::uint8_t>());
    return r;
  }

  // Runs the case and compares O and L with the reference over the map the GPU chose.
  GpuRun expect_matches_reference(const Case& c, const Inputs& in) {
    SCOPED_TRACE(c.name());
    GpuRun gpu = run(c, in);
    auto p = aat::testing::shaped_as<ref::Problem>(c);
    if (c.options.scale) p.scale = *c.options.scale;
    p.block_q = gpu.result.block_q;
    p.block_k = c.options.block_k;
    const auto want = ref::attention_over_map(p, in.q, in.k, in.v, gpu.levels);
    // The tensor-core plan kernel rounds P to f16 before P.V and sums f16 products for the
    // scores, as exact attention's tensor-core path (attention_test_support.hpp): O twice the f16
    // tolerance, L 1e-3.
    const bool tensor_cores = gpu.result.path != "scalar";
    const double tol = c.dtype == DType::f16 ? (tensor_cores ? 2e-3 : 1e-3) : 2e-5;
    std::size_t bad = 0;
    std::string first;
    auto check = [&](const char* what, const std::vector<float>& got, const std::vector<double>& w, double t) {
      EXPECT_EQ(got.size(), w.size());
      for (std::size_t i = 0; i < std::min(got.size(), w.size()); ++i) {
        const bool ok = std::isnan(w[i])   ? std::isnan(got[i])
                        : std::isinf(w[i]) ? got[i] == w[i]
                                           : std::abs(got[i] - w[i]) <= t * (1 + std::abs(w[i]));
        if (!ok && bad++ == 0) first = std::string(what) + "[" + std::to_string(i) + "] got " + std::to_string(got[i]) +
                                       " want " + std::to_string(w[i]);
      }
    };
    check("O", gpu.out, want.out, tol);
    check("L", gpu.lse, want.lse, tensor_cores ? 1e-3 : 2e-5);
    EXPECT_EQ(bad, 0u) << first;
    return gpu;
  }

};

// Rows [first, end) of the flattened [B H Nq] saw no key: O = 0, L = -inf.
void expect_rows_without_keys(const GpuRun& gpu, std::int64_t first, std::int64_t end, std::int64_t head_dim) {
  for (std::int64_t row = first; row < end; ++row) {
    ASSERT_EQ(gpu.lse[static_cast<std::size_t>(row)], -std::numeric_limits<float>::infinity()) << row;
    for (std::int64_t d = 0; d < head_dim; ++d) ASSERT_EQ(gpu.out[static_cast<std::size_t>(row * head_dim + d)], 0.0f);
  }
}

// The map ran blocks at every level (full, x2, x4, skipped).
void expect_every_level(const GpuRun& gpu) {
  int counts[5] = {};
  for (auto l : gpu.levels) ++counts[l];
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[2], 0);
  EXPECT_GT(counts[3], 0);
}

// =============================================================================================
// Every block full: exact attention.

TEST_F(AdaptiveTest, DensePlanIsExactAttention) {
  Case c{.Nq = 100, .Nk = 300};
  c.options.mass = 1.0;
  const Inputs in = random_inputs(c);
  const GpuRun gpu = expect_matches_reference(c, in);
  for (auto l : gpu.levels) EXPECT_TRUE(l == 0 || l == 4);
  EXPECT_NEAR(gpu.result.cer(), 1.0, 0.08);  // the pattern costs about 3.5/Bc of dense
  // And it agrees with the exact kernel of the attention plugin.
  Device d = upload_case(c, in);
  auto exact = unwrap(adaptive().exact().run(d.q, d.k, d.v, {}));
  const auto want = unwrap(exact.out.download_f32());
  EXPECT_GT(information_flow_quality(gpu.out, want), 1.0 - 1e-5);
}

TEST_F(AdaptiveTest, DensePlanIsExactCausalGqaSplitIntoItems) {
  Case c{.B = 2, .Hq = 4, .Hkv = 2, .Nq = 333, .Nk = 333, .causal = true};
  c.options.mass = 1.0;
  c.options.item_slots = 64;  // split every query tile into 64-key items: partial states + merge
  const GpuRun gpu = expect_matches_reference(c, random_inputs(c));
  EXPECT_GT(gpu.result.items, 2 * 4 * 11);
}

TEST_F(AdaptiveTest, DensePlanIsExactF16WithKeyLengths) {
  const Case c = key_lengths_case();
  expect_rows_without_keys(expect_matches_reference(c, random_inputs(c)), 70, 140, c.D);  // batch 1
}

TEST_F(AdaptiveTest, DensePlanIsExactForDecode) {
  const Case c = decode_case();
  expect_matches_reference(c, random_inputs(c));
}

// 4096 keys per query row: one workgroup per query tile would run past llvmpipe's loop limit
// (adaptive::max_item_slots); the default items stay under it.
TEST_F(AdaptiveTest, LongKeyRowsStayExactWithDefaultItems) {
  Case c{.Nq = 64, .Nk = 4096, .D = 64};
  c.options.mass = 1.0;
  const GpuRun gpu = expect_matches_reference(c, random_inputs(c));
  EXPECT_GE(gpu.result.items, 2 * (context()->device().type == DeviceType::cpu ? 4 : 1));
}

// D = 128 has twice the loop iterations per key as D = 64: the cap follows the tiling.
TEST_F(AdaptiveTest, LongKeyRowsStayExactAtHeadDim128) {
  Case c{.Nq = 32, .Nk = 3000, .D = 128};
  c.options.mass = 1.0;
  expect_matches_reference(c, random_inputs(c));
}

TEST_F(AdaptiveTest, TooManyItemSlotsAreRefusedOnCpuDevices) {
  if (!attention::has_loop_iteration_limit(context()->device())) GTEST_SKIP() << "not a CPU device";
  Case c{.Nq = 32, .Nk = 8192};
  c.options.mass = 1.0;
  c.options.item_slots = 8192;
  Device d = upload_case(c, random_inputs(c));
  auto result = adaptive().run(d.q, d.k, d.v, d.options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::unsupported);
  EXPECT_THAT(result.error().what(), ::testing::HasSubstr("65535 loop iterations"));
}

TEST_F(AdaptiveTest, CausalWithMoreQueriesThanKeysMasksEarlyRows) {
  const Case c = early_rows_case();
  expect_rows_without_keys(expect_matches_reference(c, random_inputs(c)), 0, 90, c.D);
}

// =============================================================================================
// Pooled and skipped blocks: the kernel runs exactly the plan.

TEST_F(AdaptiveTest, RunsPooledAndSkippedBlocksAsPlanned) {
  const Case c = pooled_ragged_case();
  const GpuRun gpu = expect_matches_reference(c, random_inputs(c));
  expect_every_level(gpu);
  EXPECT_LT(gpu.result.cost.attention_flops, gpu.result.cost.dense_flops);
}

TEST_F(AdaptiveTest, RunsPooledBlocksSplitAcrossItemsWithLengthsF16) {
  const Case c = pooled_lengths_case();
  expect_matches_reference(c, random_inputs(c));
}

TEST_F(AdaptiveTest, PropagatesNaNLikeExactAttention) {
  Case c{.Nq = 64, .Nk = 256};
  c.options.mass = 1.0;
  Inputs in = random_inputs(c);
  in.q[static_cast<std::size_t>(5 * c.D)] = std::numeric_limits<float>::quiet_NaN();  // row 5: NaN scores
  const GpuRun gpu = expect_matches_reference(c, in);
  EXPECT_TRUE(std::isnan(gpu.out[static_cast<std::size_t>(5 * c.D)]));
  EXPECT_FALSE(std::isnan(gpu.out[static_cast<std::size_t>(6 * c.D)]));
}

// =============================================================================================
// The plan on tensor cores (adaptive_cm2.comp): the same cases, f16, forced onto that kernel
// where the device runs it (NVIDIA with VK_NV_cooperative_matrix2); skipped elsewhere.

class TensorCorePlan : public AdaptiveTest {
 protected:
  // The case on the tensor-core kernel, or a skip reason when this device cannot run it.
  std::string tensor_core_case(Case& c) {
    c.dtype = DType::f16;
    c.options.path = attention::KernelPath::cooperative_matrix2;
    return tensor_core_refusal(context()->device(), aat::testing::shaped_as<attention::AttentionShape>(c), c.options);
  }
};

#define AAT_TENSOR_CORE_CASE(c)                                     \
  if (const std::string why = tensor_core_case(c); !why.empty()) { \
    GTEST_SKIP() << why;                                            \
  }

TEST_F(TensorCorePlan, DenseRaggedTilesAndHeadDims) {
  for (const std::int64_t d : {32, 64, 80, 128})
    for (const bool causal : {false, true}) {
      Case c{.Nq = 200, .Nk = 233, .D = d, .causal = causal};
      c.options.mass = 1.0;
      AAT_TENSOR_CORE_CASE(c);
      const GpuRun gpu = expect_matches_reference(c, random_inputs(c));
      EXPECT_EQ(gpu.result.path, "cooperative_matrix2");
      EXPECT_EQ(gpu.result.block_q, 64u);
    }
}

TEST_F(TensorCorePlan, DenseCausalGqaSplitIntoItems) {
  Case c{.B = 2, .Hq = 4, .Hkv = 2, .Nq = 300, .Nk = 300, .D = 128, .causal = true};
  c.options.mass = 1.0;
  c.options.item_slots = 64;  // every item one block: partial states and the merge
  AAT_TENSOR_CORE_CASE(c);
  const GpuRun gpu = expect_matches_reference(c, random_inputs(c));
  EXPECT_GT(gpu.result.items, 2 * 4 * 5);
}

TEST_F(TensorCorePlan, KeyLengthsMoreQueriesThanKeysAndDecode) {
  Case lengths = key_lengths_case();
  AAT_TENSOR_CORE_CASE(lengths);
  expect_rows_without_keys(expect_matches_reference(lengths, random_inputs(lengths)), 70, 140, lengths.D);
  Case early = early_rows_case();
  early.D = 64;
  AAT_TENSOR_CORE_CASE(early);
  expect_rows_without_keys(expect_matches_reference(early, random_inputs(early)), 0, 90, early.D);
  Case decode = decode_case();
  decode.D = 64;
  AAT_TENSOR_CORE_CASE(decode);
  expect_matches_reference(decode, random_inputs(decode));
}

TEST_F(TensorCorePlan, PooledAndSkippedBlocksWithARaggedLastTile) {
  Case c = pooled_ragged_case();
  c.Nk += 1;  // the last tile: 7 keys, pools of 2 + 1 and 4 + 3
  c.D = 64;
  AAT_TENSOR_CORE_CASE(c);
  expect_every_level(expect_matches_reference(c, random_inputs(c)));
}

TEST_F(TensorCorePlan, PooledBlocksSplitAcrossItemsWithLengths) {
  Case c = pooled_lengths_case();
  c.D = 96;
  AAT_TENSOR_CORE_CASE(c);
  expect_matches_reference(c, random_inputs(c));
}

TEST_F(TensorCorePlan, LargeScoresAndNaN) {
  Case c{.Nq = 64, .Nk = 256, .D = 64};
  c.options.mass = 0.5;
  AAT_TENSOR_CORE_CASE(c);
  Inputs in = random_inputs(c);
  for (auto& x : in.q) x = from_half(to_half(std::vector<float>{x * 16.0f}))[0];  // scores up to ~1e3: softmax overflow without the max
  in.q[static_cast<std::size_t>(5 * c.D)] = std::numeric_limits<float>::quiet_NaN();  // row 5: NaN scores
  const GpuRun gpu = expect_matches_reference(c, in);
  EXPECT_TRUE(std::isnan(gpu.out[static_cast<std::size_t>(5 * c.D)]));
  EXPECT_FALSE(std::isnan(gpu.out[static_cast<std::size_t>(6 * c.D)]));
}

// Where the device runs it, f16 problems take the tensor-core kernel without being asked;
// forcing it elsewhere (or on f32) is refused with the reason.
TEST_F(TensorCorePlan, ChosenByDefaultOrRefusedWithTheReason) {
  Case c{.Nq = 128, .Nk = 128, .D = 64};
  c.options.mass = 1.0;
  const std::string why = tensor_core_case(c);
  Device d = upload_case(c, random_inputs(c));
  auto forced = adaptive().run(d.q, d.k, d.v, d.options);
  d.options.path.reset();
  const AdaptiveResult chosen = unwrap(adaptive().run(d.q, d.k, d.v, d.options));
  if (why.empty()) {
    EXPECT_TRUE(forced.has_value());
    EXPECT_EQ(chosen.path, "cooperative_matrix2");
  } else {
    ASSERT_FALSE(forced);
    EXPECT_EQ(forced.error().code(), ErrorCode::unsupported);
    EXPECT_THAT(forced.error().what(), ::testing::HasSubstr("tensor cores (cooperative_matrix2): " + why));
    EXPECT_EQ(chosen.path, "scalar");
  }
  c.dtype = DType::f32;
  Device f32 = upload_case(c, random_inputs(c));
  auto refused = adaptive().run(f32.q, f32.k, f32.v, f32.options);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().what(), ::testing::HasSubstr("cooperative_matrix2"));
  f32.options.path = attention::KernelPath::decode;
  auto wrong = adaptive().run(f32.q, f32.k, f32.v, f32.options);
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().what(), ::testing::HasSubstr("not 'decode'"));
}

// =============================================================================================
// Quality on the two kinds of input.

TEST_F(AdaptiveTest, StructuredInputsKeepQualityAtAFractionOfTheCost) {
  pattern::StructuredSpec spec;
  spec.length = 1024;
  spec.seed = 3;
  const auto in = pattern::structured_inputs(spec);
  Case c{.Nq = 1024, .Nk = 1024, .D = 64, .causal = true};
  Device d = upload_case(c, Inputs{in.q, in.k, in.v});
  const AdaptiveResult r = unwrap(adaptive().run(d.q, d.k, d.v, d.options));
  const Report report = unwrap(adaptive().report(d.q, d.k, d.v, d.options, r));
  std::printf("  structured N=1024 causal mass %.3g: IFQ %.5f CER %.2f AE %.2f (full %.2f pool2 %.2f pool4 %.2f skip %.2f)\n",
              d.options.mass, report.ifq, report.cer, report.ae, report.levels.share(pattern::BlockLevel::full),
              report.levels.share(pattern::BlockLevel::pool2), report.levels.share(pattern::BlockLevel::pool4),
              report.levels.share(pattern::BlockLevel::skip));
  EXPECT_GE(report.ifq, 0.99);
  EXPECT_GE(report.cer, 2.0);
  EXPECT_GT(report.ae, 0.0);
  const auto j = nlohmann::json::parse(report.to_json());
  for (const char* key : {"ifq", "cer", "ae", "levels"}) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_TRUE(j["levels"].contains("pool4"));
}

TEST_F(AdaptiveTest, GaussianInputsKeepNearlyEverything) {
  const auto in = pattern::gaussian_inputs(1, 1, 1024, 64, 4);
  Case c{.Nq = 1024, .Nk = 1024, .D = 64, .causal = true};
  Device d = upload_case(c, Inputs{in.q, in.k, in.v});
  const AdaptiveResult r = unwrap(adaptive().run(d.q, d.k, d.v, d.options));
  const Report report = unwrap(adaptive().report(d.q, d.k, d.v, d.options, r));
  std::printf("  gaussian N=1024 causal mass %.3g: IFQ %.5f CER %.2f AE %.2f\n", d.options.mass, report.ifq, report.cer,
              report.ae);
  EXPECT_GE(report.ifq, 0.99);
  EXPECT_LT(report.cer, 1.5);
}

TEST(InformationFlowQuality, IsOneMinusTheRelativeError) {
  const std::vector<float> exact{3, 4}, same{3, 4}, off{3, 5}, zero{0, 0};
  EXPECT_DOUBLE_EQ(information_flow_quality(same, exact), 1.0);
  EXPECT_DOUBLE_EQ(information_flow_quality(off, exact), 0.8);  // |(0, 1)| / |(3, 4)| = 0.2
  EXPECT_DOUBLE_EQ(information_flow_quality(zero, zero), 1.0);
  EXPECT_TRUE(std::isnan(information_flow_quality(std::vector<float>{NAN, 0}, exact)));
}

TEST(AdaptivePlugin, LinksStaticallyWithItsKernelsAndCommand) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_adaptive_entry()).has_value());
  const Plugin* plugin = registry.find("adaptive");
  ASSERT_NE(plugin, nullptr);
  EXPECT_NE(plugin->find_kernel("adaptive_f32"), nullptr);
  EXPECT_NE(plugin->find_kernel("adaptive_f16"), nullptr);
  EXPECT_NE(registry.find_command("adaptive-attention"), nullptr);
}

}  // namespace
}  // namespace aat::adaptive
