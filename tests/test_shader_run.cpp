// run_shader: any compute shader run from arrays, push/spec constants and a grid — what
// `aat run FILE.comp` does — including every check it makes before touching the device.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>

#include <unistd.h>

#include "device_test.hpp"
#include "saxpy_glsl.hpp"
#include "aat/shader_run.hpp"

namespace aat {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::DeviceTest;
using testing::unwrap;

// f16 storage, f32 arithmetic (needs 16-bit storage only).
constexpr const char* kSaxpyF16 = R"(
#version 450
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(std430, binding = 0) readonly buffer XBuffer { float16_t x[]; } X;
layout(std430, binding = 1) buffer YBuffer { float16_t y[]; } Y;
layout(push_constant) uniform Params { float a; uint n; } params;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) Y.y[i] = float16_t(params.a * float(X.x[i]) + float(Y.y[i]));
}
)";

// int and uint buffers both take i32 data; the output is allocated by run_shader.
constexpr const char* kIntOps = R"(
#version 450
layout(local_size_x = 16) in;
layout(std430, binding = 0) readonly buffer ABuffer { int a[]; } A;
layout(std430, binding = 1) readonly buffer BBuffer { uint b[]; } B;
layout(std430, binding = 2) writeonly buffer CBuffer { int c[]; } C;
layout(push_constant) uniform Params { int k; uint n; } params;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) C.c[i] = A.a[i] * params.k + int(B.b[i]);
}
)";

// Vector and array push constants; a 2-D grid over a 3 x 8 output.
constexpr const char* kPushVectors = R"(
#version 450
layout(local_size_x = 4, local_size_y = 2) in;
layout(std430, binding = 0) writeonly buffer OutBuffer { float o[]; } Out;
layout(push_constant) uniform Params { vec4 scale; int offsets[3]; uvec2 size; bool negate; } p;
void main() {
  uvec2 g = gl_GlobalInvocationID.xy;
  if (g.x >= p.size.x || g.y >= p.size.y) return;
  float v = p.scale[g.x % 4] * float(g.x) + float(p.offsets[g.y]);
  Out.o[g.y * p.size.x + g.x] = p.negate ? -v : v;
}
)";

// A block with a fixed header before its runtime array, and a vec4 array.
constexpr const char* kBlocks = R"(
#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer HeaderBuffer { vec4 header; float data[]; } H;
layout(std430, binding = 1) buffer VecBuffer { vec4 v[]; } V;
void main() {
  V.v[0] = H.header + vec4(H.data[0]);
}
)";

constexpr const char* kBytes = R"(
#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
layout(local_size_x = 8) in;
layout(std430, binding = 0) buffer Data { uint8_t d[]; } D;
layout(push_constant) uniform Params { uint n; } params;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) D.d[i] = uint8_t(uint(D.d[i]) * 2u + 1u);
}
)";

template <class T>
HostArray make_array(DType dtype, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  HostArray array{dtype, std::move(shape), {}};
  array.data.resize(values.size() * sizeof(T));
  std::memcpy(array.data.data(), values.data(), array.data.size());
  return array;
}

template <class T>
std::vector<T> values_of(const HostArray& array) {
  const auto span = unwrap(array.as<T>(), "typed view of an output");
  return {span.begin(), span.end()};
}

class ShaderRunTest : public DeviceTest {
 protected:
  ShaderRunRequest saxpy_request(std::uint32_t n, float a) {
    ShaderRunRequest r;
    r.spirv = compile(testing::saxpy_glsl(), "saxpy.comp");
    r.kernel_name = "saxpy";
    x_.resize(n);
    y_.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      x_[i] = static_cast<float>(i) * 0.5f;
      y_[i] = 2.0f - static_cast<float>(i);
    }
    r.inputs.emplace_back("X", make_array(DType::f32, {n}, x_));
    r.inputs.emplace_back("Y", make_array(DType::f32, {n}, y_));
    r.outputs.push_back({"Y", std::nullopt, std::nullopt});
    r.push.emplace_back("a", std::vector<Value>{Value(double{a})});
    r.push.emplace_back("n", std::vector<Value>{Value(std::int64_t{n})});
    r.grid = {n, 1, 1};
    return r;
  }

  // The error of a request that must fail, with its code and the names its message must hold.
  Error expect_failure(const ShaderRunRequest& request, ErrorCode code) {
    auto result = run_shader(context(), request);
    EXPECT_FALSE(result.has_value());
    if (result) return Error(ErrorCode::internal, "the request succeeded");
    EXPECT_EQ(result.error().code(), code) << result.error().what();
    return result.error();
  }

  std::vector<float> x_, y_;
};

