// The coopmat2 kernel family end to end (issue 13): a kernel built by the build-time glslang
// (>= 15.1) reflects through the interface-only reduction like any other; a device without
// VK_NV_cooperative_matrix2 refuses it by name; and on a device that has it (the H200), one
// 64 x 64 tile of QK^T with its row max, exp and row sum (tests/shaders/coopmat2_softmax_tile.comp)
// matches a double-precision CPU reference.
//
// Tolerance: Q and K are f16-exact (rounded before the reference runs); each product of two
// f16 values is exact in f32 and the 64-term sums carry at most ~64 * 2^-24 relative error,
// so |S| <= 16 gives |dS| <= 1e-4. exp(S - m) <= 1 inherits that as an absolute error plus the
// device exp's few ulp: P within 2e-4 + 1e-4 |P|; the row sums of 64 such terms within 1e-2
// relative of their size (~64 * 2e-4 / sum, sum >= 1); the row maxima within 2e-4.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "aat/kernel_family.hpp"
#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::FailsWith;
using testing::unwrap;

// The kernel's .spv: AAT_TEST_COOPMAT2_SPV in the environment (a build carried elsewhere), else
// where this build wrote it; empty when this build could not compile it.
const char* const kProofSpv = std::getenv("AAT_TEST_COOPMAT2_SPV") ? std::getenv("AAT_TEST_COOPMAT2_SPV")
                                                                    : AAT_TEST_COOPMAT2_SPV;
constexpr int kN = 64;
constexpr const char* kNoCompiler =
    "this build has no shader compiler for coopmat2 kernels (glslang >= 15.1: scripts/build-glslang.sh)";

Spirv proof_kernel() { return unwrap(load_spirv(kProofSpv), "the coopmat2 proof kernel"); }

TEST(Coopmat2Kernel, ReflectsLikeAnyKernel) {
  if (!*kProofSpv) GTEST_SKIP() << kNoCompiler;
  const KernelInterface interface = unwrap(reflect(proof_kernel()));
  EXPECT_EQ(interface.local_size.size[0], 128u);
  ASSERT_EQ(interface.bindings.size(), 4u);
  EXPECT_EQ(interface.bindings[0].name, "Q");
  EXPECT_EQ(interface.bindings[0].access, Access::read_only);
  EXPECT_EQ(interface.bindings[2].name, "P");
  EXPECT_EQ(interface.bindings[2].access, Access::write_only);
  EXPECT_EQ(interface.bindings[3].name, "Rows");
  EXPECT_FALSE(interface.push_constants.has_value());
}

TEST(Coopmat2Kernel, ABrokenInstructionStreamIsAParseErrorNotACrash) {
  if (!*kProofSpv) GTEST_SKIP() << kNoCompiler;
  // Debian 12's validator cannot read this module, so only its instruction stream is checked
  // before the reduction: break the last instruction (OpFunctionEnd) two ways.
  const Spirv good = proof_kernel();
  std::size_t last = 5;
  for (std::size_t i = 5; i < good.size(); i += good[i] >> 16) last = i;
  Spirv past_end = good;
  past_end[last] = (2u << 16) | (good[last] & 0xffffu);
  EXPECT_TRUE(FailsWith(reflect(past_end), ErrorCode::parse, {"word count 2", "past the end"}));
  Spirv zero = good;
  zero[last] &= 0xffffu;
  EXPECT_TRUE(FailsWith(reflect(zero), ErrorCode::parse, {"word count 0", "is zero"}));
}

class Coopmat2Device : public DeviceTest {};

TEST_F(Coopmat2Device, ADeviceWithoutCoopmat2RefusesTheKernelByName) {
  if (!*kProofSpv) GTEST_SKIP() << kNoCompiler;
  if (can_run(context()->device(), KernelFamily::coopmat2)) GTEST_SKIP() << "this device runs coopmat2 kernels";
  EXPECT_TRUE(FailsWith(Kernel::create(context(), proof_kernel(), "coopmat2_proof"), ErrorCode::unsupported,
                        {"coopmat2_proof", "does not offer", context()->device().name}));
}

TEST_F(Coopmat2Device, SoftmaxTileMatchesDoubleReference) {
  if (!*kProofSpv) GTEST_SKIP() << kNoCompiler;
  const DeviceInfo& device = context()->device();
  if (!can_run(device, KernelFamily::coopmat2))
    GTEST_SKIP() << "device '" << device.name << "' cannot run coopmat2 kernels (needs VK_KHR_cooperative_matrix and "
                 << "every VK_NV_cooperative_matrix2 feature)";
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  std::vector<float> q(kN * kN), k(kN * kN);
  for (auto* m : {&q, &k})
    for (auto& x : *m) x = half_to_float(float_to_half(uniform(rng)));  // f16-exact

  const auto upload = [&](const std::vector<float>& values) {
    std::vector<std::uint16_t> bits(values.size());
    std::transform(values.begin(), values.end(), bits.begin(), float_to_half);
    return unwrap(Tensor::from_values<std::uint16_t>(context(), DType::f16, {kN, kN}, bits));
  };
  Tensor tq = upload(q), tk = upload(k);
  Tensor tp = unwrap(Tensor::create(context(), DType::f32, {kN, kN}));
  Tensor rows = unwrap(Tensor::create(context(), DType::f32, {2, kN}));

  Kernel kernel = unwrap(Kernel::create(context(), proof_kernel(), "coopmat2_proof"));
  Bindings bindings(kernel);
  AAT_ASSERT_OK(bindings.bind("Q", tq));
  AAT_ASSERT_OK(bindings.bind("K", tk));
  AAT_ASSERT_OK(bindings.bind("P", tp));
  AAT_ASSERT_OK(bindings.bind("Rows", rows));
  Stream stream = unwrap(Stream::create(context()));
  AAT_ASSERT_OK(stream.dispatch(bindings, Workgroups{1, 1, 1}));
  AAT_ASSERT_OK(stream.run());
  const auto p = unwrap(tp.download_values<float>());
  const auto stats = unwrap(rows.download_values<float>());

  double worst_p = 0, worst_max = 0, worst_sum = 0;
  for (int i = 0; i < kN; ++i) {
    std::vector<double> s(kN);
    for (int j = 0; j < kN; ++j)
      for (int d = 0; d < kN; ++d) s[j] += static_cast<double>(q[i * kN + d]) * k[j * kN + d];
    const double m = *std::max_element(s.begin(), s.end());
    double l = 0;
    for (int j = 0; j < kN; ++j) {
      const double want = std::exp(s[j] - m);
      l += want;
      const double got = p[static_cast<std::size_t>(i * kN + j)];
      EXPECT_NEAR(got, want, 2e-4 + 1e-4 * want) << "P[" << i << "," << j << "]";
      worst_p = std::max(worst_p, std::abs(got - want));
    }
    EXPECT_NEAR(stats[static_cast<std::size_t>(i)], m, 2e-4) << "row max " << i;
    EXPECT_NEAR(stats[static_cast<std::size_t>(kN + i)], l, 1e-2 * l) << "row sum " << i;
    worst_max = std::max(worst_max, std::abs(stats[static_cast<std::size_t>(i)] - m));
    worst_sum = std::max(worst_sum, std::abs(stats[static_cast<std::size_t>(kN + i)] - l) / l);
  }
  std::printf("coopmat2 proof on '%s': max |P - ref| %.3g, max |rowmax - ref| %.3g, max rel rowsum error %.3g\n",
              device.name.c_str(), worst_p, worst_max, worst_sum);
}

}  // namespace
}  // namespace aat
