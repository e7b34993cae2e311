// The context's kernel cache: one reflection per SPIR-V module, one pipeline per (SPIR-V,
// specialization, subgroup size), layouts shared by kernels that bind alike, descriptor sets
// reused across dispatches, and the placeholder bound where a dispatch leaves a binding unused.
#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::FailsWith;
using testing::unwrap;

// The interface both test shaders declare alike (so they share layouts): X, Y, B and (a, n).
#define AAT_TEST_INTERFACE \
  "layout(std430, binding = 0) readonly buffer XBuffer { float x[]; } X;\n" \
  "layout(std430, binding = 1) writeonly buffer YBuffer { float y[]; } Y;\n" \
  "layout(std430, binding = 2) readonly buffer BBuffer { float b[]; } B;\n" \
  "layout(push_constant) uniform Params { float a; uint n; } params;\n"

// y[i] = a * x[i] (+ b[0] when ADD_B), for i < n.
constexpr const char* kScale =
    "#version 450\nlayout(local_size_x_id = 0) in;\nlayout(constant_id = 1) const bool ADD_B = false;\n"
    AAT_TEST_INTERFACE
    "void main() {\n"
    "  uint i = gl_GlobalInvocationID.x;\n"
    "  if (i < params.n) Y.y[i] = params.a * X.x[i] + (ADD_B ? B.b[0] : 0.0);\n"
    "}\n";

// Another shader with the same bindings and push block: it shares the layouts.
constexpr const char* kSubtract =
    "#version 450\nlayout(local_size_x = 32) in;\n"
    AAT_TEST_INTERFACE
    "void main() { if (gl_GlobalInvocationID.x < params.n) Y.y[gl_GlobalInvocationID.x] = B.b[0] - params.a * "
    "X.x[gl_GlobalInvocationID.x]; }\n";
#undef AAT_TEST_INTERFACE

class KernelCacheTest : public DeviceTest {
 protected:
  // A context of its own, so the counts start at zero.
  std::shared_ptr<Context> fresh() {
    return unwrap(Context::create(testing::checked_context_options(std::make_shared<testing::ValidationLog>())));
  }
  static KernelOptions spec(std::int64_t local_size, bool add_b) {
    return KernelOptions{.spec = {{"local_size_x", Value(local_size)}, {"ADD_B", Value(add_b)}}};
  }
};

TEST_F(KernelCacheTest, TheSameSpirvAndSpecializationShareOnePipeline) {
  auto context = fresh();
  const Spirv spirv = compile(kScale, "scale.comp");
  auto first = unwrap(Kernel::create(context, spirv, "first", spec(64, false)));
  auto second = unwrap(Kernel::create(context, spirv, "second", spec(64, false)));
  const auto stats = context->kernel_cache_stats();
  EXPECT_EQ(stats.programs, 1u);
  EXPECT_EQ(stats.pipelines, 1u);
  EXPECT_EQ(first.name(), "first");  // names stay the caller's
  EXPECT_EQ(second.name(), "second");
  EXPECT_EQ(&first.interface(), &second.interface());  // one reflection
}

TEST_F(KernelCacheTest, ASpecializationGivenByDefaultOrByValueIsOneKey) {
  auto context = fresh();
  const Spirv spirv = compile(kScale, "scale.comp");
  unwrap(Kernel::create(context, spirv, "a", KernelOptions{.spec = {{"local_size_x", Value(std::int64_t{64})}}}));
  unwrap(Kernel::create(context, spirv, "b", spec(64, false)));  // ADD_B = its default
  EXPECT_EQ(context->kernel_cache_stats().pipelines, 1u);
}

TEST_F(KernelCacheTest, OtherSpecializationsAndSubgroupSizesAreOtherPipelines) {
  auto context = fresh();
  const Spirv spirv = compile(kScale, "scale.comp");
  auto narrow = unwrap(Kernel::create(context, spirv, "k", spec(32, false)));
  auto wide = unwrap(Kernel::create(context, spirv, "k", spec(64, true)));
  EXPECT_EQ(narrow.local_size()[0], 32u);
  EXPECT_EQ(wide.local_size()[0], 64u);
  const auto& limits = context->device().limits;
  std::uint64_t expected = 2;
  if (context->device().features.subgroup_size_control) {
    auto options = spec(64, true);
    options.required_subgroup_size = limits.max_subgroup_size;
    unwrap(Kernel::create(context, spirv, "k", options));
    expected = 3;
  }
  const auto stats = context->kernel_cache_stats();
  EXPECT_EQ(stats.programs, 1u);
  EXPECT_EQ(stats.pipelines, expected);
}

