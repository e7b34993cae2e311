// Bindings and kernel specialization: buffers bound by reflected name, push constants set by
// member name with type/range/count checks, sizes checked before anything is recorded, and
// the values that pass the checks arriving in the shader bit for bit.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::unwrap;

using aat::testing::FailsWith;

// Writes every push-constant member (as raw bits) and one value from each buffer to Out.
constexpr const char* kEcho = R"(#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer InBuf { float x[]; } In;
layout(std430, binding = 1) writeonly buffer OutBuf { uint y[]; } Out;
layout(std430, binding = 2) readonly buffer FixedBuf { vec4 table[4]; } Fixed;
layout(push_constant) uniform Push { float f; int i; uint u; vec2 v2; vec4 v4; uint arr[3]; } pc;
void main() {
  Out.y[0] = floatBitsToUint(pc.f);
  Out.y[1] = uint(pc.i);
  Out.y[2] = pc.u;
  Out.y[3] = floatBitsToUint(pc.v2.x);
  Out.y[4] = floatBitsToUint(pc.v2.y);
  for (int k = 0; k < 4; ++k) Out.y[5 + k] = floatBitsToUint(pc.v4[k]);
  for (int k = 0; k < 3; ++k) Out.y[9 + k] = pc.arr[k];
  Out.y[12] = floatBitsToUint(In.x[0] + Fixed.table[3].w);
}
)";
constexpr std::uint32_t kEchoWords = 13;

// Writes its specialization constants out.
constexpr const char* kSpec = R"(#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 7) const uint MAGIC = 1u;
layout(constant_id = 8) const float SCALE = 1.0;
layout(constant_id = 9) const bool FLAG = false;
layout(constant_id = 10) const int SIGNED = -1;
layout(std430, binding = 0) writeonly buffer OutBuf { uint v[6]; } Out;
void main() {
  if (gl_LocalInvocationIndex != 0u) return;
  Out.v[0] = MAGIC;
  Out.v[1] = floatBitsToUint(SCALE);
  Out.v[2] = FLAG ? 1u : 0u;
  Out.v[3] = uint(SIGNED);
  Out.v[4] = gl_WorkGroupSize.x;
  Out.v[5] = gl_WorkGroupSize.y;
}
)";

constexpr const char* kUniform = R"(#version 450
layout(local_size_x = 1) in;
layout(std140, binding = 0) uniform ParamsBuf { vec4 scale; } Params;
layout(std430, binding = 1) writeonly buffer OutBuf { float y[4]; } Out;
void main() { for (int k = 0; k < 4; ++k) Out.y[k] = Params.scale[k]; }
)";

constexpr const char* kBufferArray = R"(#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer TableBuf { uint entries[]; } tables[2];
layout(std430, binding = 1) writeonly buffer OutBuf { uint y[2]; } Out;
void main() { Out.y[0] = tables[0].entries[0]; Out.y[1] = tables[1].entries[0]; }
)";

std::vector<Value> floats(std::initializer_list<double> values) {
  std::vector<Value> out;
  for (double v : values) out.emplace_back(v);
  return out;
}

std::vector<Value> ints(std::initializer_list<std::int64_t> values) {
  std::vector<Value> out;
  for (std::int64_t v : values) out.emplace_back(v);
  return out;
}

std::uint32_t bits(float value) { return std::bit_cast<std::uint32_t>(value); }

class BindingsTest : public DeviceTest {
 protected:
  Kernel echo() { return unwrap(Kernel::create(context(), compile(kEcho, "echo.comp"), "echo")); }

  // A Bindings for the echo kernel with every buffer bound and every member set.
  struct Echo {
    Kernel kernel;
    Bindings bindings;
    Tensor in, out, fixed;
  };
  Echo complete_echo() {
    auto kernel = echo();
    Echo e{kernel, Bindings(kernel), {}, {}, {}};
    const std::vector<float> x = {0.5f};
    std::vector<float> table(16, 0.0f);
    table[15] = 0.25f;
    e.in = unwrap(Tensor::from_values<float>(context(), DType::f32, {1}, x));
    e.out = unwrap(Tensor::create(context(), DType::i32, {kEchoWords}));
    e.fixed = unwrap(Tensor::from_values<float>(context(), DType::f32, {16}, table));
    set_all_but(e.bindings, e, "");
    return e;
  }