TEST_F(ShaderRunTest, SaxpyF32ReadsTheBoundInputBack) {
  const std::uint32_t n = 1000;
  const auto result = unwrap(run_shader(context(), saxpy_request(n, 3.0f)));
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_EQ(result.outputs[0].first, "Y");
  const HostArray& y = result.outputs[0].second;
  EXPECT_EQ(y.dtype, DType::f32);
  EXPECT_EQ(y.shape, std::vector<std::int64_t>{n});
  const auto out = values_of<float>(y);
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(out[i], 3.0f * x_[i] + y_[i]) << "at " << i;
  EXPECT_EQ(result.local_size, (std::array<std::uint32_t, 3>{64, 1, 1}));
  EXPECT_EQ(result.workgroups, (std::array<std::uint32_t, 3>{16, 1, 1}));  // ceil(1000 / 64)
  if (context()->device().limits.timestamp_period_ns > 0) EXPECT_GT(result.gpu_ms, 0.0);
  else EXPECT_EQ(result.gpu_ms, 0.0);
}

// Inputs read where they lie: views of the caller's vectors, no owner, no host copy.
TEST_F(ShaderRunTest, BorrowedInputsAreReadWhereTheyLie) {
  const std::uint32_t n = 333;
  auto request = saxpy_request(n, -2.0f);
  request.inputs.clear();
  request.inputs.emplace_back("X", HostArrayView(DType::f32, {n}, std::as_bytes(std::span(x_))));
  request.inputs.emplace_back("Y", HostArrayView(DType::f32, {n}, std::as_bytes(std::span(y_))));
  EXPECT_FALSE(request.inputs[0].second.owner);
  EXPECT_EQ(request.inputs[0].second.data.data(), reinterpret_cast<const std::byte*>(x_.data()));
  const auto result = unwrap(run_shader(context(), request));
  const auto out = values_of<float>(result.outputs[0].second);
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(out[i], -2.0f * x_[i] + y_[i]) << "at " << i;
}

// A view made from a HostArray owns it: the temporary the request was built from is gone.
TEST_F(ShaderRunTest, AViewOfATemporaryArrayOwnsIt) {
  const std::uint32_t n = 64;
  auto request = saxpy_request(n, 0.5f);
  const HostArrayView& x = request.inputs[0].second;
  ASSERT_TRUE(x.owner);
  EXPECT_EQ(x.data.size(), n * sizeof(float));
  EXPECT_NE(x.data.data(), reinterpret_cast<const std::byte*>(x_.data()));  // its own bytes
  const HostArrayView copy = x;  // a copy shares the owner, so the bytes outlive the request
  request = {};
  float first = 0;
  std::memcpy(&first, copy.data.data(), sizeof first);
  EXPECT_EQ(first, x_[0]);
}

// A view whose bytes disagree with its dtype and shape is refused before anything is uploaded.
TEST_F(ShaderRunTest, AViewShorterThanItsShapeIsRefused) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs[0].second = HostArrayView(DType::f32, {10}, std::as_bytes(std::span(x_).first(9)));
  const Error error = expect_failure(request, ErrorCode::invalid_argument);
  EXPECT_THAT(error.what(), AllOf(HasSubstr("binding 'X'"), HasSubstr("should hold 40 bytes but holds 36")));
}

