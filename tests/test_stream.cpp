// Stream: recording fills, copies and dispatches with automatic barriers, per-dispatch GPU
// timings, the record/submit/wait/reset life cycle, keeping resources alive for the GPU, and
// workgroup counts.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::unwrap;

using aat::testing::FailsWith;

// Y = a * X + b, elementwise over n.
constexpr const char* kAffine = R"(#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer XBuf { float x[]; } X;
layout(std430, binding = 1) writeonly buffer YBuf { float y[]; } Y;
layout(push_constant) uniform Push { float a; float b; uint n; } pc;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < pc.n) Y.y[i] = pc.a * X.x[i] + pc.b;
}
)";

constexpr const char* kGrid2d = R"(#version 450
layout(local_size_x = 8, local_size_y = 4) in;
layout(std430, binding = 0) buffer Data { uint v[]; } data;
void main() { data.v[0] = gl_WorkGroupID.x; }
)";

constexpr std::uint32_t kFloatOne = 0x3f800000u;

class StreamTest : public DeviceTest {
 protected:
  void SetUp() override {
    DeviceTest::SetUp();
    affine_ = unwrap(Kernel::create(context(), compile(kAffine, "affine.comp"), "affine"));
  }

  const Kernel& affine() const { return affine_; }

  Tensor floats(std::uint32_t n, float value = 0.0f) {
    return unwrap(Tensor::from_values<float>(context(), DType::f32, {n}, std::vector<float>(n, value)));
  }

  Bindings affine_bindings(const Tensor& x, const Tensor& y, float a, float b) {
    Bindings bindings(affine_);
    const auto n = static_cast<std::uint32_t>(x.element_count());
    EXPECT_TRUE(bindings.bind("X", x).has_value());
    EXPECT_TRUE(bindings.bind("Y", y).has_value());
    EXPECT_TRUE(bindings.push("a", a).has_value());
    EXPECT_TRUE(bindings.push("b", b).has_value());
    EXPECT_TRUE(bindings.push("n", n).has_value());
    EXPECT_TRUE(bindings.require_bytes("X", 4ull * n).has_value());
    EXPECT_TRUE(bindings.require_bytes("Y", 4ull * n).has_value());
    return bindings;
  }

  Workgroups groups_for(std::uint32_t n) const { return unwrap(affine_.workgroups_for({n, 1, 1})); }

  static void expect_all(const Tensor& t, float expected) {
    const auto values = unwrap(t.download_values<float>());
    for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], expected) << "at " << i;
  }

 private:
  Kernel affine_;
};

// --- recording and results ---------------------------------------------------------------

TEST_F(StreamTest, FillCopyAndDispatchChainWithAutoBarriers) {
  const std::uint32_t n = 1000;
  auto a = floats(n, -1.0f), x = floats(n, -1.0f), y = floats(n, -1.0f), z = floats(n, -1.0f);
  auto result = unwrap(Tensor::create(context(), DType::f32, {n}, MemoryKind::readback));
  const auto first = affine_bindings(x, y, 2.0f, 3.0f);   // y = 2x + 3
  const auto second = affine_bindings(y, z, 2.0f, 3.0f);  // z = 2y + 3

  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.fill(a.buffer(), kFloatOne));                 // a = 1
  AAT_ASSERT_OK(stream.copy(a.buffer(), x.buffer(), 4ull * n));      // x = a
  AAT_ASSERT_OK(stream.dispatch(first, groups_for(n)));              // y = 5
  AAT_ASSERT_OK(stream.dispatch(second, groups_for(n)));             // z = 13
  AAT_ASSERT_OK(stream.copy(z.buffer(), result.buffer(), 4ull * n)); // result = z
  AAT_ASSERT_OK(stream.run());
  expect_all(result, 13.0f);
  expect_all(y, 5.0f);
}

TEST_F(StreamTest, FillOfPartOfABuffer) {
  auto t = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {4}, std::vector<std::int32_t>(4, 9)));
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.fill(t.buffer(), 7u, 8));
  AAT_ASSERT_OK(stream.run());
  EXPECT_EQ(unwrap(t.download_values<std::int32_t>()), (std::vector<std::int32_t>{7, 7, 9, 9}));
}

