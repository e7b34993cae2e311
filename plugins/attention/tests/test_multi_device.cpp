// Attention on several devices of one process (multi_device.hpp): the same device opened twice
// or three times ("0,0", "0,0,0" — what CI's lavapipe offers) must give the single-device output.
//
// Tolerance: |multi - single| <= 1e-5 + 1e-5 |single| (f32), the split-K tolerance of
// attention_test_support.hpp: a keys division only changes where the softmax sums are cut and
// the order the exact merge adds the pieces in (a few f32 ulp per element); a heads division
// runs the very same kernel per head and must match to that too. Both are also checked against
// the double-precision reference with the suite's f32 tolerances, so "equal to the single
// device" cannot pass by both being wrong. f16: one f16 ulp (the suite's f16 tolerance), twice
// that on the paths other than scalar (see expect_same_as_one_device).
#include <algorithm>
#include <cstring>
#include <map>

#include "aat/attention/multi_device.hpp"
#include "attention_test_support.hpp"

namespace aat::attention::test {
namespace {

using aat::testing::FailsWith;

HostArray host_array(DType dtype, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  HostArray a = zeros(dtype, std::move(shape));
  if (dtype == DType::f16) {
    const auto bits = to_half(values);
    std::memcpy(a.data.data(), bits.data(), bits.size() * 2);
  } else {
    std::memcpy(a.data.data(), values.data(), values.size() * 4);
  }
  return a;
}

std::vector<float> as_f32(const HostArray& a) {
  std::vector<float> out(static_cast<std::size_t>(a.element_count()));
  if (a.dtype == DType::f16) {
    std::vector<std::uint16_t> bits(out.size());
    std::memcpy(bits.data(), a.data.data(), bits.size() * 2);
    out = from_half(bits);
  } else {
    std::memcpy(out.data(), a.data.data(), out.size() * 4);
  }
  return out;
}

class MultiDevice : public AttentionKernel {
 protected:
  // Extra contexts on the test device, validation on, each checked for leaks at the end.
  static void TearDownTestSuite() {
    groups_.clear();
    for (auto& context : extra_)
      for (const auto& problem : aat::testing::teardown_problems(std::move(context), *log_)) ADD_FAILURE() << problem;
    extra_.clear();
    AttentionKernel::TearDownTestSuite();
  }

  void TearDown() override {
    for (const auto& m : log_->since(mark_)) ADD_FAILURE() << "second context: " << m;
    AttentionKernel::TearDown();
  }

  void SetUp() override {
    AttentionKernel::SetUp();
    mark_ = log_->size();
  }

  // The test device `count` times: the shared context, then extra contexts on the same device.
  MultiDeviceAttention& group(std::size_t count) {
    if (auto it = groups_.find(count); it != groups_.end()) return it->second;
    while (extra_.size() + 1 < count) {
      ContextOptions options = aat::testing::checked_context_options(log_);
      options.device = std::to_string(context()->device().index);
      extra_.push_back(unwrap(Context::create(options), "second context"));
    }
    std::vector<std::shared_ptr<Context>> contexts{context()};
    contexts.insert(contexts.end(), extra_.begin(), extra_.begin() + static_cast<std::ptrdiff_t>(count - 1));
    auto devices = unwrap(DeviceGroup::from_contexts(contexts), "group");
    return groups_.emplace(count, unwrap(MultiDeviceAttention::create(std::move(devices)), "create")).first->second;
  }