TEST_F(ShaderRunTest, SpecConstantChangesTheLocalSizeAndWorkgroups) {
  for (const char* key : {"local_size_x", "0"}) {
    auto request = saxpy_request(1000, 2.0f);
    request.spec.push_back({key, {Value(std::int64_t{128})}, std::nullopt});
    const auto result = unwrap(run_shader(context(), request));
    EXPECT_EQ(result.local_size, (std::array<std::uint32_t, 3>{128, 1, 1})) << key;
    EXPECT_EQ(result.workgroups, (std::array<std::uint32_t, 3>{8, 1, 1})) << key;  // ceil(1000 / 128)
    const auto out = values_of<float>(result.outputs[0].second);
    for (std::size_t i = 0; i < out.size(); ++i) ASSERT_FLOAT_EQ(out[i], 2.0f * x_[i] + y_[i]) << "at " << i;
  }
}

TEST_F(ShaderRunTest, BlockNamesBindToo) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs[0].first = "XBuffer";
  request.outputs[0].binding = "YBuffer";
  const auto result = unwrap(run_shader(context(), request));
  EXPECT_EQ(result.outputs[0].first, "YBuffer");
}

TEST_F(ShaderRunTest, SaxpyF16) {
  if (!context()->device().features.storage_buffer_16bit || !context()->device().features.shader_float16)
    GTEST_SKIP() << "the device has no 16-bit storage / float16";
  const std::uint32_t n = 100;
  std::vector<float> x(n), y(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 17) * 0.25f;
    y[i] = 1.0f - static_cast<float>(i % 5);
  }
  ShaderRunRequest r;
  r.spirv = compile(kSaxpyF16, "saxpy_f16.comp");
  r.kernel_name = "saxpy_f16";
  r.inputs.emplace_back("X", make_array(DType::f16, {n}, to_half(x)));
  r.inputs.emplace_back("Y", make_array(DType::f16, {n}, to_half(y)));
  r.outputs.push_back({"Y", DType::f16, std::vector<std::int64_t>{n}});  // may restate the input's dtype/shape
  r.push.emplace_back("a", std::vector<Value>{Value(2.0)});
  r.push.emplace_back("n", std::vector<Value>{Value(std::int64_t{n})});
  r.grid = {n, 1, 1};
  const auto result = unwrap(run_shader(context(), r));
  EXPECT_EQ(result.workgroups[0], 4u);  // ceil(100 / 32)
  const HostArray& out = result.outputs[0].second;
  ASSERT_EQ(out.dtype, DType::f16);
  const auto got = from_half(values_of<std::uint16_t>(out));
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], 2.0f * x[i] + y[i], 1e-2f) << "at " << i;
}

TEST_F(ShaderRunTest, Int32IntoIntAndUintWithAnAllocatedOutput) {
  const std::int64_t n = 50;
  std::vector<std::int32_t> a(n), b(n);
  std::iota(a.begin(), a.end(), -20);
  std::iota(b.begin(), b.end(), 7);
  ShaderRunRequest r;
  r.spirv = compile(kIntOps, "int_ops.comp");
  r.kernel_name = "int_ops";
  r.inputs.emplace_back("A", make_array(DType::i32, {n}, a));
  r.inputs.emplace_back("B", make_array(DType::i32, {n}, b));
  r.outputs.push_back({"C", DType::i32, std::vector<std::int64_t>{5, 10}});  // any shape of the right size
  r.push.emplace_back("k", std::vector<Value>{Value(std::int64_t{-3})});
  r.push.emplace_back("n", std::vector<Value>{Value(std::int64_t{n})});
  r.grid = {static_cast<std::uint64_t>(n), 1, 1};
  const auto result = unwrap(run_shader(context(), r));
  const HostArray& c = result.outputs[0].second;
  EXPECT_EQ(c.dtype, DType::i32);
  EXPECT_EQ(c.shape, (std::vector<std::int64_t>{5, 10}));
  const auto got = values_of<std::int32_t>(c);
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], a[i] * -3 + b[i]) << "at " << i;
}

