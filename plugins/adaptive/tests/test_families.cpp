// Adaptive attention with its default settings on input families it was not designed on
// (families.hpp), f32 and f16, against exact attention on the same device:
// IFQ = 1 - ||O - O_exact|| / ||O_exact|| >= 0.99 on every family (issue 15). Where the
// defaults ran exact attention (nothing worth skipping), the bound rule's plan is run too
// (exact_below_cer = 0) and must hold the same IFQ, so the rule is tested on every family.
// Each case prints IFQ, CER and the level shares (docs/adaptive.md, "Input families").
//
// O_exact is aat::attention's output (its default path). Where the defaults ran exact attention
// their output is that same computation (the test checks it is bit-identical to a second run on
// one small case, test_exact_fallback.cpp) and serves as O_exact, which saves a run of exact
// attention at N = 8192 (about 25 s on lavapipe).
#include <cstdio>
#include <string>

#include "aat/adaptive/adaptive.hpp"
#include "device_test.hpp"
#include "family_tensors.hpp"

namespace aat::adaptive {
namespace {

using aat::testing::unwrap;
using families::Family;

constexpr double kRequiredIfq = 0.99;

struct FamilyCase {
  Family family;
  std::int64_t length;
  DType dtype;
  std::int64_t heads = 1;
  std::uint32_t seed = 1;
};

std::string name(const FamilyCase& c) {
  return std::string(families::to_string(c.family)) + " N=" + std::to_string(c.length) + " H=" +
         std::to_string(c.heads) + " " + std::string(to_string(c.dtype));
}


const char* levels_text(const AdaptiveResult& r, char* buffer, std::size_t size) {
  const auto& l = r.cost.levels;
  std::snprintf(buffer, size, "full %.2f pool2 %.2f pool4 %.2f skip %.2f", l.share(pattern::BlockLevel::full),
                l.share(pattern::BlockLevel::pool2), l.share(pattern::BlockLevel::pool4), l.share(pattern::BlockLevel::skip));
  return buffer;
}

class Families : public aat::testing::SharedObjectTest<AdaptiveAttention>, public ::testing::WithParamInterface<FamilyCase> {
 protected:
  AdaptiveAttention& adaptive() { return shared(); }
};

TEST_P(Families, DefaultsKeepIfqAboveRequirement) {
  const FamilyCase c = GetParam();
  SCOPED_TRACE(name(c));
  const auto [q, k, v] = test_support::upload_family(context(), c.family, c.heads, c.length, 64, c.seed, c.dtype);
  AdaptiveOptions defaults;
  defaults.causal = true;
  const AdaptiveResult result = unwrap(adaptive().run(q, k, v, defaults), "adaptive (defaults)");
  const auto got = unwrap(result.out.download_f32());
  std::vector<float> exact;
  if (result.exact) {
    exact = got;
  } else {
    attention::AttentionOptions o;
    o.causal = true;
    exact = unwrap(unwrap(adaptive().exact().run(q, k, v, o)).out.download_f32());
  }
  const double ifq = information_flow_quality(got, exact);
  char levels[128];
  std::printf("  %-28s defaults: %s IFQ %.5f CER %.2f (planned %.2f) %s\n", name(c).c_str(),
              result.exact ? "exact attention," : "plan,", ifq, result.cer(), result.planned_cer(),
              levels_text(result, levels, sizeof levels));
  EXPECT_GE(ifq, kRequiredIfq);
  if (!result.exact) return;
  // The bound rule's plan on the same input, run although the defaults chose exact attention.
  AdaptiveOptions plan = defaults;
  plan.exact_below_cer = 0.0;
  const AdaptiveResult planned = unwrap(adaptive().run(q, k, v, plan), "adaptive (plan)");
  EXPECT_FALSE(planned.exact);
  const double plan_ifq = information_flow_quality(unwrap(planned.out.download_f32()), exact);
  std::printf("  %-28s plan:     IFQ %.5f CER %.2f %s\n", name(c).c_str(), plan_ifq, planned.cer(),
              levels_text(planned, levels, sizeof levels));
  EXPECT_GE(plan_ifq, kRequiredIfq);
}

INSTANTIATE_TEST_SUITE_P(
    Lavapipe, Families,
    ::testing::Values(FamilyCase{Family::rotary, 8192, DType::f16}, FamilyCase{Family::rotary, 2048, DType::f32, 2},
                      FamilyCase{Family::sinks_window, 4096, DType::f32}, FamilyCase{Family::sinks_window, 2048, DType::f16},
                      FamilyCase{Family::needles, 8192, DType::f32}, FamilyCase{Family::needles, 4096, DType::f16},
                      FamilyCase{Family::documents, 4096, DType::f16}, FamilyCase{Family::documents, 2048, DType::f32, 2},
                      FamilyCase{Family::gaussian, 2048, DType::f32, 2}, FamilyCase{Family::gaussian, 1024, DType::f16}),
    [](const ::testing::TestParamInfo<FamilyCase>& param) {
      return std::string(families::to_string(param.param.family)) + "_" + std::to_string(param.param.length) + "_h" +
             std::to_string(param.param.heads) + "_" + std::string(to_string(param.param.dtype));
    });

}  // namespace
}  // namespace aat::adaptive