  // Runs `c` on `count` devices with `mode`, and on one device; compares the two and the reference.
  MultiDeviceResult expect_same_as_one_device(const Case& c, std::size_t count, ShardMode mode,
                                              std::optional<ShardMode> expected_mode = std::nullopt) {
    SCOPED_TRACE(c.name() + " on " + std::to_string(count) + " devices, " + std::string(to_string(mode)));
    const Inputs in = random_inputs(c);
    const GpuRun one = run(c, in);
    MultiDeviceOptions options;
    options.causal = c.causal;
    options.scale = c.scale;
    options.key_lengths = c.lengths;
    options.mode = mode;
    auto result = unwrap(group(count).run(host_array(c.dtype, c.q_shape(), in.q),
                                          host_array(c.dtype, c.kv_shape(), in.k),
                                          host_array(c.dtype, c.kv_shape(), in.v), options),
                         "multi-device run");
    EXPECT_EQ(result.plan.mode, expected_mode.value_or(mode == ShardMode::automatic ? result.plan.mode : mode));
    EXPECT_EQ(result.out.shape, c.q_shape());
    EXPECT_EQ(result.out.dtype, c.dtype);
    EXPECT_EQ(result.lse.shape, c.lse_shape());
    EXPECT_EQ(result.devices.size(), count);
    const auto out = as_f32(result.out), lse = as_f32(result.lse);
    const bool half = c.dtype == DType::f16;
    // f16 output: the same f32 result rounded once more can land one f16 ulp apart. The paths
    // other than scalar (f16 only: tensor cores, decode) round P to f16 against a running
    // maximum that depends on where the keys are cut: the suite's tolerances for them
    // (attention_test_support.hpp), against one device as against the reference.
    const bool fast_path = one.tiling.path != KernelPath::scalar;
    const double f16_tol = (fast_path ? 2 : 1) * kF16Abs, lse_tol = fast_path ? 1e-3 : kSplitAbs;
    const auto same_out = ref::compare(out, widen(one.out), half ? f16_tol : kSplitAbs, half ? f16_tol : kSplitRel,
                                       c.q_shape());
    const auto same_lse = ref::compare(lse, widen(one.lse), lse_tol, lse_tol, c.lse_shape());
    EXPECT_TRUE(same_out.ok) << "O vs one device: " << ref::describe(same_out);
    EXPECT_TRUE(same_lse.ok) << "L vs one device: " << ref::describe(same_lse);
    const ref::Result want = reference_for(c, in);
    const auto ref_out = ref::compare(out, want.out, half ? f16_tol : kF32Abs, half ? f16_tol : kF32Rel, c.q_shape());
    const auto ref_lse = ref::compare(lse, want.lse, fast_path ? 1e-3 : kLseAbs, fast_path ? 1e-3 : kLseRel, c.lse_shape());
    EXPECT_TRUE(ref_out.ok) << "O vs reference: " << ref::describe(ref_out);
    EXPECT_TRUE(ref_lse.ok) << "L vs reference: " << ref::describe(ref_lse);
    if (verbose())
      std::printf("  %-60s x%zu %-5s O max|diff| %.3g  L max|diff| %.3g  imbalance %.3f\n", c.name().c_str(), count,
                  std::string(to_string(result.plan.mode)).c_str(), same_out.max_abs_error, same_lse.max_abs_error,
                  result.plan.imbalance());
    return result;
  }