TEST_F(ShaderRunTest, AllocatedOutputStartsZeroFilled) {
  // The grid covers only half the output: the rest must read back as zeros.
  ShaderRunRequest r;
  r.spirv = compile(kIntOps, "int_ops.comp");
  r.kernel_name = "int_ops";
  r.inputs.emplace_back("A", make_array(DType::i32, {64}, std::vector<std::int32_t>(64, 5)));
  r.inputs.emplace_back("B", make_array(DType::i32, {64}, std::vector<std::int32_t>(64, 1)));
  r.outputs.push_back({"C", DType::i32, std::vector<std::int64_t>{64}});
  r.push.emplace_back("k", std::vector<Value>{Value(std::int64_t{2})});
  r.push.emplace_back("n", std::vector<Value>{Value(std::int64_t{32})});
  r.grid = {32, 1, 1};
  const auto got = values_of<std::int32_t>(unwrap(run_shader(context(), r)).outputs[0].second);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i < 32 ? 11 : 0) << "at " << i;
}

TEST_F(ShaderRunTest, VectorAndArrayPushConstantsOnA2DGrid) {
  const std::uint32_t w = 8, h = 3;
  ShaderRunRequest r;
  r.spirv = compile(kPushVectors, "push_vectors.comp");
  r.kernel_name = "push_vectors";
  r.outputs.push_back({"Out", DType::f32, std::vector<std::int64_t>{h, w}});
  r.push.emplace_back("scale", std::vector<Value>{Value(1.0), Value(2.0), Value(-1.0), Value(std::int64_t{4})});
  r.push.emplace_back("offsets", std::vector<Value>{Value(std::int64_t{100}), Value(std::int64_t{200}),
                                                    Value(std::int64_t{-300})});
  r.push.emplace_back("size", std::vector<Value>{Value(std::int64_t{w}), Value(std::int64_t{h})});
  // glslang stores a bool block member as a uint, so that is what reflection reports and takes.
  r.push.emplace_back("negate", std::vector<Value>{Value(std::int64_t{1})});
  r.grid = {w, h, 1};
  const auto result = unwrap(run_shader(context(), r));
  EXPECT_EQ(result.local_size, (std::array<std::uint32_t, 3>{4, 2, 1}));
  EXPECT_EQ(result.workgroups, (std::array<std::uint32_t, 3>{2, 2, 1}));
  const auto got = values_of<float>(result.outputs[0].second);
  const float scale[4] = {1, 2, -1, 4};
  const int offsets[3] = {100, 200, -300};
  for (std::uint32_t y = 0; y < h; ++y)
    for (std::uint32_t x = 0; x < w; ++x)
      ASSERT_FLOAT_EQ(got[y * w + x], -(scale[x % 4] * static_cast<float>(x) + static_cast<float>(offsets[y])))
          << "at " << y << "," << x;
}

TEST_F(ShaderRunTest, U8IntoUint8) {
  const auto& f = context()->device().features;
  if (!f.storage_buffer_8bit || !f.shader_int8) GTEST_SKIP() << "the device has no 8-bit storage / int8";
  ShaderRunRequest r;
  r.spirv = compile(kBytes, "bytes.comp");
  r.kernel_name = "bytes";
  std::vector<std::uint8_t> d(20);
  std::iota(d.begin(), d.end(), std::uint8_t{100});
  r.inputs.emplace_back("D", make_array(DType::u8, {20}, d));
  r.outputs.push_back({"D", std::nullopt, std::nullopt});
  r.push.emplace_back("n", std::vector<Value>{Value(std::int64_t{20})});
  r.grid = {20, 1, 1};
  const auto got = values_of<std::uint8_t>(unwrap(run_shader(context(), r)).outputs[0].second);
  for (std::size_t i = 0; i < d.size(); ++i) ASSERT_EQ(got[i], static_cast<std::uint8_t>(d[i] * 2 + 1)) << "at " << i;
}

