// No harm without structure: where the map saves too little (predicted CER below
// exact_below_cer), adaptive attention runs exact attention (aat::attention, the device's
// fastest path) and says so; and with every block full the plan kernel itself equals exact
// attention. Exact attention here is aat::attention's default path on the same device.
//
// Tolerances: the fallback is the same computation as exact attention: bit-identical. The dense
// plan against exact attention: IFQ >= 1 - 1e-5 in f32 (online softmax over other tile orders;
// f32 rounding), 1 - 1e-3 in f16 (f16 output rounding, 2^-11 relative).
#include <cstring>

#include "aat/adaptive/adaptive.hpp"
#include "aat/pattern/synthetic.hpp"
#include "device_test.hpp"
#include "family_tensors.hpp"

namespace aat::adaptive {
namespace {

using aat::testing::unwrap;
using aat::testing::upload_floats;


class ExactFallback : public aat::testing::SharedObjectTest<AdaptiveAttention> {
 protected:
  AdaptiveAttention& adaptive() { return shared(); }
  std::vector<float> exact(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
    attention::AttentionOptions o;
    o.causal = causal;
    return unwrap(unwrap(adaptive().exact().run(q, k, v, o)).out.download_f32());
  }
};

TEST_F(ExactFallback, GaussianInputsRunExactAttentionAndSaySo) {
  const auto [q, k, v] = test_support::upload_family(context(), families::Family::gaussian, 2, 1024, 64, 7, DType::f32);
  AdaptiveOptions o;
  o.causal = true;
  const AdaptiveResult r = unwrap(adaptive().run(q, k, v, o));
  EXPECT_TRUE(r.exact);
  EXPECT_FALSE(r.exact_path.empty());
  EXPECT_LT(r.planned_cer(), o.exact_below_cer);
  EXPECT_LT(r.cer(), 1.0);  // exact attention plus the pattern
  EXPECT_EQ(r.items, 0);
  const auto got = unwrap(r.out.download_f32());
  const auto want = exact(q, k, v, true);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << "not exact attention's output";
  EXPECT_GE(information_flow_quality(got, want), 0.999);
  const Report report = unwrap(adaptive().report(q, k, v, o, r));
  EXPECT_TRUE(report.exact);
  EXPECT_EQ(report.ifq, 1.0);
  EXPECT_NE(report.to_json().find("\"exact\":true"), std::string::npos);
}

TEST_F(ExactFallback, StructuredInputsRunThePlan) {
  pattern::StructuredSpec spec;
  spec.length = 2048;
  spec.seed = 5;
  const auto in = pattern::structured_inputs(spec);
  const std::vector<std::int64_t> shape{1, 1, 2048, 64};
  const Tensor q = upload_floats(context(), DType::f16, shape, in.q), k = upload_floats(context(), DType::f16, shape, in.k),
               v = upload_floats(context(), DType::f16, shape, in.v);
  AdaptiveOptions o;
  o.causal = true;
  const AdaptiveResult r = unwrap(adaptive().run(q, k, v, o));
  EXPECT_FALSE(r.exact);
  EXPECT_GT(r.items, 0);
  EXPECT_GE(r.cer(), 2.0);
  EXPECT_GE(information_flow_quality(unwrap(r.out.download_f32()), exact(q, k, v, true)), 0.99);
}

TEST_F(ExactFallback, EpsilonZeroIsExactAttention) {
  const auto [q, k, v] = test_support::upload_family(context(), families::Family::sinks_window, 1, 700, 32, 3, DType::f32);
  AdaptiveOptions o;
  o.epsilon = 0.0;
  const AdaptiveResult r = unwrap(adaptive().run(q, k, v, o));
  EXPECT_TRUE(r.exact);
  o.mode = pattern::Mode::mass;
  o.mass = 1.0;
  EXPECT_TRUE(unwrap(adaptive().run(q, k, v, o)).exact);
}

// Exact attention and adaptive attention with every block full (the plan kernel, no fallback)
// stay equal: f32 and f16, causal and not, both rules.
TEST_F(ExactFallback, EveryBlockFullEqualsExactAttention) {
  for (const DType dtype : {DType::f32, DType::f16})
    for (const bool causal : {false, true}) {
      SCOPED_TRACE(::testing::Message() << to_string(dtype) << (causal ? " causal" : ""));
      const auto [q, k, v] = test_support::upload_family(context(), families::Family::rotary, 2, 600, 64, 11, dtype);
      const auto want = exact(q, k, v, causal);
      AdaptiveOptions o;
      o.causal = causal;
      o.exact_below_cer = 0.0;
      o.epsilon = 0.0;
      const AdaptiveResult bound = unwrap(adaptive().run(q, k, v, o));
      EXPECT_FALSE(bound.exact);
      EXPECT_EQ(bound.cost.levels.blocks[1] + bound.cost.levels.blocks[2] + bound.cost.levels.blocks[3], 0);
      const double tolerance = dtype == DType::f16 ? 1e-3 : 1e-5;
      EXPECT_GE(information_flow_quality(unwrap(bound.out.download_f32()), want), 1.0 - tolerance);
      o.mode = pattern::Mode::mass;
      o.mass = 1.0;
      const AdaptiveResult mass = unwrap(adaptive().run(q, k, v, o));
      EXPECT_FALSE(mass.exact);
      EXPECT_GE(information_flow_quality(unwrap(mass.out.download_f32()), want), 1.0 - tolerance);
    }
}

TEST_F(ExactFallback, RejectsANegativeThreshold) {
  const Tensor q = unwrap(Tensor::create(context(), DType::f32, {1, 1, 64, 32}));
  AdaptiveOptions o;
  o.exact_below_cer = -1.0;
  auto r = adaptive().run(q, q, q, o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("exact_below_cer = -1"));
}

}  // namespace
}  // namespace aat::adaptive