  static inline std::shared_ptr<aat::testing::ValidationLog> log_ = std::make_shared<aat::testing::ValidationLog>();
  static inline std::vector<std::shared_ptr<Context>> extra_;
  static inline std::map<std::size_t, MultiDeviceAttention> groups_;
  std::size_t mark_ = 0;
};

Case make(std::int64_t b, std::int64_t hq, std::int64_t hkv, std::int64_t nq, std::int64_t nk, std::int64_t d, bool causal) {
  Case c{.B = b, .Hq = hq, .Hkv = hkv, .Nq = nq, .Nk = nk, .D = d, .causal = causal,
      .seed = static_cast<std::uint32_t>(b * 7 + hq * 5 + nq * 3 + nk + (causal ? 1 : 0))};
  return c;
}

TEST_F(MultiDevice, KeysOnTwoDevicesCausalAndNot) {
  for (bool causal : {false, true})
    for (auto [nq, nk] : {std::pair{64, 64}, {50, 113}, {113, 50}, {1, 97}, {97, 1}}) {
      const auto result = expect_same_as_one_device(make(1, 2, 2, nq, nk, 32, causal), 2, ShardMode::keys);
      if (causal && nq == nk) {
        EXPECT_LT(result.plan.imbalance(), 1.05);
        EXPECT_EQ(result.plan.workers[0].keys.size(), 2u) << "zig-zag: the first and the last chunk";
      }
    }
}

TEST_F(MultiDevice, KeysOnThreeDevicesUnevenShards) {
  for (bool causal : {false, true}) {
    expect_same_as_one_device(make(1, 3, 1, 71, 71, 16, causal), 3, ShardMode::keys);  // MQA, 71 keys in 3
    expect_same_as_one_device(make(2, 4, 2, 40, 133, 24, causal), 3, ShardMode::keys);  // GQA, Nk > Nq
  }
}

TEST_F(MultiDevice, KeysWithKeyLengths) {
  for (bool causal : {false, true}) {
    Case c = make(3, 2, 1, 33, 90, 16, causal);
    c.lengths = {90, 17, 0};  // a batch with no visible key: O = 0, L = -inf
    const auto result = expect_same_as_one_device(c, 2, ShardMode::keys);
    const auto lse = as_f32(result.lse);
    for (std::int64_t h = 0; h < c.Hq; ++h)
      for (std::int64_t i = 0; i < c.Nq; ++i) {
        const float l = lse[static_cast<std::size_t>((2 * c.Hq + h) * c.Nq + i)];
        EXPECT_TRUE(std::isinf(l) && l < 0) << "batch 2 row " << i;
      }
  }
}

TEST_F(MultiDevice, KeysWithForcedSplitsInsideEachDevice) {
  Case c = make(1, 2, 1, 20, 160, 16, true);
  const Inputs in = random_inputs(c);
  const GpuRun one = run(c, in);
  MultiDeviceOptions options;
  options.causal = true;
  options.mode = ShardMode::keys;
  options.splits = 3;  // each range's run writes three slots, merged on its device first
  auto result = unwrap(group(2).run(host_array(c.dtype, c.q_shape(), in.q), host_array(c.dtype, c.kv_shape(), in.k),
                                    host_array(c.dtype, c.kv_shape(), in.v), options),
                       "run");
  const auto same = ref::compare(as_f32(result.out), widen(one.out), kSplitAbs, kSplitRel, c.q_shape());
  EXPECT_TRUE(same.ok) << ref::describe(same);
}

TEST_F(MultiDevice, HeadsOnTwoAndThreeDevices) {
  for (bool causal : {false, true}) {
    expect_same_as_one_device(make(1, 4, 4, 45, 45, 32, causal), 2, ShardMode::automatic, ShardMode::heads);
    expect_same_as_one_device(make(3, 4, 2, 30, 61, 16, causal), 3, ShardMode::heads);  // boxes across batches
    Case c = make(2, 2, 2, 17, 40, 8, causal);
    c.lengths = {40, 9};
    expect_same_as_one_device(c, 2, ShardMode::heads);
  }
}

TEST_F(MultiDevice, AutomaticPicksKeysForFewHeads) {
  expect_same_as_one_device(make(1, 1, 1, 80, 80, 16, true), 2, ShardMode::automatic, ShardMode::keys);
}

// f16 with D = 64 takes a tensor-core path where the device has one (on the GPU machine) and the
// scalar path elsewhere; a few query rows per K/V head take the decode path (lavapipe too).
TEST_F(MultiDevice, HalfPrecision) {
  Case c = make(1, 2, 1, 48, 80, 64, true);
  c.dtype = DType::f16;
  expect_same_as_one_device(c, 2, ShardMode::keys);
  expect_same_as_one_device(c, 2, ShardMode::heads);
  Case decode = make(1, 4, 1, 2, 150, 32, true);
  decode.dtype = DType::f16;
  expect_same_as_one_device(decode, 2, ShardMode::keys);
  expect_same_as_one_device(decode, 3, ShardMode::keys);
}

TEST_F(MultiDevice, MoreDevicesThanKeys) {
  // One key, three devices: two stay idle; a single-token query.
  expect_same_as_one_device(make(1, 1, 1, 1, 1, 8, false), 3, ShardMode::keys);
  expect_same_as_one_device(make(1, 1, 1, 4, 2, 8, true), 3, ShardMode::keys);
}

TEST_F(MultiDevice, ReportsEachDevice) {
  const auto result = expect_same_as_one_device(make(1, 2, 1, 64, 64, 16, true), 2, ShardMode::keys);
  for (const auto& d : result.devices) {
    EXPECT_THAT(d.device, HasSubstr(context()->device().name));
    EXPECT_THAT(d.share, HasSubstr("keys"));
    EXPECT_GT(d.flops, 0);
    EXPECT_GT(d.wall_ms, 0);
  }
  EXPECT_NEAR(result.devices[0].flops + result.devices[1].flops, result.plan.flops(), 1e-6 * result.plan.flops());
}

TEST_F(MultiDevice, RefusesBadInputsNamingTheCause) {
  MultiDeviceAttention& m = group(2);
  const HostArray q = zeros(DType::f32, {1, 2, 8, 16}), k = zeros(DType::f32, {1, 2, 8, 16});
  EXPECT_TRUE(FailsWith(m.run(q, zeros(DType::f32, {1, 2, 8, 32}), k), ErrorCode::invalid_argument,
                        {"K and V must have the same shape"}));
  EXPECT_TRUE(FailsWith(m.run(q, zeros(DType::f16, {1, 2, 8, 16}), zeros(DType::f16, {1, 2, 8, 16})),
                        ErrorCode::type_mismatch, {"share a dtype"}));
  EXPECT_TRUE(FailsWith(m.run(zeros(DType::f32, {1, 3, 8, 16}), k, k), ErrorCode::invalid_argument,
                        {"multiple of key/value heads"}));
  MultiDeviceOptions options;
  options.key_lengths = {9};
  EXPECT_TRUE(FailsWith(m.run(q, k, k, options), ErrorCode::invalid_argument, {"key length 9 of batch 0"}));
  options.key_lengths = {1, 2};
  EXPECT_TRUE(FailsWith(m.run(q, k, k, options), ErrorCode::invalid_argument, {"one per batch"}));
}

TEST_F(MultiDevice, KeySourceOfTheWrongShapeIsNamed) {
  MultiDeviceAttention& m = group(2);
  const HostArray q = zeros(DType::f32, {1, 1, 8, 16});
  AttentionShape shape = unwrap(MultiDeviceAttention::check(q, zeros(DType::f32, {1, 1, 8, 16}),
                                                            zeros(DType::f32, {1, 1, 8, 16}), {}), "check");
  const ShardPlan plan = plan_shards(shape, 2, ShardMode::keys);
  const KeySource wrong = [](const KeyRange& range) -> Expected<KeyBlock> {
    return KeyBlock{range, zeros(DType::f32, {1, 1, range.size() + 1, 16}), zeros(DType::f32, {1, 1, range.size() + 1, 16})};
  };
  EXPECT_TRUE(FailsWith(m.key_states(q, wrong, plan.workers, shape, {}), ErrorCode::invalid_argument,
                        {"device 0", "keys 0..3", "expected f32[1x1x4x16]"}));
}

}  // namespace
}  // namespace aat::attention::test
