// Input errors of the attention plugin: the error code, and a message naming the problem.
#include "attention_test_support.hpp"

namespace aat::attention {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the suites' shared vocabulary

// =============================================================================================
// Input errors: the code, and a message naming the problem.

class AttentionErrors : public AttentionKernel {
 protected:
  Tensor f32(std::vector<std::int64_t> shape) { return make(DType::f32, std::move(shape)); }
  Tensor make(DType dtype, std::vector<std::int64_t> shape) {
    return unwrap(Tensor::create(context(), dtype, std::move(shape)), "create");
  }
  Tensor i32_values(std::vector<std::int32_t> values) {
    const auto n = static_cast<std::int64_t>(values.size());
    return unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {n}, values), "lengths");
  }
};

TEST_F(AttentionErrors, HeadDimMismatchNamesBothShapes) {
  const Tensor q = f32({1, 2, 8, 64}), k = f32({1, 2, 8, 32}), v = f32({1, 2, 8, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(q.describe()));
  EXPECT_THAT(shape.error().what(), HasSubstr(k.describe()));
  // run() refuses the same way, before any dispatch.
  auto result = attention().run(q, k, v);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(result.error().what(), HasSubstr(k.describe()));
}

TEST_F(AttentionErrors, QueryHeadsNotAMultipleOfKeyValueHeads) {
  const Tensor q = f32({1, 6, 8, 32}), k = f32({1, 4, 8, 32}), v = f32({1, 4, 8, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr("6"));
  EXPECT_THAT(shape.error().what(), HasSubstr("4"));
  EXPECT_THAT(shape.error().what(), HasSubstr("head"));
}

TEST_F(AttentionErrors, UnsupportedHeadDimIsNamed) {
  for (std::int64_t d : {12, 264, 4}) {
    const Tensor q = f32({1, 1, 8, d}), k = f32({1, 1, 8, d}), v = f32({1, 1, 8, d});
    auto shape = check_inputs(q, k, v, {});
    ASSERT_FALSE(shape) << "D = " << d;
    EXPECT_THAT(shape.error().code(), AnyOf(ErrorCode::unsupported, ErrorCode::invalid_argument)) << "D = " << d;
    EXPECT_THAT(shape.error().what(), HasSubstr(std::to_string(d))) << "D = " << d;
    EXPECT_FALSE(attention().run(q, k, v)) << "D = " << d;
  }
}

TEST_F(AttentionErrors, BadKeyLengths) {
  const Tensor q = f32({2, 1, 8, 32}), k = f32({2, 1, 16, 32}), v = f32({2, 1, 16, 32});
  AttentionOptions options;
  // Wrong dtype.
  const Tensor as_f32 = unwrap(Tensor::from_values<float>(context(), DType::f32, {2}, std::vector<float>{4, 4}));
  options.key_lengths = &as_f32;
  auto shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(as_f32.describe()));
  // Wrong shapes: one too many, rank 2.
  const Tensor three = i32_values({4, 4, 4});
  options.key_lengths = &three;
  shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(three.describe()));
  const Tensor rank2 = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {2, 1}, std::vector<std::int32_t>{4, 4}));
  options.key_lengths = &rank2;
  shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  // Out of range values: > Nk, < 0.
  for (std::int32_t bad : {17, -1}) {
    const Tensor lengths = i32_values({4, bad});
    options.key_lengths = &lengths;
    shape = check_inputs(q, k, v, options);
    ASSERT_FALSE(shape) << bad;
    EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument) << bad;
    EXPECT_THAT(shape.error().what(), HasSubstr(std::to_string(bad)));
    EXPECT_FALSE(attention().run(q, k, v, options)) << bad;
  }
  // The bounds themselves are fine.
  const Tensor edge = i32_values({0, 16});
  options.key_lengths = &edge;
  EXPECT_TRUE(check_inputs(q, k, v, options).has_value());
}

TEST_F(AttentionErrors, BadBiasShapeIsNamed) {
  const Tensor q = f32({3, 2, 8, 32}), k = f32({3, 2, 16, 32}), v = f32({3, 2, 16, 32});
  AttentionOptions options;
  for (const auto& dims : std::vector<std::vector<std::int64_t>>{
           {3, 2, 8, 17}, {3, 2, 9, 16}, {2, 2, 8, 16}, {3, 3, 8, 16}, {2, 8, 16}, {1, 3, 2, 8, 16}}) {
    const Tensor bias = f32(dims);
    options.bias = &bias;
    auto shape = check_inputs(q, k, v, options);
    ASSERT_FALSE(shape) << bias.describe();
    EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument) << bias.describe();
    EXPECT_THAT(shape.error().what(), HasSubstr(bias.describe()));
  }
  const Tensor half_bias = make(DType::f16, {3, 2, 8, 16});
  options.bias = &half_bias;
  auto shape = check_inputs(q, k, v, options);
  ASSERT_FALSE(shape);
  EXPECT_THAT(shape.error().code(), AnyOf(ErrorCode::invalid_argument, ErrorCode::type_mismatch));
  // Every allowed broadcast passes.
  for (const auto& dims : std::vector<std::vector<std::int64_t>>{{3, 2, 8, 16}, {1, 2, 8, 16}, {3, 1, 8, 16}, {1, 1, 8, 16}}) {
    const Tensor bias = f32(dims);
    options.bias = &bias;
    EXPECT_TRUE(check_inputs(q, k, v, options).has_value()) << bias.describe();
  }
}

TEST_F(AttentionErrors, MixedDtypesAreATypeMismatch) {
  const Tensor q = make(DType::f16, {1, 2, 8, 32}), k = f32({1, 2, 8, 32}), v = f32({1, 2, 8, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::type_mismatch);
  EXPECT_THAT(shape.error().what(), HasSubstr("f16"));
  EXPECT_THAT(shape.error().what(), HasSubstr("f32"));
  auto result = attention().run(q, k, v);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::type_mismatch);
}

TEST_F(AttentionErrors, KeyValueShapeMismatchAndRank) {
  const Tensor q = f32({1, 2, 8, 32}), k = f32({1, 2, 8, 32}), v = f32({1, 2, 9, 32});
  auto shape = check_inputs(q, k, v, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(v.describe()));
  const Tensor q3 = f32({2, 8, 32});
  shape = check_inputs(q3, k, k, {});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(shape.error().what(), HasSubstr(q3.describe()));
}

}  // namespace
}  // namespace aat::attention