TEST_F(ShaderRunTest, RunsSpirvLoadedFromAFile) {
  // The .spv path the CLI takes: SPIR-V written to a file and loaded back.
  const auto dir = std::filesystem::temp_directory_path() / ("aat_shader_run_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "saxpy.spv";
  const Spirv words = compile(testing::saxpy_glsl(), "saxpy.comp");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(words.data()), static_cast<std::streamsize>(words.size() * 4));
  }
  auto request = saxpy_request(70, 0.5f);
  request.spirv = unwrap(load_spirv(path));
  std::filesystem::remove_all(dir);
  const auto out = values_of<float>(unwrap(run_shader(context(), request)).outputs[0].second);
  for (std::size_t i = 0; i < out.size(); ++i) ASSERT_FLOAT_EQ(out[i], 0.5f * x_[i] + y_[i]) << "at " << i;
}

// ---- errors, each naming what is at fault ----

TEST_F(ShaderRunTest, UnknownInputBindingIsNotFound) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs[0].first = "Xs";
  const Error e = expect_failure(request, ErrorCode::not_found);
  EXPECT_THAT(e.what(), AllOf(HasSubstr("'Xs'"), HasSubstr("'X'"), HasSubstr("'Y'")));
}

TEST_F(ShaderRunTest, UnknownOutputBindingIsNotFound) {
  auto request = saxpy_request(10, 1.0f);
  request.outputs.push_back({"Z", DType::f32, std::vector<std::int64_t>{10}});
  EXPECT_THAT(expect_failure(request, ErrorCode::not_found).what(), HasSubstr("'Z'"));
}

TEST_F(ShaderRunTest, MissingBindingIsNamed) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs.erase(request.inputs.begin());  // X
  EXPECT_THAT(expect_failure(request, ErrorCode::not_found).what(), AllOf(HasSubstr("'X'"), HasSubstr("not bound")));
}

TEST_F(ShaderRunTest, OutputWithoutShapeMustBeAnInput) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs.pop_back();  // Y is now only an output, with neither dtype nor shape
  EXPECT_THAT(expect_failure(request, ErrorCode::invalid_argument).what(), HasSubstr("'Y'"));
  request.outputs[0].dtype = DType::f32;  // a dtype alone is not enough
  EXPECT_THAT(expect_failure(request, ErrorCode::invalid_argument).what(), HasSubstr("'Y'"));
}

TEST_F(ShaderRunTest, OutputContradictingItsInputIsRejected) {
  auto request = saxpy_request(10, 1.0f);
  request.outputs[0].shape = std::vector<std::int64_t>{2, 5};
  EXPECT_THAT(expect_failure(request, ErrorCode::invalid_argument).what(), AllOf(HasSubstr("'Y'"), HasSubstr("2x5")));
}

TEST_F(ShaderRunTest, BindingGivenTwiceIsRejected) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs.emplace_back("XBuffer", request.inputs[0].second);
  EXPECT_THAT(expect_failure(request, ErrorCode::invalid_argument).what(), HasSubstr("'XBuffer'"));
}

TEST_F(ShaderRunTest, DataSmallerThanTheFixedBlockIsASizeMismatch) {
  ShaderRunRequest r;
  r.spirv = compile(kBlocks, "blocks.comp");
  r.kernel_name = "blocks";
  r.inputs.emplace_back("H", make_array(DType::f32, {2}, std::vector<float>{1, 2}));  // 8 bytes < vec4 header
  r.inputs.emplace_back("V", make_array(DType::f32, {4}, std::vector<float>(4, 0.0f)));
  const Error e = expect_failure(r, ErrorCode::size_mismatch);
  EXPECT_THAT(e.what(), AllOf(HasSubstr("'H'"), HasSubstr("8 bytes"), HasSubstr("16")));
}

