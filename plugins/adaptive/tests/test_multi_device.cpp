// Adaptive attention on several devices (multi_device.hpp): the test device opened two or
// three times must give the single-device output, with pooled and skipped blocks in the map
// (structured inputs; the mass rule at its default mass, and the bound rule; the plan always run,
// exact_below_cer = 0), so a device that kept other blocks than the whole
// problem's map would show errors of order 1e-2. Tolerance 1e-5 + 1e-5 |x| (f32): the same
// blocks, summed in another order where the router cuts a row's work into other items.
#include "aat/adaptive/multi_device.hpp"

#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "aat/pattern/synthetic.hpp"
#include "device_test.hpp"

namespace aat::adaptive {
namespace {

using aat::testing::unwrap;

HostArray array_of(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  HostArray a = attention::zeros(DType::f32, std::move(shape));
  std::memcpy(a.data.data(), values.data(), values.size() * sizeof(float));
  return a;
}

std::vector<float> floats(const HostArray& a) {
  std::vector<float> v(static_cast<std::size_t>(a.element_count()));
  std::memcpy(v.data(), a.data.data(), v.size() * sizeof(float));
  return v;
}

class AdaptiveMultiDevice : public aat::testing::DeviceTest {
 protected:
  static void TearDownTestSuite() {
    groups_.clear();
    single_.reset();
    for (auto& context : extra_)
      for (const auto& problem : aat::testing::teardown_problems(std::move(context), *log_)) ADD_FAILURE() << problem;
    extra_.clear();
  }
  void SetUp() override {
    DeviceTest::SetUp();
    mark_ = log_->size();
  }
  void TearDown() override {
    for (const auto& m : log_->since(mark_)) ADD_FAILURE() << "extra context: " << m;
    DeviceTest::TearDown();
  }

  MultiDeviceAdaptive& group(std::size_t count) {
    if (auto it = groups_.find(count); it != groups_.end()) return it->second;
    while (extra_.size() + 1 < count) {
      ContextOptions options = aat::testing::checked_context_options(log_);
      options.device = std::to_string(context()->device().index);
      extra_.push_back(unwrap(Context::create(options), "extra context"));
    }
    std::vector<std::shared_ptr<Context>> contexts{context()};
    contexts.insert(contexts.end(), extra_.begin(), extra_.begin() + static_cast<std::ptrdiff_t>(count - 1));
    auto devices = unwrap(DeviceGroup::from_contexts(contexts));
    return groups_.emplace(count, unwrap(MultiDeviceAdaptive::create(std::move(devices)))).first->second;
  }

  // Runs the problem on one device (a group of one) and on `count`; compares.
  MultiDeviceAdaptiveResult expect_same_as_one_device(const pattern::HostQkv& in, std::int64_t kv_heads,
                                                      std::int64_t q_len, bool causal, std::size_t count,
                                                      AdaptiveSplit split, AdaptiveSplit expected,
                                                      pattern::Mode rule = pattern::Mode::mass) {
    SCOPED_TRACE(fmt::format("Nq {} Nk {} H {}/{} {} on {} devices, {}, {} rule", q_len, in.length, in.heads,
                             kv_heads, causal ? "causal" : "", count, to_string(split), pattern::to_string(rule)));
    // Q: the last q_len rows of the structured queries; K/V: the first kv_heads heads.
    const std::int64_t d = in.head_dim, n = in.length;
    std::vector<float> q, k, v;
    for (std::int64_t h = 0; h < in.heads; ++h)
      q.insert(q.end(), in.q.begin() + (h * n + n - q_len) * d, in.q.begin() + (h + 1) * n * d);
    k.assign(in.k.begin(), in.k.begin() + kv_heads * n * d);
    v.assign(in.v.begin(), in.v.begin() + kv_heads * n * d);
    const HostArray qa = array_of({1, in.heads, q_len, d}, q), ka = array_of({1, kv_heads, n, d}, k),
                   va = array_of({1, kv_heads, n, d}, v);
    MultiDeviceAdaptiveOptions options;
    options.adaptive.causal = causal;
    options.adaptive.mode = rule;
    options.adaptive.epsilon = 0.3;  // the bound rule: loose enough to skip blocks on these short inputs
    options.adaptive.exact_below_cer = 0.0;  // the plan on every piece (the fallback decides per piece)
    options.split = split;
    if (!single_) single_ = unwrap(MultiDeviceAdaptive::create(unwrap(DeviceGroup::from_contexts({context()}))));
    const auto one = unwrap(single_->run(qa, ka, va, options), "one device");
    auto many = unwrap(group(count).run(qa, ka, va, options), "several devices");
    EXPECT_EQ(many.plan.split, expected) << many.plan.reason;
    EXPECT_EQ(many.block_q, one.block_q);
    EXPECT_NEAR(many.dense_flops, one.dense_flops, 1e-9 * one.dense_flops);
    const auto a = floats(many.out), b = floats(one.out), la = floats(many.lse), lb = floats(one.lse);
    double worst = 0, worst_l = 0;
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double e = std::abs(double(a[i]) - double(b[i]));
      worst = std::max(worst, e);
      bad += e <= 1e-5 + 1e-5 * std::abs(double(b[i])) ? 0 : 1;
    }
    for (std::size_t i = 0; i < la.size(); ++i) {
      if (std::isinf(lb[i])) {
        bad += la[i] == lb[i] ? 0 : 1;
        continue;
      }
      const double e = std::abs(double(la[i]) - double(lb[i]));
      worst_l = std::max(worst_l, e);
      bad += e <= 1e-5 + 1e-5 * std::abs(double(lb[i])) ? 0 : 1;
    }
    EXPECT_EQ(bad, 0u) << "O max |diff| " << worst << ", L max |diff| " << worst_l;
    // The map kept less than everything: the equality above covers pooled and skipped blocks.
    EXPECT_LT(one.executed_flops, 0.8 * one.dense_flops);
    return many;
  }