TEST_F(StreamTest, CopyWithOffsets) {
  auto source = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {4}, std::vector<std::int32_t>{1, 2, 3, 4}));
  auto target = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {4}, std::vector<std::int32_t>(4, 0)));
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.copy(source.buffer(), target.buffer(), 8, 4, 8));
  AAT_ASSERT_OK(stream.run());
  EXPECT_EQ(unwrap(target.download_values<std::int32_t>()), (std::vector<std::int32_t>{0, 0, 2, 3}));
}

TEST_F(StreamTest, FillOfAnOddByteCountIsASizeMismatch) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.fill(buffer, 0, 6), ErrorCode::size_mismatch, {"multiple of 4"}));
  EXPECT_TRUE(FailsWith(stream.fill(buffer, 0, 32), ErrorCode::size_mismatch, {"32"}));
}

TEST_F(StreamTest, CopyOutOfRangeIsASizeMismatch) {
  auto small = unwrap(Buffer::create(context(), 16));
  auto large = unwrap(Buffer::create(context(), 64));
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.copy(small, large, 32), ErrorCode::size_mismatch, {"32 bytes"}));
  EXPECT_TRUE(FailsWith(stream.copy(large, small, 16, 0, 4), ErrorCode::size_mismatch));
  EXPECT_TRUE(FailsWith(stream.copy(small, large, 8, ~0ull - 2), ErrorCode::size_mismatch));
}

TEST_F(StreamTest, EmptyHandlesAreRefused) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.fill(Buffer()), ErrorCode::invalid_argument));
  EXPECT_TRUE(FailsWith(stream.copy(Buffer(), buffer, 4), ErrorCode::invalid_argument));
  EXPECT_TRUE(FailsWith(stream.copy(buffer, Buffer(), 4), ErrorCode::invalid_argument));
}

TEST_F(StreamTest, ManualBarriersOrderDependentDispatchesWhenAutoBarriersAreOff) {
  const std::uint32_t n = 256;
  auto x = floats(n, 1.0f), y = floats(n), z = floats(n);
  auto stream = unwrap(Stream::create(context()));
  stream.set_auto_barriers(false);
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 2.0f, 0.0f), groups_for(n)));
  stream.barrier();
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(y, z, 3.0f, 0.0f), groups_for(n)));
  AAT_ASSERT_OK(stream.run());
  expect_all(z, 6.0f);
}

TEST_F(StreamTest, IndependentDispatchesWithoutBarriers) {
  const std::uint32_t n = 128;
  auto x = floats(n, 1.0f), y1 = floats(n), y2 = floats(n);
  auto stream = unwrap(Stream::create(context()));
  stream.set_auto_barriers(false);
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y1, 2.0f, 0.0f), groups_for(n)));
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y2, 4.0f, 0.0f), groups_for(n)));
  AAT_ASSERT_OK(stream.run());
  expect_all(y1, 2.0f);
  expect_all(y2, 4.0f);
}

// --- timings -----------------------------------------------------------------------------

TEST_F(StreamTest, EachDispatchReportsOneTimingWithItsLabel) {
  auto stream = unwrap(Stream::create(context()));
  if (!stream.has_timestamps()) GTEST_SKIP() << "the compute queue has no timestamps";
  const std::uint32_t n = 512;
  auto x = floats(n, 1.0f), y = floats(n), z = floats(n);
  AAT_ASSERT_OK(stream.fill(x.buffer(), kFloatOne));
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 1.0f, 1.0f), groups_for(n), "first"));
  AAT_ASSERT_OK(stream.copy(y.buffer(), z.buffer(), 4ull * n));
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(z, y, 1.0f, 1.0f), groups_for(n), "second"));
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(y, z, 1.0f, 1.0f), groups_for(n)));
  EXPECT_TRUE(stream.timings().empty()) << "timings exist only after wait()";
  AAT_ASSERT_OK(stream.run());

  const auto& timings = stream.timings();
  ASSERT_EQ(timings.size(), 3u);  // fills and copies are not timed
  EXPECT_EQ(timings[0].label, "first");
  EXPECT_EQ(timings[1].label, "second");
  EXPECT_EQ(timings[2].label, "affine");  // the kernel name by default
  double sum = 0;
  for (const auto& t : timings) {
    EXPECT_GE(t.gpu_ms, 0.0) << t.label;
    EXPECT_LT(t.gpu_ms, 10'000.0) << t.label;
    sum += t.gpu_ms;
  }
  EXPECT_DOUBLE_EQ(stream.total_gpu_ms(), sum);
  expect_all(z, 4.0f);
}