  // Binds every buffer of the echo kernel and sets every push member but `left_out`.
  static void set_all_but(Bindings& b, const Echo& e, std::string_view left_out) {
    auto set = [&](std::string_view name, auto&& action) {
      if (name != left_out) {
        EXPECT_TRUE(action().has_value()) << name;
      }
    };
    set("In", [&] { return b.bind("In", e.in); });
    set("Out", [&] { return b.bind("Out", e.out); });
    set("Fixed", [&] { return b.bind("Fixed", e.fixed); });
    set("f", [&] { return b.push("f", 1.0f); });
    set("i", [&] { return b.push("i", 1); });
    set("u", [&] { return b.push("u", 1u); });
    set("v2", [&] { return b.push("v2", floats({0, 0})); });
    set("v4", [&] { return b.push("v4", floats({0, 0, 0, 0})); });
    set("arr", [&] { return b.push("arr", ints({0, 0, 0})); });
  }

  std::vector<std::uint32_t> run_and_read(const Bindings& bindings, const Tensor& out, Workgroups groups = {}) {
    auto stream = unwrap(Stream::create(context()));
    EXPECT_TRUE(stream.dispatch(bindings, groups).has_value());
    EXPECT_TRUE(stream.run().has_value());
    const auto bytes = unwrap(out.download());
    std::vector<std::uint32_t> words(bytes.size() / 4);
    std::memcpy(words.data(), bytes.data(), words.size() * 4);
    return words;
  }

  Kernel spec_kernel(const KernelOptions& options = {}) {
    return unwrap(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", options));
  }

  std::vector<std::uint32_t> run_spec(const KernelOptions& options) {
    auto kernel = spec_kernel(options);
    auto out = unwrap(Tensor::create(context(), DType::i32, {6}));
    Bindings bindings(kernel);
    EXPECT_TRUE(bindings.bind("Out", out).has_value());
    return run_and_read(bindings, out);
  }
};

// --- binding buffers ---------------------------------------------------------------------

TEST_F(BindingsTest, UnknownBindingNameIsNotFoundListingTheKnownNames) {
  Bindings bindings(echo());
  auto buffer = unwrap(Buffer::create(context(), 64));
  EXPECT_TRUE(FailsWith(bindings.bind("Inn", buffer), ErrorCode::not_found,
                        {"'Inn'", "'echo'", "'In'", "'Out'", "'Fixed'"}));
}

TEST_F(BindingsTest, BlockNameAlsoBinds) {
  Bindings bindings(echo());
  auto buffer = unwrap(Buffer::create(context(), 64));
  EXPECT_TRUE(bindings.bind("FixedBuf", buffer).has_value());
  EXPECT_TRUE(bindings.buffers()[2]);
}

TEST_F(BindingsTest, EmptyBufferHandleIsInvalid) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.bind("In", Buffer()), ErrorCode::invalid_argument, {"'In'"}));
}

TEST_F(BindingsTest, BufferBeyondTheStorageBufferRangeIsUnsupported) {
  const std::uint64_t range = context()->device().limits.max_storage_buffer_range;
  if (range + 4 > context()->device().limits.max_allocation_bytes) GTEST_SKIP() << "cannot allocate past the range";
  auto huge = unwrap(Buffer::create(context(), range + 4));
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.bind("In", huge), ErrorCode::unsupported,
                        {"'In'", std::to_string(range + 4), std::to_string(range)}));
}

TEST_F(BindingsTest, UnboundBindingFailsValidationNamingIt) {
  auto e = complete_echo();
  Bindings partial(e.kernel);
  ASSERT_TRUE(partial.bind("In", e.in).has_value());
  EXPECT_TRUE(FailsWith(partial.validate(), ErrorCode::not_found, {"'Out'", "not bound"}));
}

TEST_F(BindingsTest, CompleteBindingsValidate) {
  auto e = complete_echo();
  EXPECT_TRUE(e.bindings.validate().has_value()) << e.bindings.validate().error().what();
}

