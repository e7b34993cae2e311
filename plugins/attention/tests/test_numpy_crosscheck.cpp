// Cross-check against NumPy: the GPU kernel and the C++ reference both against a float64
// NumPy implementation (tests/make_reference_data.py) on causal GQA problems.
//
// The script is found under $AAT_SOURCE_DIR (environment) or else the AAT_SOURCE_DIR compile
// definition; /usr/bin/python3 with numpy must exist, else the test is skipped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "aat/attention/attention.hpp"
#include "aat/npy.hpp"
#include "device_test.hpp"
#include "reference.hpp"

namespace aat::attention {
namespace {

namespace fs = std::filesystem;
using aat::testing::unwrap;
namespace ref = reference;

constexpr const char* kPython = "/usr/bin/python3";

std::string source_dir() {
  if (const char* env = std::getenv("AAT_SOURCE_DIR"); env && *env) return env;
#ifdef AAT_SOURCE_DIR
  return AAT_SOURCE_DIR;
#else
  return {};
#endif
}

// A temporary folder removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "aat_attention_numpy.XXXXXX").string();
    if (::mkdtemp(pattern.data())) path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

std::string read_text(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "r");
  if (!f) return {};
  std::string text;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) text.append(buffer, n);
  std::fclose(f);
  return text;
}

template <class T>
void save(const fs::path& path, DType dtype, const std::vector<std::int64_t>& shape, const std::vector<T>& values) {
  unwrap(write_npy(path, dtype, shape, std::as_bytes(std::span<const T>(values))), "write_npy");
}

// hi + lo, each an f32 .npy of the given shape.
std::vector<double> load_hi_lo(const fs::path& dir, const std::string& name, const std::vector<std::int64_t>& shape) {
  const HostArray hi = unwrap(read_npy(dir / (name + "_hi.npy")), "read hi");
  const HostArray lo = unwrap(read_npy(dir / (name + "_lo.npy")), "read lo");
  EXPECT_EQ(hi.shape, shape) << name;
  EXPECT_EQ(lo.shape, shape) << name;
  const auto h = unwrap(hi.as<float>(), "hi as f32");
  const auto l = unwrap(lo.as<float>(), "lo as f32");
  std::vector<double> out(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) out[i] = static_cast<double>(h[i]) + static_cast<double>(l[i]);
  return out;
}

class NumpyCrosscheck : public aat::testing::DeviceTest {};

