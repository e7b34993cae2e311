// llvmpipe's loop limit (aat/attention/loop_limit.hpp): the driver behaviour itself, the model
// of the forward kernel's loop iterations against thresholds measured on lavapipe, and the
// rules built on it (split counts, refused overrides, results right where they used to be wrong).
#include "aat/attention/loop_limit.hpp"

#include "aat/bindings.hpp"
#include "aat/shader.hpp"
#include "attention_test_support.hpp"
#include "synthetic_device.hpp"

namespace aat::attention {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the suites' shared vocabulary

Tiling scalar_tiling(std::uint32_t br, std::uint32_t bc, std::uint32_t workgroup = 128) {
  Tiling t;
  t.block_q = br;
  t.block_kv = bc;
  t.workgroup_size = workgroup;
  return t;
}

// Key tiles one unsplit workgroup could stream on lavapipe (Mesa 22.3.6, LLVM 15, 256-bit)
// before results went wrong, found by bisection over Nk with Nq = Br, one head, f32.
struct Measured {
  std::uint32_t br, bc, d, last_good, first_bad;
};
constexpr Measured kMeasured[] = {
    {32, 32, 64, 55, 56}, {32, 16, 128, 56, 57}, {16, 32, 64, 104, 105},
    {8, 16, 256, 101, 102}, {32, 32, 32, 104, 105}, {16, 16, 128, 110, 111},
};

TEST(LoopLimitModel, StaysUnderEveryMeasuredThresholdWithoutWastingMostOfIt) {
  for (const auto& m : kMeasured) {
    const std::uint64_t most = max_tiles_per_workgroup(aat::testing::lavapipe_like(), scalar_tiling(m.br, m.bc), m.d);
    SCOPED_TRACE(::testing::Message() << "Br " << m.br << " Bc " << m.bc << " D " << m.d << ": model allows " << most);
    EXPECT_LE(most, m.last_good);
    EXPECT_GE(most, m.last_good * 7 / 10);
    // The per-tile count is within 5% of the measured one (65535 / first bad tile .. / last good).
    const double per_tile = static_cast<double>(forward_iterations_per_tile(m.br, m.bc, m.d, 128));
    EXPECT_GE(per_tile, 0.95 * static_cast<double>(kLlvmpipeLoopIterations) / m.first_bad);
    EXPECT_LE(per_tile, 1.05 * static_cast<double>(kLlvmpipeLoopIterations) / m.last_good);
  }
}

// The decode kernel (f16, subgroup-size chunks of 8 keys on lavapipe), bisected the same way
// with forced splits = 1 (2026-12-02, the kernel with keys side by side): chunks of 8 keys one
// unsplit subgroup could stream, the last key dominating the softmax so that a truncated loop
// shows. D = 8 steps 32 keys an iteration, D = 32 eight, D >= 64 four; the rows' Q staging adds
// rows x D/8 / 8 + 1 once: 65535 iterations in all at the first bad chunk, in every row below.
struct MeasuredDecode {
  std::uint32_t rows, d, last_good, first_bad;
};
constexpr MeasuredDecode kMeasuredDecode[] = {
    {16, 128, 32751, 32752}, {16, 64, 32759, 32760}, {16, 256, 32735, 32736},
    {1, 32, 65533, 65534},   {1, 8, 262132, 262133},
};

TEST(LoopLimitModel, DecodeStaysUnderEveryMeasuredThreshold) {
  for (const auto& m : kMeasuredDecode) {
    Tiling t = scalar_tiling(m.rows, 8, 8);
    t.path = KernelPath::decode;
    const std::uint64_t most = max_tiles_per_workgroup(aat::testing::lavapipe_like(), t, m.d);
    SCOPED_TRACE(::testing::Message() << "rows " << m.rows << " D " << m.d << ": model allows " << most);
    EXPECT_LE(most, m.last_good);
    EXPECT_GE(most, m.last_good * 7 / 10);
    // The model's count at the first bad chunk is the limit, to within 0.1%.
    const double at_first_bad = static_cast<double>(decode_iterations_fixed(m.rows, 8, m.d)) +
                                decode_iterations_per_chunk(8, m.d) * m.first_bad;
    EXPECT_NEAR(at_first_bad, static_cast<double>(kLlvmpipeLoopIterations) + 1, 0.001 * kLlvmpipeLoopIterations);
  }
  // A variant that loads fewer keys ahead takes more iterations a chunk: the model follows it.
  EXPECT_DOUBLE_EQ(decode_iterations_per_chunk(8, 128, 1), 4 * decode_iterations_per_chunk(8, 128));
  EXPECT_DOUBLE_EQ(decode_iterations_per_chunk(8, 128, 8), decode_iterations_per_chunk(8, 128) / 2);
}

TEST(LoopLimitModel, GpusHaveNoLimit) {
  DeviceInfo gpu;
  gpu.type = DeviceType::discrete_gpu;
  AttentionShape shape;
  shape.kv_len = 1 << 20;
  EXPECT_EQ(min_splits(gpu, shape, scalar_tiling(32, 32)), 1u);
  EXPECT_TRUE(check_forced_splits(gpu, shape, scalar_tiling(32, 32), 1).has_value());
}

TEST(LoopLimitModel, ForcedSplitsAreCheckedClampedAndRefusedBelowTheRule) {
  AttentionShape shape;
  shape.q_len = shape.kv_len = 4096;
  shape.causal = true;
  const Tiling t = scalar_tiling(32, 32);
  const std::uint32_t needed = min_splits(aat::testing::lavapipe_like(), shape, t);
  EXPECT_GE(needed, 2u);
  auto zero = check_forced_splits(aat::testing::lavapipe_like(), shape, t, 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code(), ErrorCode::invalid_argument);
  auto one = check_forced_splits(aat::testing::lavapipe_like(), shape, t, 1);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code(), ErrorCode::unsupported);
  EXPECT_THAT(one.error().what(), HasSubstr("65535 loop iterations"));
  EXPECT_THAT(one.error().what(), HasSubstr("at least " + std::to_string(needed) + " splits"));
  EXPECT_EQ(check_forced_splits(aat::testing::lavapipe_like(), shape, t, needed).value(), needed);
  EXPECT_EQ(check_forced_splits(aat::testing::lavapipe_like(), shape, t, 100000).value(), 4096u / 32u);  // one per key tile
}