// --- life cycle --------------------------------------------------------------------------

TEST_F(StreamTest, ResetAllowsRecordingAgain) {
  const std::uint32_t n = 100;
  auto x = floats(n, 1.0f), y = floats(n);
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 2.0f, 0.0f), groups_for(n), "before"));
  AAT_ASSERT_OK(stream.run());
  expect_all(y, 2.0f);

  AAT_ASSERT_OK(stream.reset());
  EXPECT_TRUE(stream.timings().empty());
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 5.0f, 0.0f), groups_for(n), "after"));
  AAT_ASSERT_OK(stream.run());
  expect_all(y, 5.0f);
  if (stream.has_timestamps()) {
    ASSERT_EQ(stream.timings().size(), 1u);
    EXPECT_EQ(stream.timings()[0].label, "after");
  }
}

TEST_F(StreamTest, ManyResetCyclesKeepWorking) {
  const std::uint32_t n = 64;
  auto x = floats(n, 1.0f), y = floats(n);
  auto stream = unwrap(Stream::create(context()));
  for (int cycle = 0; cycle < 20; ++cycle) {
    // More dispatches per cycle than one descriptor pool holds.
    for (int d = 0; d < 70; ++d)
      AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, static_cast<float>(cycle), 0.0f), groups_for(n)));
    AAT_ASSERT_OK(stream.run());
    expect_all(y, static_cast<float>(cycle));
    AAT_ASSERT_OK(stream.reset());
  }
}

TEST_F(StreamTest, SubmittingTwiceWithoutResetIsAnError) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.fill(buffer, 1u));
  AAT_ASSERT_OK(stream.submit());
  EXPECT_TRUE(FailsWith(stream.submit(), ErrorCode::invalid_argument, {"submit", "reset"}));
  AAT_ASSERT_OK(stream.wait());
  EXPECT_TRUE(FailsWith(stream.submit(), ErrorCode::invalid_argument, {"reset"}));
}

TEST_F(StreamTest, RecordingAfterSubmitIsAnError) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  auto x = floats(64), y = floats(64);
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.fill(buffer, 1u));
  AAT_ASSERT_OK(stream.run());
  EXPECT_TRUE(FailsWith(stream.fill(buffer, 2u), ErrorCode::invalid_argument, {"reset"}));
  EXPECT_TRUE(FailsWith(stream.copy(buffer, buffer, 4), ErrorCode::invalid_argument, {"reset"}));
  EXPECT_TRUE(FailsWith(stream.dispatch(affine_bindings(x, y, 1, 0), groups_for(64)), ErrorCode::invalid_argument,
                        {"reset"}));
}

TEST_F(StreamTest, WaitBeforeSubmitIsAnError) {
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.wait(), ErrorCode::invalid_argument, {"not submitted"}));
}

TEST_F(StreamTest, WaitTwiceIsHarmless) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.fill(buffer, 1u));
  AAT_ASSERT_OK(stream.run());
  AAT_ASSERT_OK(stream.wait());
}

TEST_F(StreamTest, ResetWhileSubmittedIsAnError) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.fill(buffer, 1u));
  AAT_ASSERT_OK(stream.submit());
  EXPECT_TRUE(FailsWith(stream.reset(), ErrorCode::invalid_argument, {"wait"}));
  AAT_ASSERT_OK(stream.wait());
  AAT_ASSERT_OK(stream.reset());
}

TEST_F(StreamTest, EmptyStreamRunsAndResets) {
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.run());
  EXPECT_TRUE(stream.timings().empty());
  AAT_ASSERT_OK(stream.reset());
}

TEST_F(StreamTest, DestroyingASubmittedStreamWaitsForIt) {
  const std::uint32_t n = 4096;
  auto x = floats(n, 1.0f), y = floats(n);
  {
    auto stream = unwrap(Stream::create(context()));
    AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 3.0f, 1.0f), groups_for(n)));
    AAT_ASSERT_OK(stream.submit());
  }
  expect_all(y, 4.0f);
}

