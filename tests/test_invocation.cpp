// The one invocation path (aat/invocation.hpp): a kernel run on named tensors with named push
// and specialization values, typed or text, and the checks every host adapter relies on.
#include <numeric>

#include "aat/invocation.hpp"
#include "aat/shader_run.hpp"
#include "device_test.hpp"

namespace aat {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::DeviceTest;
using testing::unwrap;

constexpr const char* kAxpb = R"(
#version 450
layout(local_size_x = 32, local_size_x_id = 0) in;
layout(constant_id = 1) const int OFFSET = 0;
layout(std430, binding = 0) readonly buffer XBuffer { float x[]; } X;
layout(std430, binding = 1) writeonly buffer YBuffer { float y[]; } Y;
layout(push_constant) uniform Params { vec2 ab; uint n; } params;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) Y.y[i] = params.ab.x * X.x[i] + params.ab.y + float(OFFSET);
}
)";

class InvocationTest : public DeviceTest {
 protected:
  static constexpr std::int64_t kN = 100;

  Kernel kernel(std::vector<NamedValue> spec = {}) {
    return unwrap(create_kernel(context(), compile(kAxpb, "axpb.comp"), "axpb", spec));
  }
  Invocation invocation() {
    std::vector<float> x(kN);
    std::iota(x.begin(), x.end(), 0.0f);
    Invocation inv;
    inv.tensors.push_back({"X", unwrap(Tensor::from_values<float>(context(), DType::f32, {kN}, x))});
    inv.tensors.push_back({"Y", unwrap(Tensor::create(context(), DType::f32, {kN}))});
    inv.push.push_back({"ab", {Value(2.0), Value(0.5)}, std::nullopt});
    inv.push.push_back({"n", {}, std::string("100")});  // text, parsed as the member's uint
    inv.grid = {kN, 1, 1};
    return inv;
  }
  Error failure(const Kernel& k, const Invocation& inv, ErrorCode code) {
    auto ran = run_invocation(context(), k, inv);
    EXPECT_FALSE(ran.has_value());
    if (ran) return Error(ErrorCode::internal, "ran");
    EXPECT_EQ(ran.error().code(), code) << ran.error().what();
    return ran.error();
  }
};

TEST_F(InvocationTest, TypedAndTextValuesRunTheKernel) {
  // The specialization constant by name as text, the local size by its id as a typed value.
  const Kernel k = kernel({{"OFFSET", {}, std::string("3")}, {"0", {Value(std::int64_t{64})}, std::nullopt}});
  EXPECT_EQ(k.local_size()[0], 64u);
  const Invocation inv = invocation();
  unwrap(run_invocation(context(), k, inv));
  const auto y = unwrap(inv.tensors[1].tensor.download_values<float>());
  for (std::int64_t i = 0; i < kN; ++i) EXPECT_EQ(y[static_cast<std::size_t>(i)], 2.0f * static_cast<float>(i) + 3.5f);
}

TEST_F(InvocationTest, ZeroFillClearsBeforeTheDispatch) {
  const Kernel k = kernel();
  Invocation inv = invocation();
  const Tensor extra = unwrap(Tensor::from_values<float>(context(), DType::f32, {4}, std::vector<float>(4, 7.0f)));
  inv.zero_fill.push_back(extra);
  unwrap(run_invocation(context(), k, inv));
  EXPECT_EQ(unwrap(extra.download_values<float>()), std::vector<float>(4, 0.0f));
}

