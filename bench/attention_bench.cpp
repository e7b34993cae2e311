// Attention on the current device (AAT_DEVICE picks it): TFLOP/s (4 B Hq Nq Nk D, halved for
// causal), GB/s (Q, K, V read once, O written once) and peak device memory, over a sweep of N
// and D, with a single-threaded CPU reference timing beside the small shapes.
//
//   build/bin/bench_attention                                   # the sweep
//   build/bin/bench_attention --benchmark_filter=Memory         # peak memory, N = 1k..16k
//   build/bin/bench_attention --benchmark_format=json > out.json
//   AAT_BENCH_SHAPES="2,16,4096,4096,64,0;1,32,1,32768,128,0,4" build/bin/bench_attention
//       only these shapes, f16: B,H,Nq,Nk,D,causal[,Hkv] per entry (bench/gpu_compare.py uses it;
//       Hkv defaults to H)
//   AAT_BENCH_PATH=<path>          force a kernel path (scalar, decode, cooperative_matrix_nv,
//                                  cooperative_matrix2) where the default would be another
//   AAT_BENCH_TILING=Br,Bc,wg,variant   impose tile sizes / kernel variant (0 or empty: keep)
//   AAT_BENCH_WARMUP_MS=300        warm up at least this long (GPU time) before timing
//   AAT_BENCH_STATISTICS=1         print the driver's statistics of each kernel (registers, ...)
//   AAT_VALIDATION=1               with the validation layer: a shape whose warm-up drew a
//                                  validation error reports that error instead of a time
//
// Times are GPU times from timestamp queries (manual time), after warm-up runs that absorb
// pipeline creation (lavapipe JIT-compiles on first dispatch) and let clocks settle.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "aat/attention/attention.hpp"

namespace {

using aat::DType;
using aat::attention::Attention;
using aat::attention::AttentionOptions;

struct Fixture {
  std::shared_ptr<aat::Context> context;
  std::optional<Attention> attention;