TEST_F(BindingsTest, TooSmallBufferForAFixedBlockIsASizeMismatch) {
  auto e = complete_echo();
  auto small = unwrap(Buffer::create(context(), 16));
  ASSERT_TRUE(e.bindings.bind("Fixed", small).has_value());  // bind() accepts it; the check is on use
  EXPECT_TRUE(FailsWith(e.bindings.validate(), ErrorCode::size_mismatch,
                        {"binding 'Fixed' of kernel 'echo': buffer holds 16 bytes, shader reads 64"}));
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.dispatch(e.bindings, {}), ErrorCode::size_mismatch, {"buffer holds 16 bytes"}));
}

TEST_F(BindingsTest, CheckArrayFitsComparesElementTypeAndSize) {
  const Kernel kernel = echo();
  const Binding& in = *kernel.interface().find_binding("In");        // float x[] (runtime array)
  const Binding& fixed = *kernel.interface().find_binding("Fixed");  // vec4 table[4]: 64 bytes of f32
  EXPECT_TRUE(check_array_fits(kernel, in, DType::f32, 40, "f32[10]").has_value());
  EXPECT_TRUE(check_array_fits(kernel, in, DType::f32, 0, "f32[0]").has_value());
  EXPECT_TRUE(FailsWith(check_array_fits(kernel, in, DType::i32, 40, "i32[10]"), ErrorCode::type_mismatch,
                        {"binding 'In' of kernel 'echo'", "i32[10]", "'x'", "f32 data"}));
  EXPECT_TRUE(FailsWith(check_array_fits(kernel, in, DType::f32, 6, "6 bytes"), ErrorCode::size_mismatch,
                        {"6 bytes", "4-byte stride of 'x'"}));
  EXPECT_TRUE(check_array_fits(kernel, fixed, DType::f32, 64, "f32[16]").has_value());
  EXPECT_TRUE(check_array_fits(kernel, fixed, DType::f32, 80, "f32[20]").has_value());  // more than the block: fine
  EXPECT_TRUE(FailsWith(check_array_fits(kernel, fixed, DType::f32, 60, "f32[15]"), ErrorCode::size_mismatch,
                        {"holds 60 bytes", "at least 64"}));
  EXPECT_EQ(kernel.interface().binding_names(), "'In', 'Out', 'Fixed'");
}

TEST_F(BindingsTest, RequiredBytesBeyondTheBufferIsASizeMismatch) {
  auto e = complete_echo();
  ASSERT_TRUE(e.bindings.require_bytes("Out", 4 * kEchoWords).has_value());
  EXPECT_TRUE(e.bindings.validate().has_value());
  ASSERT_TRUE(e.bindings.require_bytes("Out", 1000).has_value());
  EXPECT_TRUE(FailsWith(e.bindings.validate(), ErrorCode::size_mismatch,
                        {"'Out'", "buffer holds 52 bytes, shader reads 1000"}));
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.dispatch(e.bindings, {}), ErrorCode::size_mismatch, {"shader reads 1000"}));
}

TEST_F(BindingsTest, RequireBytesOnAnUnknownBindingIsNotFound) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.require_bytes("Missing", 4), ErrorCode::not_found, {"'Missing'"}));
}

// --- push constants ----------------------------------------------------------------------

TEST_F(BindingsTest, UnknownPushMemberIsNotFoundNamingIt) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.push("scale", 1.0f), ErrorCode::not_found, {"'scale'", "'f'", "'arr'"}));
}

TEST_F(BindingsTest, PushOnAKernelWithoutPushConstantsIsNotFound) {
  auto kernel = spec_kernel();
  Bindings bindings(kernel);
  EXPECT_TRUE(FailsWith(bindings.push("n", 1u), ErrorCode::not_found, {"'n'", "none"}));
}

TEST_F(BindingsTest, MemberNeverSetFailsValidationNamingIt) {
  auto e = complete_echo();
  Bindings fresh(e.kernel);
  set_all_but(fresh, e, "arr");
  EXPECT_TRUE(FailsWith(fresh.validate(), ErrorCode::not_found, {"'arr'", "never set"}));
  auto stream = unwrap(Stream::create(context()));
  EXPECT_TRUE(FailsWith(stream.dispatch(fresh, {}), ErrorCode::not_found, {"'arr'"}));
}