// ---------------------------------------------------------------------------------------------
// On the device.

class LoopLimit : public AttentionKernel {};

constexpr const char* kCountingLoops = R"(#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer Counts { uint n[]; } counts;
layout(push_constant) uniform Params { uint first; uint second; } p;
void main() {
  uint a = 0u, b = 0u;
  for (uint i = 0u; i < p.first; ++i) a += 1u;
  for (uint i = 0u; i < p.second; ++i) b += 1u;
  counts.n[0] = a;
  counts.n[1] = b;
}
)";

// The driver behaviour the rules exist for: 65535 loop iterations per invocation, shared by all
// of its loops, then every loop ends early without any error. If this starts failing on a new
// Mesa, the limit moved and loop_limit.hpp should follow it.
TEST_F(LoopLimit, LlvmpipeEndsEveryLoopOfAnInvocationAfter65535IterationsInAll) {
  if (!has_loop_iteration_limit(context()->device())) GTEST_SKIP() << "not a CPU device";
  ShaderCompiler compiler;
  auto kernel = unwrap(Kernel::create(context(), unwrap(compiler.compile(kCountingLoops, "count.comp")), "count"));
  auto counts = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {2}, std::vector<std::int32_t>{0, 0}));
  Bindings b(kernel);
  AAT_ASSERT_OK(b.bind("counts", counts));
  AAT_ASSERT_OK(b.push("first", std::uint32_t{40000}));
  AAT_ASSERT_OK(b.push("second", std::uint32_t{40000}));
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.dispatch(b, Workgroups{1, 1, 1}));
  AAT_ASSERT_OK(stream.run());
  const std::vector<std::int32_t> got = unwrap(counts.template download_values<std::int32_t>());
  EXPECT_EQ(got[0], 40000);
  EXPECT_LT(got[1], 40000);  // the second loop got what the first left of the budget
  EXPECT_NEAR(got[0] + got[1], static_cast<std::int32_t>(kLlvmpipeLoopIterations), 8);
}

// Br = 32, Bc = 16, D = 128 over 2048 keys: the old rule (1024 keys per split) gave a wrong O
// here on lavapipe; the loop model splits finer.
TEST_F(LoopLimit, HeadDim128OverLongKeysMatchesTheReferenceWithDefaultSplits) {
  Case c{.Nq = 32, .Nk = 2048, .D = 128};
  const auto [gpu, want] = expect_matches_reference(c);
  const std::uint64_t tiles = (2048 + gpu.tiling.block_kv - 1) / gpu.tiling.block_kv;
  const std::uint64_t per_split = (tiles + gpu.tiling.splits - 1) / gpu.tiling.splits;
  EXPECT_LE(per_split, max_tiles_per_workgroup(context()->device(), gpu.tiling, 128));
}

// The decode kernel on lavapipe's 8-lane subgroups: 16 rows of D = 128 over 220000 keys pass its
// budget unsplit (the model allows ~209k keys, the limit ~262k); the model's splits keep the
// result right, and one forced split is refused.
TEST_F(LoopLimit, DecodeOverLongKeysIsSplitByItsModelAndRefusesTooFewSplits) {
  if (!has_loop_iteration_limit(context()->device())) GTEST_SKIP() << "not a CPU device";
  constexpr std::int64_t kKeys = 220000;
  Case c{.Hq = 16, .Hkv = 1, .Nq = 1, .Nk = kKeys, .D = 128, .dtype = DType::f16, .path = KernelPath::decode};
  const auto [gpu, want] = expect_matches_reference(c);
  ASSERT_EQ(gpu.tiling.path, KernelPath::decode);
  EXPECT_GE(gpu.tiling.splits, 2u);
  auto q = upload(context(), c.dtype, c.q_shape(), std::vector<float>(static_cast<std::size_t>(16 * 128), 0.5f));
  auto k = upload(context(), c.dtype, c.kv_shape(), std::vector<float>(static_cast<std::size_t>(kKeys * 128), 0.5f));
  AttentionOptions options;
  options.path = KernelPath::decode;
  options.splits = 1;
  auto result = attention().run(q, k, k, options);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().what(), HasSubstr("65535 loop iterations"));
}

// `--splits 1` at N = 4096 causal returned a wrong O with success; now it is refused by name.
TEST_F(LoopLimit, TooFewForcedSplitsAreRefusedOnCpuDevices) {
  if (!has_loop_iteration_limit(context()->device())) GTEST_SKIP() << "not a CPU device";
  auto q = unwrap(Tensor::create(context(), DType::f32, {1, 1, 4096, 64}));
  AttentionOptions options;
  options.causal = true;
  options.splits = 1;
  auto result = attention().run(q, q, q, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::unsupported);
  EXPECT_THAT(result.error().what(), HasSubstr("llvmpipe"));
  EXPECT_THAT(result.error().what(), HasSubstr("splits = 1"));
}

}  // namespace
}  // namespace aat::attention