TEST_F(KernelCacheTest, KernelsThatBindAlikeShareTheirLayouts) {
  auto context = fresh();
  unwrap(Kernel::create(context, compile(kScale, "scale.comp"), "scale", spec(64, false)));
  unwrap(Kernel::create(context, compile(kSubtract, "subtract.comp"), "subtract"));
  const auto stats = context->kernel_cache_stats();
  EXPECT_EQ(stats.programs, 2u);
  EXPECT_EQ(stats.set_layouts, 1u);
  EXPECT_EQ(stats.pipeline_layouts, 1u);
}

TEST_F(KernelCacheTest, DescriptorSetsAreReusedAcrossDispatches) {
  auto context = fresh();
  auto kernel = unwrap(Kernel::create(context, compile(kScale, "scale.comp"), "scale", spec(64, false)));
  auto x = unwrap(Tensor::from_values<float>(context, DType::f32, {100}, std::vector<float>(100, 2.0f)));
  auto y = unwrap(Tensor::create(context, DType::f32, {100}));
  auto stream = unwrap(Stream::create(context));
  for (int round = 0; round < 20; ++round) {
    Bindings bindings(kernel);
    ASSERT_TRUE(bindings.bind("X", x));
    ASSERT_TRUE(bindings.bind("Y", y));
    ASSERT_TRUE(bindings.bind_unused("B"));
    ASSERT_TRUE(bindings.push("a", static_cast<float>(round)));
    ASSERT_TRUE(bindings.push("n", 100u));
    for (int d = 0; d < 3; ++d) ASSERT_TRUE(stream.dispatch(bindings, {2, 1, 1}));
    ASSERT_TRUE(stream.run());
    ASSERT_TRUE(stream.reset());
  }
  // Three dispatches in flight at once took three sets; every round after the first reused them.
  EXPECT_EQ(context->kernel_cache_stats().descriptor_sets, 3u);
  const auto out = unwrap(y.download_values<float>());
  EXPECT_EQ(out[99], 19.0f * 2.0f);
}

TEST_F(KernelCacheTest, AnUnusedBindingGetsThePlaceholder) {
  auto kernel = unwrap(Kernel::create(context(), compile(kScale, "scale.comp"), "scale", spec(64, false)));
  const std::vector<float> values{1.0f, 2.0f, 3.0f};
  auto x = unwrap(Tensor::from_values<float>(context(), DType::f32, {3}, values));
  auto y = unwrap(Tensor::create(context(), DType::f32, {3}));
  Bindings bindings(kernel);
  ASSERT_TRUE(bindings.bind("X", x));
  ASSERT_TRUE(bindings.bind("Y", y));
  ASSERT_TRUE(bindings.push("a", 3.0f));
  ASSERT_TRUE(bindings.push("n", 3u));
  EXPECT_TRUE(FailsWith(bindings.validate(), ErrorCode::not_found, {"'B'", "not bound"}));
  ASSERT_TRUE(bindings.bind_unused("B"));
  EXPECT_TRUE(bindings.uses_placeholder());
  auto stream = unwrap(Stream::create(context()));
  ASSERT_TRUE(stream.dispatch(bindings, {1, 1, 1}));
  ASSERT_TRUE(stream.run());
  EXPECT_EQ(unwrap(y.download_values<float>()), (std::vector<float>{3.0f, 6.0f, 9.0f}));
}

TEST_F(KernelCacheTest, ThePlaceholderIsRefusedForABlockLargerThanIt) {
  constexpr const char* kFixed = R"(
#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer Table { vec4 rows[4]; } T;
layout(std430, binding = 1) writeonly buffer Out { float y[]; } Y;
void main() { Y.y[0] = T.rows[0].x; }
)";
  auto kernel = unwrap(Kernel::create(context(), compile(kFixed, "fixed.comp"), "fixed"));
  Bindings bindings(kernel);
  EXPECT_TRUE(FailsWith(bindings.bind_unused("T"), ErrorCode::invalid_argument, {"'T'", "64 bytes", "placeholder"}));
  EXPECT_TRUE(FailsWith(bindings.bind_unused("nope"), ErrorCode::not_found, {"'nope'"}));
}

}  // namespace
}  // namespace aat
