// Exact attention from a program that only knows the installed AAT package:
//   find_package(aat) + aat::aat + aat::attention, <aat/aat.hpp>, <aat/attention/attention.hpp>.
// Checks the result against a small CPU reference, runs a shader-only kernel that includes one
// of AAT's installed shader headers, and lists the plugins the installed registry finds.
#include <aat/aat.hpp>
#include <aat/attention/attention.hpp>
#include <aat/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace {

// O = softmax(Q K^T / sqrt(D) + causal mask) V for one [H, N, D] batch, in double.
std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                              int heads, int n, int d) {
  std::vector<double> out(q.size(), 0.0), s(static_cast<std::size_t>(n));
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < n; ++i) {
      const auto row = [&](const std::vector<float>& x, int r) { return &x[(static_cast<std::size_t>(h) * n + r) * d]; };
      double m = -INFINITY, l = 0;
      for (int j = 0; j <= i; ++j) {  // causal
        double dot = 0;
        for (int c = 0; c < d; ++c) dot += double(row(q, i)[c]) * row(k, j)[c];
        s[j] = dot * scale;
        m = std::max(m, s[j]);
      }
      double* o = &out[(static_cast<std::size_t>(h) * n + i) * d];
      for (int j = 0; j <= i; ++j) {
        const double w = std::exp(s[j] - m);
        l += w;
        for (int c = 0; c < d; ++c) o[c] += w * row(v, j)[c];
      }
      for (int c = 0; c < d; ++c) o[c] /= l;
    }
  return out;
}

template <class T>
T check(aat::Expected<T> value, const char* what) {
  if (!value) {
    std::fprintf(stderr, "cpp_host: %s: %s\n", what, value.error().what().c_str());
    std::exit(1);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

}  // namespace

int main() {
  const int heads = 4, n = 50, d = 64;
  auto context = check(aat::Context::create(), "opening a device");
  std::printf("cpp_host: aat %s on %s\n", std::string(aat::version()).c_str(), context->device().name.c_str());

  // Attention on random data.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> q(static_cast<std::size_t>(heads) * n * d), k(q.size()), v(q.size());
  for (auto* x : {&q, &k, &v})
    for (float& e : *x) e = uniform(rng);
  const std::vector<std::int64_t> shape{1, heads, n, d};
  auto tq = check(aat::Tensor::from_values<float>(context, aat::DType::f32, shape, q), "uploading q");
  auto tk = check(aat::Tensor::from_values<float>(context, aat::DType::f32, shape, k), "uploading k");
  auto tv = check(aat::Tensor::from_values<float>(context, aat::DType::f32, shape, v), "uploading v");
  auto attention = check(aat::attention::Attention::create(context), "preparing attention");
  aat::attention::AttentionOptions options;
  options.causal = true;
  auto result = check(attention.run(tq, tk, tv, options), "running attention");
  const auto got = check(result.out.download_values<float>(), "downloading o");
  const auto want = reference(q, k, v, heads, n, d);
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]) / (1 + std::abs(want[i])));
  std::printf("cpp_host: attention %s, max relative error %.3g (Br=%u Bc=%u splits=%u)\n", result.out.describe().c_str(),
              worst, result.tiling.block_q, result.tiling.block_kv, result.tiling.splits);
  if (!(worst <= 2e-5)) {
    std::fprintf(stderr, "cpp_host: attention result is wrong\n");
    return 1;
  }

  // A shader-only kernel that includes an installed shared header (share/aat/shaders).
  aat::ShaderCompiler compiler(context->cache_dir());
  const char* source = R"(#version 450
#include "aat/constants.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Data { float x[]; } data;
void main() { uint i = gl_GlobalInvocationID.x; if (i < 64) data.x[i] = aat_max(data.x[i], 0.0); })";
  aat::ShaderRunRequest request;
  request.spirv = check(compiler.compile(source, "relu.comp"), "compiling relu.comp");
  std::vector<float> xs(64);
  for (int i = 0; i < 64; ++i) xs[static_cast<std::size_t>(i)] = static_cast<float>(i - 32);
  aat::HostArray array{aat::DType::f32, {64}, std::vector<std::byte>(64 * sizeof(float))};
  std::memcpy(array.data.data(), xs.data(), array.data.size());
  request.inputs.emplace_back("data", array);
  request.outputs.push_back({"data", {}, {}});
  request.grid = {64, 1, 1};
  auto ran = check(aat::run_shader(context, request), "running relu.comp");
  const auto relu = check(ran.outputs.front().second.as<float>(), "reading relu output");
  for (int i = 0; i < 64; ++i)
    if (relu[static_cast<std::size_t>(i)] != std::max(0.0f, static_cast<float>(i - 32))) {
      std::fprintf(stderr, "cpp_host: relu.comp gave a wrong value at %d\n", i);
      return 1;
    }
  std::printf("cpp_host: shader-only kernel with an installed shared header: ok (%s)\n",
              aat::shared_shader_dir().string().c_str());

  // The installed plugins, found without AAT_PLUGIN_PATH.
  const auto registry = aat::PluginRegistry::discover();
  bool found_attention = false;
  for (const auto& plugin : registry.plugins()) {
    std::printf("cpp_host: plugin %s %s (%s)\n", plugin.name.c_str(), plugin.version.c_str(), plugin.path.c_str());
    found_attention = found_attention || plugin.name == "attention";
  }
  for (const auto& problem : registry.problems())
    std::fprintf(stderr, "cpp_host: plugin problem %s: %s\n", problem.path.c_str(), problem.error.what().c_str());
  if (!found_attention || !registry.problems().empty()) {
    std::fprintf(stderr, "cpp_host: the installed attention plugin was not found cleanly\n");
    return 1;
  }
  const auto messages = context->take_validation_messages();
  for (const auto& m : messages) std::fprintf(stderr, "cpp_host: validation: %s\n", m.c_str());
  std::printf("cpp_host: ok\n");
  return messages.empty() ? 0 : 1;
}