TEST_F(BindingsTest, FloatIntoUintMemberIsATypeMismatch) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.push("u", 1.5f), ErrorCode::type_mismatch, {"'u'", "uint"}));
  EXPECT_TRUE(FailsWith(bindings.push("u", Value(2.0)), ErrorCode::type_mismatch, {"'u'"}));
}

TEST_F(BindingsTest, NegativeIntoUintMemberIsInvalid) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.push("u", -1), ErrorCode::invalid_argument, {"'u'", "-1"}));
  EXPECT_TRUE(FailsWith(bindings.push("arr", ints({1, -2, 3})), ErrorCode::invalid_argument, {"'arr'", "-2"}));
}

TEST_F(BindingsTest, UintTooLargeForIntMemberIsInvalid) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.push("i", 0x80000000u), ErrorCode::invalid_argument, {"'i'", "2147483648"}));
}

TEST_F(BindingsTest, WrongComponentCountIsASizeMismatch) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.push("v2", floats({1, 2, 3})), ErrorCode::size_mismatch,
                        {"'v2'", "takes 2 value(s), got 3"}));
  EXPECT_TRUE(FailsWith(bindings.push("v4", 1.0f), ErrorCode::size_mismatch, {"takes 4 value(s), got 1"}));
  EXPECT_TRUE(FailsWith(bindings.push("arr", ints({1, 2})), ErrorCode::size_mismatch, {"takes 3"}));
  EXPECT_TRUE(FailsWith(bindings.push("f", floats({1, 2})), ErrorCode::size_mismatch, {"takes 1"}));
}

TEST_F(BindingsTest, BoolIntoFloatMemberIsATypeMismatch) {
  Bindings bindings(echo());
  EXPECT_TRUE(FailsWith(bindings.push("f", Value(true)), ErrorCode::type_mismatch, {"'f'", "bool"}));
}

TEST_F(BindingsTest, IntegerIntoFloatMemberIsConverted) {
  Bindings bindings(echo());
  ASSERT_TRUE(bindings.push("f", 3).has_value());
  std::uint32_t stored = 0;
  std::memcpy(&stored, bindings.push_data().data(), 4);
  EXPECT_EQ(stored, bits(3.0f));
}

TEST_F(BindingsTest, FailedPushLeavesTheMemberAsItWas) {
  Bindings bindings(echo());
  ASSERT_TRUE(bindings.push("arr", ints({7, 8, 9})).has_value());
  ASSERT_FALSE(bindings.push("arr", ints({1, -1, 2})).has_value());
  std::uint32_t stored[3];
  std::memcpy(stored, bindings.push_data().data() + 48, sizeof(stored));
  EXPECT_EQ(stored[0], 7u);
  EXPECT_EQ(stored[1], 8u);
  EXPECT_EQ(stored[2], 9u);
}

TEST_F(BindingsTest, FailedPushDoesNotCountAsSet) {
  auto e = complete_echo();
  Bindings fresh(e.kernel);
  set_all_but(fresh, e, "u");
  ASSERT_FALSE(fresh.push("u", -5).has_value());
  EXPECT_TRUE(FailsWith(fresh.validate(), ErrorCode::not_found, {"'u'", "never set"}));
}

TEST_F(BindingsTest, PushBytesOfTheWrongSizeIsASizeMismatch) {
  Bindings bindings(echo());
  const std::vector<std::byte> eight(8);
  EXPECT_TRUE(FailsWith(bindings.push_bytes("v4", eight), ErrorCode::size_mismatch, {"'v4'", "16 bytes, got 8"}));
  const std::vector<std::byte> sixteen(16);
  EXPECT_TRUE(bindings.push_bytes("v4", sixteen).has_value());
}