TEST_F(StreamTest, MovedStreamKeepsItsWork) {
  const std::uint32_t n = 64;
  auto x = floats(n, 1.0f), y = floats(n);
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 7.0f, 0.0f), groups_for(n)));
  Stream moved = std::move(stream);
  AAT_ASSERT_OK(moved.run());
  expect_all(y, 7.0f);
}

TEST_F(StreamTest, DispatchWithAnUnboundBindingIsRefusedBeforeRecording) {
  const std::uint32_t n = 64;
  auto x = floats(n, 1.0f), y = floats(n);
  Bindings incomplete(affine());
  ASSERT_TRUE(incomplete.bind("X", x).has_value());
  ASSERT_TRUE(incomplete.push("a", 1.0f).has_value());
  ASSERT_TRUE(incomplete.push("b", 1.0f).has_value());
  ASSERT_TRUE(incomplete.push("n", n).has_value());
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.dispatch(incomplete, groups_for(n), "refused"), ErrorCode::not_found,
                        {"'Y'", "not bound"}));
  // The stream is still usable and the refused dispatch left nothing behind.
  AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 2.0f, 0.0f), groups_for(n), "accepted"));
  AAT_ASSERT_OK(stream.run());
  expect_all(y, 2.0f);
  if (stream.has_timestamps()) {
    ASSERT_EQ(stream.timings().size(), 1u);
    EXPECT_EQ(stream.timings()[0].label, "accepted");
  }
}

TEST_F(StreamTest, KernelOfAnotherContextIsRefused) {
  ContextOptions options;
  options.validation = true;
  auto other = unwrap(Context::create(options));
  auto foreign = unwrap(Kernel::create(other, compile(kAffine, "affine.comp"), "foreign"));
  auto x = floats(64), y = floats(64);
  Bindings bindings(foreign);
  ASSERT_TRUE(bindings.bind("X", x).has_value());
  ASSERT_TRUE(bindings.bind("Y", y).has_value());
  ASSERT_TRUE(bindings.push("a", 1.0f).has_value());
  ASSERT_TRUE(bindings.push("b", 1.0f).has_value());
  ASSERT_TRUE(bindings.push("n", 64u).has_value());
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.dispatch(bindings, {1, 1, 1}), ErrorCode::invalid_argument, {"'foreign'", "another context"}));
  EXPECT_TRUE(other->take_validation_messages().empty());
}

TEST_F(StreamTest, BuffersDroppedAfterDispatchStayAliveUntilWait) {
  const std::uint32_t n = 2048;
  auto result = floats(n);
  auto stream = unwrap(Stream::create(context()));
  const MemoryStats before = context()->memory_stats();
  {
    auto x = floats(n, 1.5f);
    auto y = floats(n);
    AAT_ASSERT_OK(stream.dispatch(affine_bindings(x, y, 2.0f, 1.0f), groups_for(n)));
    AAT_ASSERT_OK(stream.copy(y.buffer(), result.buffer(), 4ull * n));
  }  // x, y and the bindings are gone; only the stream holds the buffers now
  EXPECT_EQ(context()->memory_stats().live_buffers, before.live_buffers + 2);
  // Fresh allocations must not be handed the memory the recorded work still uses.
  std::vector<Tensor> scribble;
  for (int i = 0; i < 4; ++i) scribble.push_back(floats(n, -99.0f));
  AAT_ASSERT_OK(stream.run());
  expect_all(result, 4.0f);
  for (const auto& t : scribble) expect_all(t, -99.0f);
  scribble.clear();
  AAT_ASSERT_OK(stream.reset());
  EXPECT_EQ(context()->memory_stats().live_buffers, before.live_buffers);
}

TEST_F(StreamTest, BindingsChangedAfterDispatchDoNotAffectTheRecordedWork) {
  const std::uint32_t n = 64;
  auto x = floats(n, 1.0f), y = floats(n), other = floats(n, 5.0f);
  auto bindings = affine_bindings(x, y, 2.0f, 0.0f);
  auto stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.dispatch(bindings, groups_for(n)));
  ASSERT_TRUE(bindings.push("a", 100.0f).has_value());
  ASSERT_TRUE(bindings.bind("X", other).has_value());
  AAT_ASSERT_OK(stream.run());
  expect_all(y, 2.0f);
}