TEST_F(ShaderRunTest, RuntimeArrayTailMustBeAMultipleOfTheStride) {
  ShaderRunRequest r;
  r.spirv = compile(kBlocks, "blocks.comp");
  r.kernel_name = "blocks";
  r.inputs.emplace_back("H", make_array(DType::f32, {5}, std::vector<float>(5, 1.0f)));  // header + 1 float: fine
  r.inputs.emplace_back("V", make_array(DType::f32, {6}, std::vector<float>(6, 0.0f)));  // 24 bytes into vec4[]
  const Error e = expect_failure(r, ErrorCode::size_mismatch);
  EXPECT_THAT(e.what(), AllOf(HasSubstr("'V'"), HasSubstr("24 bytes"), HasSubstr("16-byte stride")));

  // 8 floats = two vec4s: runs, and H's fixed header plus runtime tail checks pass.
  r.inputs[1].second = make_array(DType::f32, {2, 4}, std::vector<float>(8, 0.0f));
  r.outputs.push_back({"V", std::nullopt, std::nullopt});
  const auto got = values_of<float>(unwrap(run_shader(context(), r)).outputs[0].second);
  EXPECT_EQ(got, (std::vector<float>{2, 2, 2, 2, 0, 0, 0, 0}));
}

TEST_F(ShaderRunTest, DtypeMustFitTheArrayElementType) {
  auto request = saxpy_request(10, 1.0f);
  request.inputs[0].second = make_array(DType::i32, {10}, std::vector<std::int32_t>(10, 1));
  EXPECT_THAT(expect_failure(request, ErrorCode::type_mismatch).what(),
              AllOf(HasSubstr("'X'"), HasSubstr("i32"), HasSubstr("float")));

  request = saxpy_request(10, 1.0f);
  request.inputs[1].second = make_array(DType::f16, {10}, std::vector<std::uint16_t>(10, 0));
  EXPECT_THAT(expect_failure(request, ErrorCode::type_mismatch).what(),
              AllOf(HasSubstr("'Y'"), HasSubstr("f16"), HasSubstr("float")));
}

TEST_F(ShaderRunTest, AllocatedOutputIsTypeCheckedToo) {
  ShaderRunRequest r;
  r.spirv = compile(kIntOps, "int_ops.comp");
  r.kernel_name = "int_ops";
  r.inputs.emplace_back("A", make_array(DType::i32, {4}, std::vector<std::int32_t>(4, 1)));
  r.inputs.emplace_back("B", make_array(DType::i32, {4}, std::vector<std::int32_t>(4, 1)));
  r.outputs.push_back({"C", DType::f32, std::vector<std::int64_t>{4}});
  r.push.emplace_back("k", std::vector<Value>{Value(std::int64_t{1})});
  r.push.emplace_back("n", std::vector<Value>{Value(std::int64_t{4})});
  EXPECT_THAT(expect_failure(r, ErrorCode::type_mismatch).what(),
              AllOf(HasSubstr("'C'"), HasSubstr("f32"), HasSubstr("int")));
}

TEST_F(ShaderRunTest, UnsetPushMemberIsNamed) {
  auto request = saxpy_request(10, 1.0f);
  request.push.pop_back();  // n
  EXPECT_THAT(expect_failure(request, ErrorCode::not_found).what(), HasSubstr("'n'"));
}

TEST_F(ShaderRunTest, BadPushValuesAreRejected) {
  auto request = saxpy_request(10, 1.0f);
  request.push.emplace_back("b", std::vector<Value>{Value(1.0)});
  EXPECT_THAT(expect_failure(request, ErrorCode::not_found).what(), HasSubstr("'b'"));

  request = saxpy_request(10, 1.0f);
  request.push[1].values = {Value(1.5)};  // n is a uint
  EXPECT_THAT(expect_failure(request, ErrorCode::type_mismatch).what(), HasSubstr("'n'"));
}

TEST_F(ShaderRunTest, UnknownSpecConstantIsNotFound) {
  auto request = saxpy_request(10, 1.0f);
  request.spec.push_back({"TILE", {Value(std::int64_t{4})}, std::nullopt});
  EXPECT_THAT(expect_failure(request, ErrorCode::not_found).what(), HasSubstr("'TILE'"));
}

TEST_F(ShaderRunTest, NoContextIsAnError) {
  auto result = run_shader(nullptr, ShaderRunRequest{});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace aat