TEST_F(BindingsTest, PushedScalarsVectorsAndArraysReachTheShader) {
  auto e = complete_echo();
  ASSERT_TRUE(e.bindings.push("f", 1.5f).has_value());
  ASSERT_TRUE(e.bindings.push("i", -7).has_value());
  ASSERT_TRUE(e.bindings.push("u", 4000000000u).has_value());
  ASSERT_TRUE(e.bindings.push("v2", floats({0.25, -0.5})).has_value());
  ASSERT_TRUE(e.bindings.push("v4", floats({1.0, 2.0, 3.0, 4.5})).has_value());
  ASSERT_TRUE(e.bindings.push("arr", ints({10, 20, 0xffffffff})).has_value());
  const auto out = run_and_read(e.bindings, e.out);
  ASSERT_EQ(out.size(), kEchoWords);
  EXPECT_EQ(out[0], bits(1.5f));
  EXPECT_EQ(out[1], static_cast<std::uint32_t>(-7));
  EXPECT_EQ(out[2], 4000000000u);
  EXPECT_EQ(out[3], bits(0.25f));
  EXPECT_EQ(out[4], bits(-0.5f));
  EXPECT_EQ(out[5], bits(1.0f));
  EXPECT_EQ(out[6], bits(2.0f));
  EXPECT_EQ(out[7], bits(3.0f));
  EXPECT_EQ(out[8], bits(4.5f));
  EXPECT_EQ(out[9], 10u);
  EXPECT_EQ(out[10], 20u);
  EXPECT_EQ(out[11], 0xffffffffu);
  EXPECT_EQ(out[12], bits(0.75f));  // In.x[0] + Fixed.table[3].w: both buffers were read
}

TEST_F(BindingsTest, BindingsCanBeChangedBetweenDispatches) {
  auto e = complete_echo();
  auto stream = unwrap(Stream::create(context()));
  ASSERT_TRUE(e.bindings.push("u", 1u).has_value());
  ASSERT_TRUE(stream.dispatch(e.bindings, {}).has_value());
  auto second_out = unwrap(Tensor::create(context(), DType::i32, {kEchoWords}));
  ASSERT_TRUE(e.bindings.push("u", 2u).has_value());
  ASSERT_TRUE(e.bindings.bind("Out", second_out).has_value());
  ASSERT_TRUE(stream.dispatch(e.bindings, {}).has_value());  // the stream snapshotted the first
  ASSERT_TRUE(stream.run().has_value());
  EXPECT_EQ(unwrap(e.out.download_values<std::int32_t>())[2], 1);
  EXPECT_EQ(unwrap(second_out.download_values<std::int32_t>())[2], 2);
}

TEST_F(BindingsTest, UniformBufferLargerThanItsBlockCanBeBound) {
  // The block is 16 bytes; the buffer is larger than any device's uniform range.
  auto kernel = unwrap(Kernel::create(context(), compile(kUniform, "uniform.comp"), "uniform"));
  std::vector<float> params(64 * 1024, 0.0f);
  for (int k = 0; k < 4; ++k) params[k] = static_cast<float>(k + 1);
  auto big = unwrap(Tensor::from_values<float>(context(), DType::f32, {64 * 1024}, params));
  auto out = unwrap(Tensor::create(context(), DType::f32, {4}));
  Bindings bindings(kernel);
  ASSERT_TRUE(bindings.bind("Params", big).has_value());
  ASSERT_TRUE(bindings.bind("Out", out).has_value());
  auto stream = unwrap(Stream::create(context()));
  ASSERT_TRUE(stream.dispatch(bindings, {}).has_value());
  ASSERT_TRUE(stream.run().has_value());
  EXPECT_EQ(unwrap(out.download_values<float>()), (std::vector<float>{1, 2, 3, 4}));
}

TEST_F(BindingsTest, ArrayOfBuffersIsRefusedNamingTheBinding) {
  // Bindings holds one buffer per name; the second element could never be bound.
  const auto kernel = Kernel::create(context(), compile(kBufferArray, "array.comp"), "array");
  EXPECT_TRUE(FailsWith(kernel, ErrorCode::unsupported, {"'tables'", "array of 2"}));
}

// --- specialization constants and local size ---------------------------------------------

TEST_F(BindingsTest, SpecConstantDefaultsApplyWhenNothingIsSet) {
  const auto out = run_spec({});
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[1], bits(1.0f));
  EXPECT_EQ(out[2], 0u);
  EXPECT_EQ(out[3], 0xffffffffu);
  EXPECT_EQ(out[4], 1u);
  EXPECT_EQ(out[5], 1u);
}