TEST_F(StreamTest, KernelsWithManyBindingsCanBeDispatchedManyTimes) {
  // 20 storage buffers per dispatch, 100 dispatches: more descriptors than one pool's share.
  constexpr int kBuffers = 20;
  std::string source = "#version 450\nlayout(local_size_x = 1) in;\n";
  for (int b = 0; b < kBuffers; ++b)
    source += "layout(std430, binding = " + std::to_string(b) + ") buffer B" + std::to_string(b) + " { uint v; } b" +
              std::to_string(b) + ";\n";
  source += "void main() {\n";
  for (int b = 1; b < kBuffers; ++b) source += "  b" + std::to_string(b) + ".v += b0.v;\n";
  source += "}\n";
  auto kernel = unwrap(Kernel::create(context(), compile(source, "many_bindings.comp"), "many_bindings"));
  std::vector<Tensor> tensors;
  Bindings bindings(kernel);
  for (int b = 0; b < kBuffers; ++b) {
    tensors.push_back(unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {1}, std::vector<std::int32_t>{b == 0 ? 1 : 0})));
    ASSERT_TRUE(bindings.bind("b" + std::to_string(b), tensors.back()).has_value());
  }
  auto stream = unwrap(Stream::create(context()));
  for (int d = 0; d < 100; ++d) AAT_ASSERT_OK(stream.dispatch(bindings, {1, 1, 1}));
  AAT_ASSERT_OK(stream.run());
  for (int b = 1; b < kBuffers; ++b) EXPECT_EQ(unwrap(tensors[b].download_values<std::int32_t>())[0], 100) << b;
}

// --- workgroups --------------------------------------------------------------------------

TEST_F(StreamTest, WorkgroupsForIsCeilDivisionByTheLocalSize) {
  auto groups = [&](std::uint64_t n) { return unwrap(affine().workgroups_for({n, 1, 1})).x; };
  EXPECT_EQ(groups(1), 1u);
  EXPECT_EQ(groups(63), 1u);
  EXPECT_EQ(groups(64), 1u);
  EXPECT_EQ(groups(65), 2u);
  EXPECT_EQ(groups(1000), 16u);
  EXPECT_EQ(groups(0), 0u);
}

TEST_F(StreamTest, WorkgroupsForDividesEachAxisByItsLocalSize) {
  auto kernel = unwrap(Kernel::create(context(), compile(kGrid2d, "grid2d.comp"), "grid2d"));
  const auto groups = unwrap(kernel.workgroups_for({17, 9, 5}));
  EXPECT_EQ(groups.x, 3u);
  EXPECT_EQ(groups.y, 3u);
  EXPECT_EQ(groups.z, 5u);
}

TEST_F(StreamTest, TooLargeGridIsInvalid) {
  const auto& limits = context()->device().limits;
  const std::uint64_t too_many = (std::uint64_t{limits.max_workgroup_count[0]} + 1) * 64;
  EXPECT_TRUE(FailsWith(affine().workgroups_for({too_many, 1, 1}), ErrorCode::invalid_argument,
                        {"'affine'", std::to_string(too_many), std::to_string(limits.max_workgroup_count[0])}));
  EXPECT_TRUE(FailsWith(affine().workgroups_for({1, std::uint64_t{limits.max_workgroup_count[1]} + 1, 1}),
                        ErrorCode::invalid_argument, {"along y"}));
  const std::uint64_t fits = std::uint64_t{limits.max_workgroup_count[0]} * 64;
  EXPECT_EQ(unwrap(affine().workgroups_for({fits, 1, 1})).x, limits.max_workgroup_count[0]);
}

TEST_F(StreamTest, GridSizesNearTheIntegerLimitDoNotWrapAround) {
  const auto huge = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(FailsWith(affine().workgroups_for({huge, 1, 1}), ErrorCode::invalid_argument, {"along x"}));
  EXPECT_TRUE(FailsWith(affine().workgroups_for({1, 1, huge - 10}), ErrorCode::invalid_argument, {"along z"}));
}

TEST_F(StreamTest, DispatchOfTooManyWorkgroupsIsInvalid) {
  const auto& limits = context()->device().limits;
  auto x = floats(64), y = floats(64);
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.dispatch(affine_bindings(x, y, 1, 0), {limits.max_workgroup_count[0] + 1, 1, 1}),
                        ErrorCode::invalid_argument, {"'affine'", std::to_string(limits.max_workgroup_count[0] + 1)}));
}

}  // namespace
}  // namespace aat