TEST_F(NumpyCrosscheck, CausalGqaMatchesNumpyFloat64) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " not found";
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "numpy is not importable by " << kPython;
  const std::string src = source_dir();
  if (src.empty()) GTEST_SKIP() << "neither $AAT_SOURCE_DIR nor the AAT_SOURCE_DIR compile definition is set";
  const fs::path script = fs::path(src) / "plugins/attention/tests/make_reference_data.py";
  ASSERT_TRUE(fs::exists(script)) << script << " not found (AAT_SOURCE_DIR = " << src << ")";

  auto attention = unwrap(Attention::create(context()), "Attention::create");

  struct Shape {
    std::int64_t B, Hq, Hkv, Nq, Nk, D;
    std::vector<std::int32_t> lengths;
  };
  // Nq < Nk (every row sees a prefix), and Nq > Nk with a zero key length (masked rows).
  for (const auto& s : std::vector<Shape>{{2, 4, 2, 37, 53, 32, {}}, {2, 6, 2, 53, 37, 16, {37, 0}}}) {
    SCOPED_TRACE("B" + std::to_string(s.B) + " Hq" + std::to_string(s.Hq) + " Hkv" + std::to_string(s.Hkv) + " Nq" +
                 std::to_string(s.Nq) + " Nk" + std::to_string(s.Nk) + " D" + std::to_string(s.D));
    TempDir dir;
    ASSERT_FALSE(dir.path.empty()) << "mkdtemp failed";

    std::mt19937 rng(2024);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto random = [&](std::int64_t n) {
      std::vector<float> x(static_cast<std::size_t>(n));
      for (auto& e : x) e = normal(rng);
      return x;
    };
    const std::vector<std::int64_t> q_shape{s.B, s.Hq, s.Nq, s.D}, kv_shape{s.B, s.Hkv, s.Nk, s.D},
        l_shape{s.B, s.Hq, s.Nq};
    const auto q = random(s.B * s.Hq * s.Nq * s.D), k = random(s.B * s.Hkv * s.Nk * s.D),
               v = random(s.B * s.Hkv * s.Nk * s.D);
    save(dir.path / "q.npy", DType::f32, q_shape, q);
    save(dir.path / "k.npy", DType::f32, kv_shape, k);
    save(dir.path / "v.npy", DType::f32, kv_shape, v);
    std::string command = std::string(kPython) + " " + quoted(script) + " " + quoted(dir.path) + " --causal";
    if (!s.lengths.empty()) {
      save(dir.path / "lengths.npy", DType::i32, {s.B}, s.lengths);
      command += " --key-lengths " + quoted(dir.path / "lengths.npy");
    }
    command += " > " + quoted(dir.path / "log.txt") + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << read_text(dir.path / "log.txt");
    const auto numpy_o = load_hi_lo(dir.path, "o", q_shape);
    const auto numpy_l = load_hi_lo(dir.path, "l", l_shape);

    // The C++ reference and NumPy agree to float64 rounding.
    ref::Problem p{.batch = s.B, .q_heads = s.Hq, .kv_heads = s.Hkv, .q_len = s.Nq, .kv_len = s.Nk, .head_dim = s.D,
        .causal = true, .key_lengths = s.lengths};
    const auto cpp = ref::attention(p, q, k, v);
    ASSERT_EQ(cpp.out.size(), numpy_o.size());
    ASSERT_EQ(cpp.lse.size(), numpy_l.size());
    double worst = 0;
    for (std::size_t i = 0; i < cpp.out.size(); ++i) worst = std::max(worst, std::abs(cpp.out[i] - numpy_o[i]));
    EXPECT_LT(worst, 1e-12) << "C++ reference vs NumPy, O";
    for (std::size_t i = 0; i < cpp.lse.size(); ++i) {
      if (std::isinf(numpy_l[i])) EXPECT_EQ(cpp.lse[i], numpy_l[i]) << "L row " << i;
      else EXPECT_NEAR(cpp.lse[i], numpy_l[i], 1e-12 * (1 + std::abs(numpy_l[i]))) << "L row " << i;
    }

    // The GPU against NumPy, f32 tolerance (see test_attention.cpp).
    const Tensor tq = unwrap(Tensor::from_values<float>(context(), DType::f32, q_shape, q));
    const Tensor tk = unwrap(Tensor::from_values<float>(context(), DType::f32, kv_shape, k));
    const Tensor tv = unwrap(Tensor::from_values<float>(context(), DType::f32, kv_shape, v));
    Tensor lengths;
    AttentionOptions options;
    options.causal = true;
    if (!s.lengths.empty()) {
      lengths = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {s.B}, s.lengths));
      options.key_lengths = &lengths;
    }
    const AttentionResult result = unwrap(attention.run(tq, tk, tv, options), "attention");
    const auto gpu_o = unwrap(result.out.download_f32());
    const auto gpu_l = unwrap(result.lse.download_f32());
    const auto o_cmp = ref::compare(gpu_o, numpy_o, 2e-5, 2e-5, q_shape);
    const auto l_cmp = ref::compare(gpu_l, numpy_l, 2e-5, 2e-5, l_shape);
    EXPECT_TRUE(o_cmp.ok) << "GPU vs NumPy, O: " << ref::describe(o_cmp);
    EXPECT_TRUE(l_cmp.ok) << "GPU vs NumPy, L: " << ref::describe(l_cmp);
  }
}

}  // namespace
}  // namespace aat::attention