  static Fixture& get() {
    static Fixture fixture = [] {
      Fixture f;
      auto context = aat::Context::create();
      if (!context) throw std::runtime_error(context.error().what());
      f.context = *context;
      auto attention = Attention::create(f.context);
      if (!attention) throw std::runtime_error(attention.error().what());
      f.attention.emplace(std::move(*attention));
      return f;
    }();
    return fixture;
  }
};

aat::Tensor random_tensor(const std::shared_ptr<aat::Context>& context, DType dtype, std::vector<std::int64_t> shape,
                          std::uint32_t seed) {
  std::int64_t count = 1;
  for (auto d : shape) count *= d;
  std::vector<float> values(static_cast<std::size_t>(count));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (auto& x : values) x = normal(rng);
  auto tensor = aat::Tensor::create(context, dtype, shape).value();
  if (dtype == DType::f16) tensor.upload_values<std::uint16_t>(aat::to_half(values)).value();
  else tensor.upload_values<float>(values).value();
  return tensor;
}

// Single-threaded float reference (online softmax per row): what one CPU core does.
double cpu_reference_ms(std::int64_t n, std::int64_t d) {
  std::vector<float> q(static_cast<std::size_t>(n * d)), k(q.size()), v(q.size()), o(q.size());
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (auto* a : {&q, &k, &v})
    for (auto& x : *a) x = normal(rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> s(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    float m = -INFINITY;
    for (std::int64_t j = 0; j < n; ++j) {
      float dot = 0;
      for (std::int64_t c = 0; c < d; ++c) dot += q[i * d + c] * k[j * d + c];
      s[j] = dot * scale;
      m = std::max(m, s[j]);
    }
    float l = 0;
    for (std::int64_t c = 0; c < d; ++c) o[i * d + c] = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      const float p = std::exp(s[j] - m);
      l += p;
      for (std::int64_t c = 0; c < d; ++c) o[i * d + c] += p * v[j * d + c];
    }
    for (std::int64_t c = 0; c < d; ++c) o[i * d + c] /= l;
  }
  benchmark::DoNotOptimize(o.data());
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// AAT_BENCH_PATH and AAT_BENCH_TILING into options; an error message for a bad value.
std::string apply_environment(AttentionOptions& options) {
  if (const char* name = std::getenv("AAT_BENCH_PATH"); name && *name) {
    options.path = aat::attention::parse_kernel_path(name);
    if (!options.path) return fmt::format("AAT_BENCH_PATH: unknown kernel path '{}'", name);
  }
  if (const char* text = std::getenv("AAT_BENCH_TILING"); text && *text) {
    unsigned values[4] = {0, 0, 0, 0};
    std::sscanf(text, "%u,%u,%u,%u", &values[0], &values[1], &values[2], &values[3]);
    auto set = [](unsigned v) { return v ? std::optional<std::uint32_t>(v) : std::nullopt; };
    options.tiling = {set(values[0]), set(values[1]), set(values[2]), std::optional<std::uint32_t>(values[3])};
  }
  return {};
}

// Args: N, D, causal, f16, heads, batch, Nq (0 = N), kv heads (0 = heads).
void BM_Attention(benchmark::State& state) {
  auto& f = Fixture::get();
  const std::int64_t n = state.range(0), d = state.range(1);
  const bool causal = state.range(2) != 0;
  const DType dtype = state.range(3) ? DType::f16 : DType::f32;
  const std::int64_t heads = state.range(4), batch = state.range(5);
  const std::int64_t nq = state.range(6) ? state.range(6) : n;
  const std::int64_t kv_heads = state.range(7) ? state.range(7) : heads;
  auto q = random_tensor(f.context, dtype, {batch, heads, nq, d}, 1);
  auto k = random_tensor(f.context, dtype, {batch, kv_heads, n, d}, 2);
  auto v = random_tensor(f.context, dtype, {batch, kv_heads, n, d}, 3);
  AttentionOptions options;
  options.causal = causal;
  if (const std::string bad = apply_environment(options); !bad.empty()) {
    state.SkipWithError(bad.c_str());
    return;
  }
  // Warm-up: at least AAT_BENCH_WARMUP_MS of GPU time (and two runs), so pipeline creation and
  // clock ramp-up stay out of the timed runs.
  const char* warmup_text = std::getenv("AAT_BENCH_WARMUP_MS");
  const double warmup_ms = warmup_text ? std::atof(warmup_text) : 0.0;
  double warmed_ms = 0;
  for (int run = 0; run < 2 || (warmed_ms < warmup_ms && run < 200); ++run) {  // short kernels: at most 200 runs
    auto warm = f.attention->run(q, k, v, options);
    if (!warm) {
      state.SkipWithError(warm.error().what().c_str());
      return;
    }
    warmed_ms += warm->gpu_ms;
    if (warm->gpu_ms <= 0 && run >= 2) break;  // no timestamps on this device
  }
  // Under AAT_VALIDATION=1 a configuration the layer objects to is an error, not a timing: a
  // tile the device does not allow can still run, fast and wrong (tune_attention.py --validate).
  for (const std::string& message : f.context->take_validation_messages()) {
    if (message.rfind("validation error", 0) == 0) {
      state.SkipWithError(message.substr(0, 600).c_str());
      return;
    }
  }
  f.context->reset_peak_memory();
  if (std::getenv("AAT_BENCH_STATISTICS")) {  // the driver's view of the kernel: registers, spills
    if (auto stats = f.attention->statistics(q, k, v, options)) {
      std::string line;
      for (const auto& s : *stats) line += fmt::format("{}{}={}", line.empty() ? "" : " ", s.name, s.value);
      fmt::print(stderr, "statistics B={} H={} Nq={} Nk={} D={} causal={}: {}\n", batch, heads, nq, n, d, causal, line);
    }
  }
  double total_ms = 0, flops = 0;
  for (auto _ : state) {
    auto result = f.attention->run(q, k, v, options);
    if (!result) {
      state.SkipWithError(result.error().what().c_str());
      return;
    }
    state.SetIterationTime(result->gpu_ms / 1e3);
    total_ms += result->gpu_ms;
    flops = result->flops;
    state.SetLabel(fmt::format("{} path={} Br={} Bc={} wg={} variant={} splits={}", f.context->device().name,
                               aat::attention::to_string(result->tiling.path), result->tiling.block_q,
                               result->tiling.block_kv, result->tiling.workgroup_size, result->tiling.variant,
                               result->tiling.splits));
  }
  const double seconds = total_ms / 1e3 / static_cast<double>(state.iterations());
  // Q and O once, K and V once per K/V head (what a kernel must move at least).
  const double bytes = static_cast<double>((2 * nq * heads + 2 * n * kv_heads) * batch * d) *
                       static_cast<double>(aat::size_of(dtype));
  state.counters["TFLOP/s"] = flops / seconds / 1e12;
  state.counters["GB/s"] = bytes / seconds / 1e9;
  state.counters["peak_MiB"] = static_cast<double>(f.context->memory_stats().peak_bytes) / (1 << 20);
}

void BM_CpuReference(benchmark::State& state) {
  const std::int64_t n = state.range(0), d = state.range(1);
  for (auto _ : state) state.SetIterationTime(cpu_reference_ms(n, d) / 1e3);
  state.counters["TFLOP/s"] = benchmark::Counter(4.0 * static_cast<double>(n * n * d) / 1e12,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

bool on_cpu_device() {
  auto& f = Fixture::get();
  return f.context->device().type == aat::DeviceType::cpu;
}

// AAT_BENCH_SHAPES: "B,H,Nq,Nk,D,causal;..." (f16). Returns false when unset.
bool register_requested_shapes() {
  const char* text = std::getenv("AAT_BENCH_SHAPES");
  if (!text || !*text) return false;
  std::string list(text);
  for (std::size_t start = 0; start < list.size();) {
    const auto end = std::min(list.find(';', start), list.size());
    std::int64_t b = 0, h = 0, nq = 0, nk = 0, d = 0, causal = 0, hkv = 0;
    const int fields = std::sscanf(list.substr(start, end - start).c_str(), "%ld,%ld,%ld,%ld,%ld,%ld,%ld", &b, &h, &nq,
                                   &nk, &d, &causal, &hkv);
    if (fields != 6 && fields != 7)
      throw std::runtime_error("AAT_BENCH_SHAPES entries are B,H,Nq,Nk,D,causal[,Hkv]; got '" +
                               list.substr(start, end - start) + "'");
    if (fields == 6) hkv = h;
    benchmark::RegisterBenchmark(
        fmt::format("Shape/f16/B={}/H={}/Hkv={}/Nq={}/Nk={}/D={}/causal={}", b, h, hkv, nq, nk, d, causal).c_str(),
        BM_Attention)
        ->Args({nk, d, causal, 1, h, b, nq, hkv})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(10);
    start = end + 1;
  }
  return true;
}

void register_benchmarks() {
  if (register_requested_shapes()) return;
  const bool cpu = on_cpu_device();
  // A CPU device gets a sweep it can finish in minutes; GPUs get the full one.
  const std::vector<std::int64_t> sizes = cpu ? std::vector<std::int64_t>{256, 512, 1024}
                                              : std::vector<std::int64_t>{1024, 2048, 4096, 8192, 16384};
  const std::int64_t heads = cpu ? 1 : 16;
  for (std::int64_t d : {64, 128})
    for (std::int64_t n : sizes)
      for (int causal : {0, 1})
        for (int f16 : {0, 1}) {
          const std::int64_t batch = cpu ? 1 : std::max<std::int64_t>(1, 32768 / n) * 2;
          benchmark::RegisterBenchmark(fmt::format("Attention/{}/N={}/D={}{}", f16 ? "f16" : "f32", n, d,
                                                   causal ? "/causal" : "").c_str(), BM_Attention)
              ->Args({n, d, causal, f16, heads, batch, 0, 0})
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond)
              ->Iterations(cpu ? 1 : 5);
        }
  // Decode: one query against a long cache, where split-K matters.
  benchmark::RegisterBenchmark("Attention/f16/decode/Nk=32768/D=128", BM_Attention)
      ->Args({cpu ? 8192 : 32768, 128, 0, 1, cpu ? 1 : 16, 1, 1, 0})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond)
      ->Iterations(cpu ? 1 : 10);
  for (std::int64_t n : {256, 512})
    benchmark::RegisterBenchmark(fmt::format("CpuReference/f32/N={}/D=64", n).c_str(), BM_CpuReference)
        ->Args({n, 64})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
  // Peak device memory grows as O(N): Q, K, V, O and L only, never N x N. On a CPU device the
  // queries are cut to 64 rows so the sweep finishes; K and V still have N rows.
  for (std::int64_t n : {1024, 2048, 4096, 8192, 16384})
    benchmark::RegisterBenchmark(fmt::format("Memory/f32/N={}/D=64", n).c_str(), BM_Attention)
        ->Args({n, 64, 0, 0, 1, 1, cpu ? 64 : 0, 0})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  try {
    register_benchmarks();
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_attention: {}\n", e.what());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