  static inline std::shared_ptr<aat::testing::ValidationLog> log_ = std::make_shared<aat::testing::ValidationLog>();
  static inline std::vector<std::shared_ptr<Context>> extra_;
  static inline std::map<std::size_t, MultiDeviceAdaptive> groups_;
  static inline std::optional<MultiDeviceAdaptive> single_;
  std::size_t mark_ = 0;
};

pattern::HostQkv structured(std::int64_t heads, std::int64_t length) {
  pattern::StructuredSpec spec;
  spec.heads = heads;
  spec.length = length;
  spec.head_dim = 32;
  spec.retrievals = 2;
  spec.retrieval_keys = spec.retrieval_queries = 32;
  spec.seed = 9;
  return pattern::structured_inputs(spec);
}

TEST_F(AdaptiveMultiDevice, HeadsOnTwoDevices) {
  const auto in = structured(4, 512);
  expect_same_as_one_device(in, 2, 512, true, 2, AdaptiveSplit::automatic, AdaptiveSplit::heads);
}

TEST_F(AdaptiveMultiDevice, BoundRuleQueryTilesAndHeads) {
  const auto in = structured(2, 1024);  // long enough that the per-row pattern costs under a tenth
  expect_same_as_one_device(in, 2, 1024, true, 2, AdaptiveSplit::queries, AdaptiveSplit::queries, pattern::Mode::bound);
  expect_same_as_one_device(in, 2, 1024, true, 2, AdaptiveSplit::heads, AdaptiveSplit::heads, pattern::Mode::bound);
}

TEST_F(AdaptiveMultiDevice, QueryTilesZigZagWhenCausal) {
  const auto in = structured(1, 512);
  const auto r = expect_same_as_one_device(in, 1, 512, true, 2, AdaptiveSplit::automatic, AdaptiveSplit::queries);
  ASSERT_EQ(r.plan.chunks.size(), 2u);
  EXPECT_EQ(r.plan.chunks[0].size(), 2u) << "the first and the last of four chunks";
  EXPECT_EQ(r.plan.chunks[0].front().begin, 0);
  EXPECT_EQ(r.plan.chunks[0].back().end, 512);
}

TEST_F(AdaptiveMultiDevice, QueryTilesWithFewerQueriesThanKeysOnThreeDevices) {
  const auto in = structured(2, 640);
  // Nk - Nq = 256 keeps tile-aligned chunk ends; the causal rule is bottom-right aligned.
  expect_same_as_one_device(in, 1, 384, true, 3, AdaptiveSplit::queries, AdaptiveSplit::queries);
}

TEST_F(AdaptiveMultiDevice, FallsBackToHeadsWithoutACausalMask) {
  const auto in = structured(2, 640);
  const auto r = expect_same_as_one_device(in, 1, 384, false, 3, AdaptiveSplit::queries, AdaptiveSplit::heads);
  EXPECT_NE(r.plan.reason.find("diagonal"), std::string::npos) << r.plan.reason;
}

TEST_F(AdaptiveMultiDevice, FallsBackToHeadsWhenNoChunkKeepsTheMap) {
  // Nk - Nq = 10: no multiple of Br ends a chunk on a key-tile edge.
  const auto in = structured(2, 522);
  expect_same_as_one_device(in, 2, 512, true, 2, AdaptiveSplit::queries, AdaptiveSplit::heads);
}

TEST(AdaptivePlan, ChunksAreTileAlignedAndZigZag) {
  attention::AttentionShape s;
  s.q_len = s.kv_len = 4096;
  s.causal = true;
  const auto plan = plan_adaptive(s, 2, 32, 64, AdaptiveSplit::queries);
  ASSERT_EQ(plan.split, AdaptiveSplit::queries);
  ASSERT_EQ(plan.chunks.size(), 2u);
  std::int64_t rows = 0;
  double keys = 0;  // visible (query, key) pairs of device 0
  for (const auto& c : plan.chunks[0]) {
    EXPECT_EQ(c.begin % 64, 0);
    rows += c.end - c.begin;
    for (std::int64_t i = c.begin; i < c.end; ++i) keys += static_cast<double>(i + 1);
  }
  EXPECT_EQ(rows, 2048);
  EXPECT_NEAR(keys / (4096.0 * 4097.0 / 2), 0.5, 0.01);
  EXPECT_EQ(parse_adaptive_split("queries"), AdaptiveSplit::queries);
  EXPECT_FALSE(parse_adaptive_split("keys"));
}

}  // namespace
}  // namespace aat::adaptive