TEST_F(InvocationTest, BindingErrorsNameTheBinding) {
  const Kernel k = kernel();
  Invocation unknown = invocation();
  unknown.tensors[1].name = "Z";
  EXPECT_THAT(failure(k, unknown, ErrorCode::not_found).what(), AllOf(HasSubstr("'Z'"), HasSubstr("'X', 'Y'")));

  Invocation twice = invocation();
  twice.tensors[1].name = "XBuffer";  // the block name of X
  EXPECT_THAT(failure(k, twice, ErrorCode::invalid_argument).what(), AllOf(HasSubstr("'X'"), HasSubstr("'XBuffer'")));

  Invocation missing = invocation();
  missing.tensors.pop_back();
  EXPECT_THAT(failure(k, missing, ErrorCode::not_found).what(), AllOf(HasSubstr("'Y'"), HasSubstr("not bound")));

  Invocation wrong_type = invocation();
  wrong_type.tensors[0].tensor = unwrap(Tensor::create(context(), DType::i32, {kN}));
  EXPECT_THAT(failure(k, wrong_type, ErrorCode::type_mismatch).what(), AllOf(HasSubstr("'X'"), HasSubstr("i32")));

  Invocation empty = invocation();
  empty.tensors[0].tensor = Tensor();
  EXPECT_THAT(failure(k, empty, ErrorCode::invalid_argument).what(), HasSubstr("no tensor"));
}

TEST_F(InvocationTest, ValueErrorsNameTheMemberOrConstant) {
  const Kernel k = kernel();
  Invocation unset = invocation();
  unset.push.pop_back();
  EXPECT_THAT(failure(k, unset, ErrorCode::not_found).what(), AllOf(HasSubstr("'n'"), HasSubstr("never set")));

  Invocation unknown = invocation();
  unknown.push.push_back({"m", {Value(1.0)}, std::nullopt});
  EXPECT_THAT(failure(k, unknown, ErrorCode::not_found).what(),
              AllOf(HasSubstr("'m'"), HasSubstr("'ab' (vec2<float>)"), HasSubstr("'n' (uint)")));

  Invocation bad_text = invocation();
  bad_text.push[1].text = "1.5";
  EXPECT_THAT(failure(k, bad_text, ErrorCode::parse).what(), AllOf(HasSubstr("'n'"), HasSubstr("axpb")));

  Invocation components = invocation();
  components.push[0].values = {Value(1.0)};
  EXPECT_THAT(failure(k, components, ErrorCode::size_mismatch).what(), HasSubstr("'ab'"));

  auto spec = create_kernel(context(), compile(kAxpb, "axpb.comp"), "axpb",
                            std::vector<NamedValue>{{"TILE", {Value(1.0)}, std::nullopt}});
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code(), ErrorCode::not_found);
  EXPECT_THAT(spec.error().what(), AllOf(HasSubstr("'TILE'"), HasSubstr("'OFFSET' (id 1, int)")));
  auto two = create_kernel(context(), compile(kAxpb, "axpb.comp"), "axpb",
                           std::vector<NamedValue>{{"OFFSET", {Value(std::int64_t{1}), Value(std::int64_t{2})}, std::nullopt}});
  ASSERT_FALSE(two.has_value());
  EXPECT_THAT(two.error().what(), AllOf(HasSubstr("'OFFSET'"), HasSubstr("one value, got 2")));
}

// run_shader is an adapter: the same bad request fails with the same message through it and
// through run_invocation.
TEST_F(InvocationTest, RunShaderReportsThePathsOwnErrors) {
  const Kernel k = kernel();
  Invocation inv = invocation();
  inv.tensors[1].name = "Z";
  const std::string direct = failure(k, inv, ErrorCode::not_found).what();

  ShaderRunRequest request;
  request.spirv = compile(kAxpb, "axpb.comp");
  request.kernel_name = "axpb";
  request.inputs.emplace_back("X", HostArray{DType::f32, {kN}, std::vector<std::byte>(kN * 4)});
  request.inputs.emplace_back("Z", HostArray{DType::f32, {kN}, std::vector<std::byte>(kN * 4)});
  request.push = inv.push;
  request.grid = inv.grid;
  auto ran = run_shader(context(), request);
  ASSERT_FALSE(ran.has_value());
  EXPECT_EQ(std::string(ran.error().what()), direct);
}

}  // namespace
}  // namespace aat