TEST_F(BindingsTest, SpecConstantsSetByNameChangeBehaviour) {
  KernelOptions options;
  options.spec = {{"MAGIC", Value(std::int64_t{42})},
                  {"SCALE", Value(2.5)},
                  {"FLAG", Value(true)},
                  {"SIGNED", Value(std::int64_t{-9})}};
  const auto out = run_spec(options);
  EXPECT_EQ(out[0], 42u);
  EXPECT_EQ(out[1], bits(2.5f));
  EXPECT_EQ(out[2], 1u);
  EXPECT_EQ(out[3], static_cast<std::uint32_t>(-9));
}

TEST_F(BindingsTest, SpecConstantsSetByIdChangeBehaviour) {
  KernelOptions options;
  options.spec = {{"7", Value(std::int64_t{99})}, {"8", Value(std::int64_t{3})}};
  const auto out = run_spec(options);
  EXPECT_EQ(out[0], 99u);
  EXPECT_EQ(out[1], bits(3.0f));
}

TEST_F(BindingsTest, LaterSettingOfTheSameSpecConstantWins) {
  KernelOptions options;
  options.spec = {{"MAGIC", Value(std::int64_t{5})}, {"7", Value(std::int64_t{6})}};
  EXPECT_EQ(run_spec(options)[0], 6u);
}

TEST_F(BindingsTest, LocalSizeSpecConstantsResizeTheWorkgroup) {
  KernelOptions options;
  options.spec = {{"local_size_x", Value(std::int64_t{8})}, {"local_size_y", Value(std::int64_t{4})}};
  EXPECT_EQ(spec_kernel(options).local_size(), (std::array<std::uint32_t, 3>{8, 4, 1}));
  const auto out = run_spec(options);
  EXPECT_EQ(out[4], 8u);
  EXPECT_EQ(out[5], 4u);
}

TEST_F(BindingsTest, UnknownSpecConstantIsNotFoundListingTheKnownOnes) {
  KernelOptions options;
  options.spec = {{"MAGICK", Value(std::int64_t{1})}};
  EXPECT_TRUE(FailsWith(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", options),
                        ErrorCode::not_found, {"'MAGICK'", "MAGIC (id 7)", "SCALE (id 8)"}));
}

TEST_F(BindingsTest, SpecConstantOfTheWrongKindIsRefused) {
  KernelOptions as_int;
  as_int.spec = {{"FLAG", Value(std::int64_t{1})}};
  EXPECT_TRUE(FailsWith(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", as_int),
                        ErrorCode::type_mismatch, {"FLAG"}));
  KernelOptions negative;
  negative.spec = {{"MAGIC", Value(std::int64_t{-1})}};
  EXPECT_TRUE(FailsWith(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", negative),
                        ErrorCode::invalid_argument, {"MAGIC"}));
}

TEST_F(BindingsTest, LocalSizeAboveTheDeviceLimitIsInvalid) {
  const auto& limits = context()->device().limits;
  KernelOptions options;
  options.spec = {{"local_size_x", Value(std::int64_t{limits.max_workgroup_size[0]} + 1)}};
  EXPECT_TRUE(FailsWith(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", options),
                        ErrorCode::invalid_argument, {"local size x", std::to_string(limits.max_workgroup_size[0] + 1)}));
}

TEST_F(BindingsTest, WorkgroupAboveTheInvocationLimitIsInvalid) {
  const auto& limits = context()->device().limits;
  const std::uint32_t x = std::min(limits.max_workgroup_size[0], limits.max_workgroup_invocations);
  const std::uint32_t y = limits.max_workgroup_invocations / x + 1;
  if (y > limits.max_workgroup_size[1]) GTEST_SKIP() << "the per-axis limit is hit first on this device";
  KernelOptions options;
  options.spec = {{"local_size_x", Value(std::int64_t{x})}, {"local_size_y", Value(std::int64_t{y})}};
  EXPECT_TRUE(FailsWith(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", options),
                        ErrorCode::invalid_argument, {"invocations"}));
}

TEST_F(BindingsTest, ZeroLocalSizeIsInvalid) {
  KernelOptions options;
  options.spec = {{"local_size_y", Value(std::int64_t{0})}};
  EXPECT_TRUE(FailsWith(Kernel::create(context(), compile(kSpec, "spec.comp"), "spec", options),
                        ErrorCode::invalid_argument, {"local size y"}));
}

}  // namespace
}  // namespace aat
