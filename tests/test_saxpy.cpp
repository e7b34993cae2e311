// End to end: GLSL compiled at run time, reflected, bound by name, dispatched, read back.
#include <cmath>
#include <numeric>

#include "device_test.hpp"
#include "saxpy_glsl.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::unwrap;

class SaxpyTest : public DeviceTest {};

TEST_F(SaxpyTest, ComputesAxPlusYForSizesNotMultipleOfTheWorkgroup) {
  const std::uint32_t n = 1000;  // not a multiple of 64
  KernelOptions options;
  options.spec = {{"local_size_x", Value(std::int64_t{64})}};
  auto kernel = unwrap(Kernel::create(context(), compile(testing::saxpy_glsl()), "saxpy", options));
  EXPECT_EQ(kernel.local_size()[0], 64u);

  std::vector<float> x(n), y(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i) * 0.5f;
    y[i] = 1.0f - static_cast<float>(i);
  }
  auto tx = unwrap(Tensor::from_values<float>(context(), DType::f32, {n}, x));
  auto ty = unwrap(Tensor::from_values<float>(context(), DType::f32, {n}, y));

  Bindings bindings(kernel);
  AAT_ASSERT_OK(bindings.bind("X", tx));
  AAT_ASSERT_OK(bindings.bind("Y", ty));
  AAT_ASSERT_OK(bindings.push("a", 3.0f));
  AAT_ASSERT_OK(bindings.push("n", n));
  AAT_ASSERT_OK(bindings.require_bytes("Y", n * sizeof(float)));

  auto stream = unwrap(Stream::create(context()));
  const auto groups = unwrap(kernel.workgroups_for({n, 1, 1}));
  EXPECT_EQ(groups.x, 16u);
  AAT_ASSERT_OK(stream.dispatch(bindings, groups));
  AAT_ASSERT_OK(stream.run());

  const auto out = unwrap(ty.download_values<float>());
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(out[i], 3.0f * x[i] + y[i]) << "at " << i;
  if (stream.has_timestamps()) {
    ASSERT_EQ(stream.timings().size(), 1u);
    EXPECT_EQ(stream.timings()[0].label, "saxpy");
    EXPECT_GT(stream.timings()[0].gpu_ms, 0.0);
  }
}

// The README's error sample, as the README's C++ snippet produces it: n = 1000, y holding 4 floats.
TEST_F(SaxpyTest, TheReadmeSampleErrorForAShortBuffer) {
  const std::uint32_t n = 1000;
  auto kernel = unwrap(Kernel::create(context(), compile(testing::saxpy_glsl()), "saxpy"));
  auto x = unwrap(Tensor::from_values<float>(context(), DType::f32, {n}, std::vector<float>(n, 1.0f)));
  auto y = unwrap(Tensor::from_values<float>(context(), DType::f32, {4}, std::vector<float>(4, 1.0f)));
  Bindings b(kernel);
  AAT_ASSERT_OK(b.bind("X", x));
  AAT_ASSERT_OK(b.bind("Y", y));
  AAT_ASSERT_OK(b.require_bytes("Y", n * sizeof(float)));
  AAT_ASSERT_OK(b.push("a", 2.0f));
  AAT_ASSERT_OK(b.push("n", n));
  auto stream = unwrap(Stream::create(context()));
  auto dispatched = stream.dispatch(b, unwrap(kernel.workgroups_for({n, 1, 1})));
  ASSERT_FALSE(dispatched);
  EXPECT_EQ(dispatched.error().what(), "binding 'Y' of kernel 'saxpy': buffer holds 16 bytes, shader reads 4000");
}

TEST_F(SaxpyTest, BlockNameAlsoNamesTheBinding) {
  auto kernel = unwrap(Kernel::create(context(), compile(testing::saxpy_glsl()), "saxpy"));
  auto t = unwrap(Tensor::create(context(), DType::f32, {4}));
  Bindings bindings(kernel);
  EXPECT_TRUE(bindings.bind("XBuffer", t).has_value());
}

}  // namespace
}  // namespace aat
