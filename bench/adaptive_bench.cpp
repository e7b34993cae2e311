// Adaptive attention on the current device (AAT_DEVICE picks it): IFQ, CER and AE against exact
// attention (aat::attention, same inputs, same device) over a sweep of N, setting and input kind.
//
//   build/bin/bench_adaptive                                   # the sweep for this device
//   build/bin/bench_adaptive --sizes=8192,16384,32768 --mass=0.9,0.95,0.99 --heads=8 --json=h100.json
//   build/bin/bench_adaptive --kinds=rotary,needles --mass= --epsilon=0.01 --sizes=16384
//
// Flags (after Google Benchmark's own; each also read from the environment as AAT_ADAPTIVE_<NAME>,
// e.g. AAT_ADAPTIVE_SIZES=8192,16384):
//   --sizes=N,...     sequence lengths (Nq = Nk)       default: CPU 1024,2048,4096; GPU 8192,16384,32768
//   --mass=M,...      mass rule, the plan always run    default 0.8,0.9,0.95,0.99 (plus 1 = the dense plan);
//                     (exact_below_cer 0)               empty: none
//   --epsilon=E,...   bound rule (the default rule)     default 0.003,0.01,0.03; empty: none
//   --exact-below-cer=C  bound rule points: run exact attention below this predicted CER
//                     (default: the library's, 1.5; 0: always the plan)
//   --kinds=K,...     structured, gaussian (aat::pattern), rotary, sinks_window, needles, documents
//                     (aat/adaptive/families.hpp)       default structured,gaussian
//   --batch=B --heads=H --head-dim=D                    default 1, 1 (CPU) or 8 (GPU), 64
//   --dtype=f32|f16   storage                           default f32 (exact attention then runs the same
//                                                       scalar arithmetic path on every device)
//   --causal=0|1      default 1
//   --kernel=K        the plan kernel: auto (default: tensor cores where they run), scalar,
//                     cooperative_matrix2
//   --warmup-ms=T     before timing each point, run it until T ms of GPU time have passed, so the
//                     clocks are up (a GPU idles down while the host builds the next inputs)
//                                                       default 300 (GPU) or 0 (CPU)
//   --reps=R          timed runs per point (median)     default 1 (CPU) or 5 (GPU)
//   --json=FILE       results as JSON (one record per point)   default adaptive_results.json
//
// Times are GPU times from timestamp queries (manual time), after warm-up runs (pipeline
// creation, lavapipe's JIT, GPU clocks: --warmup-ms). AE = exact GPU time / adaptive GPU time, both medians, the
// adaptive time covering every dispatch: pattern, router (plan, pyramid), attention, merge.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/adaptive/adaptive.hpp"
#include "aat/adaptive/families.hpp"
#include "aat/attention/tiling.hpp"
#include "aat/pattern/synthetic.hpp"

namespace {

using aat::DType;
using aat::pattern::BlockLevel;

struct Config {
  std::vector<std::int64_t> sizes;
  std::vector<double> masses, epsilons{0.003, 0.01, 0.03};
  double exact_below_cer = aat::adaptive::kDefaultExactBelowCer;
  std::vector<std::string> kinds{"structured", "gaussian"};
  std::int64_t batch = 1, heads = 0, head_dim = 64;
  DType dtype = DType::f32;
  bool causal = true;
  int reps = 0;
  double warmup_ms = 0;
  std::string json = "adaptive_results.json";
  std::optional<aat::attention::KernelPath> kernel;
};

Config& config() {
  static Config c;
  return c;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// --name=value from argv, else AAT_ADAPTIVE_NAME from the environment.
std::optional<std::string> setting(int argc, char** argv, const std::string& name) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).starts_with(prefix)) return std::string(argv[i]).substr(prefix.size());
  std::string env = "AAT_ADAPTIVE_" + name;
  std::transform(env.begin(), env.end(), env.begin(), [](unsigned char ch) { return ch == '-' ? '_' : std::toupper(ch); });
  if (const char* v = std::getenv(env.c_str()); v && *v) return std::string(v);
  return std::nullopt;
}

struct Fixture {
  std::shared_ptr<aat::Context> context;
  std::optional<aat::adaptive::AdaptiveAttention> adaptive;
  static Fixture& get() {
    static Fixture fixture = [] {
      Fixture f;
      auto context = aat::Context::create();
      if (!context) throw std::runtime_error(context.error().what());
      f.context = *context;
      auto adaptive = aat::adaptive::AdaptiveAttention::create(f.context);
      if (!adaptive) throw std::runtime_error(adaptive.error().what());
      f.adaptive.emplace(std::move(*adaptive));
      return f;
    }();
    return fixture;
  }
};

struct Problem {
  aat::Tensor q, k, v;
  aat::Tensor exact_out;
  double exact_ms = 0;
  std::string baseline;
  std::vector<float> exact;
};

aat::Tensor upload(const std::shared_ptr<aat::Context>& ctx, DType dtype, std::vector<std::int64_t> shape,
                   const std::vector<float>& values) {
  auto t = aat::Tensor::create(ctx, dtype, shape).value();
  if (dtype == DType::f16) t.upload_values<std::uint16_t>(aat::to_half(values)).value();
  else t.upload_values<float>(values).value();
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Inputs and the exact baseline, made once per (kind, N).
Problem& problem(const std::string& kind, std::int64_t n) {
  static std::map<std::pair<std::string, std::int64_t>, Problem> cache;
  auto key = std::pair{kind, n};
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto& f = Fixture::get();
  const auto& c = config();
  aat::pattern::HostQkv host;
  if (const auto family = aat::adaptive::families::parse_family(kind); family && kind != "gaussian") {
    if (c.batch != 1) throw std::invalid_argument("the input families have batch 1");
    auto qkv = aat::adaptive::families::generate(*family, c.heads, n, c.head_dim, 7);
    host.heads = c.heads;
    host.length = n;
    host.head_dim = c.head_dim;
    host.q = std::move(qkv.q);
    host.k = std::move(qkv.k);
    host.v = std::move(qkv.v);
  } else if (kind == "gaussian") {
    host = aat::pattern::gaussian_inputs(c.batch, c.heads, n, c.head_dim, 7);
  } else if (kind != "structured") {
    throw std::invalid_argument("unknown input kind '" + kind + "'");
  } else {
    aat::pattern::StructuredSpec spec;
    spec.batch = c.batch;
    spec.heads = c.heads;
    spec.length = n;
    spec.head_dim = c.head_dim;
    spec.seed = 7;
    host = aat::pattern::structured_inputs(spec);
  }
  Problem p;
  p.q = upload(f.context, c.dtype, host.shape(), host.q);
  p.k = upload(f.context, c.dtype, host.shape(), host.k);
  p.v = upload(f.context, c.dtype, host.shape(), host.v);
  aat::attention::AttentionOptions options;
  options.causal = c.causal;
  for (double warm_ms = 0;;) {
    const double ms = f.adaptive->exact().run(p.q, p.k, p.v, options).value().gpu_ms;
    warm_ms += ms;
    if (warm_ms >= c.warmup_ms || ms <= 0) break;
  }
  std::vector<double> times;
  for (int r = 0; r < c.reps; ++r) {
    auto run = f.adaptive->exact().run(p.q, p.k, p.v, options).value();
    times.push_back(run.gpu_ms);
    p.exact_out = run.out;
    p.baseline = std::string(aat::attention::to_string(run.tiling.path));
  }
  p.exact_ms = median(times);
  p.exact = p.exact_out.download_f32().value();
  return cache.emplace(key, std::move(p)).first->second;
}

nlohmann::json& records() {
  static nlohmann::json r = nlohmann::json::array();
  return r;
}

// One point: the mass rule at `setting` (the plan always) or the bound rule at epsilon = `setting`.
void BM_Adaptive(benchmark::State& state, std::string kind, std::int64_t n, aat::pattern::Mode mode, double setting) {
  auto& f = Fixture::get();
  const auto& c = config();
  Problem* p = nullptr;
  try {
    p = &problem(kind, n);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  aat::adaptive::AdaptiveOptions options;
  options.causal = c.causal;
  options.mode = mode;
  options.path = c.kernel;
  if (mode == aat::pattern::Mode::mass) {
    options.mass = setting;
    options.exact_below_cer = 0.0;
  } else {
    options.epsilon = setting;
    options.exact_below_cer = c.exact_below_cer;
  }
  for (double warm_ms = 0;;) {
    auto warm = f.adaptive->run(p->q, p->k, p->v, options);
    if (!warm) {
      state.SkipWithError(warm.error().what().c_str());
      return;
    }
    warm_ms += warm->gpu_ms;
    if (warm_ms >= c.warmup_ms || warm->gpu_ms <= 0) break;
  }
  std::vector<double> times;
  aat::adaptive::AdaptiveResult last;
  for (auto _ : state) {
    for (int r = 0; r < c.reps; ++r) {
      auto result = f.adaptive->run(p->q, p->k, p->v, options);
      if (!result) {
        state.SkipWithError(result.error().what().c_str());
        return;
      }
      times.push_back(result->gpu_ms);
      last = std::move(*result);
    }
    state.SetIterationTime(median(times) / 1e3);
  }
  const auto out = last.out.download_f32().value();
  const double ifq = aat::adaptive::information_flow_quality(out, p->exact);
  const double adaptive_ms = median(times);
  const double ae = adaptive_ms > 0 ? p->exact_ms / adaptive_ms : 0.0;
  const auto& levels = last.cost.levels;
  state.counters["IFQ"] = ifq;
  state.counters["CER"] = last.cer();
  state.counters["AE"] = ae;
  state.counters["exact_ms"] = p->exact_ms;
  state.counters["adaptive_ms"] = adaptive_ms;
  state.counters["full"] = levels.share(BlockLevel::full);
  state.counters["skip"] = levels.share(BlockLevel::skip);
  state.SetLabel(fmt::format("{} {}", f.context->device().name, p->baseline));
  records().push_back({{"device", f.context->device().name},
                       {"kind", kind},
                       {"n", n},
                       {"batch", c.batch},
                       {"heads", c.heads},
                       {"head_dim", c.head_dim},
                       {"dtype", aat::to_string(c.dtype)},
                       {"causal", c.causal},
                       {"mode", aat::pattern::to_string(mode)},
                       {mode == aat::pattern::Mode::mass ? "mass" : "epsilon", setting},
                       {"exact", last.exact},
                       {"planned_cer", last.planned_cer()},
                       {"ifq", ifq},
                       {"cer", last.cer()},
                       {"ae", ae},
                       {"exact_ms", p->exact_ms},
                       {"adaptive_ms", adaptive_ms},
                       {"stages_ms",
                        {{"pattern", last.stages.pattern},
                         {"router", last.stages.router},
                         {"attention", last.stages.attention},
                         {"merge", last.stages.merge}}},
                       {"levels",
                        {{"full", levels.share(BlockLevel::full)},
                         {"pool2", levels.share(BlockLevel::pool2)},
                         {"pool4", levels.share(BlockLevel::pool4)},
                         {"skip", levels.share(BlockLevel::skip)}}},
                       {"dense_flops", last.cost.dense_flops},
                       {"executed_flops", last.executed_flops()},
                       {"baseline", p->baseline},
                       {"path", last.path},
                       {"block_q", last.block_q},
                       {"block_kv", last.block_kv},
                       {"item_slots", last.item_slots},
                       {"items", last.items},
                       {"reps", c.reps}});
}

void configure(int argc, char** argv) {
  auto& c = config();
  const bool cpu = Fixture::get().context->device().type == aat::DeviceType::cpu;
  c.sizes = cpu ? std::vector<std::int64_t>{1024, 2048, 4096} : std::vector<std::int64_t>{8192, 16384, 32768};
  c.masses = {0.8, 0.9, 0.95, 0.99, 1.0};
  c.heads = cpu ? 1 : 8;
  c.reps = cpu ? 1 : 5;
  c.warmup_ms = cpu ? 0.0 : 300.0;
  if (auto v = setting(argc, argv, "sizes")) {
    c.sizes.clear();
    for (const auto& s : split(*v)) c.sizes.push_back(std::stoll(s));
  }
  if (auto v = setting(argc, argv, "mass")) {
    c.masses.clear();
    for (const auto& s : split(*v)) c.masses.push_back(std::stod(s));
  }
  if (auto v = setting(argc, argv, "epsilon")) {
    c.epsilons.clear();
    for (const auto& s : split(*v)) c.epsilons.push_back(std::stod(s));
  }
  if (auto v = setting(argc, argv, "exact-below-cer")) c.exact_below_cer = std::stod(*v);
  if (auto v = setting(argc, argv, "kinds")) c.kinds = split(*v);
  if (auto v = setting(argc, argv, "batch")) c.batch = std::stoll(*v);
  if (auto v = setting(argc, argv, "heads")) c.heads = std::stoll(*v);
  if (auto v = setting(argc, argv, "head-dim")) c.head_dim = std::stoll(*v);
  if (auto v = setting(argc, argv, "dtype")) c.dtype = *v == "f16" ? DType::f16 : DType::f32;
  if (auto v = setting(argc, argv, "causal")) c.causal = *v != "0";
  if (auto v = setting(argc, argv, "warmup-ms")) c.warmup_ms = std::stod(*v);
  if (auto v = setting(argc, argv, "reps")) c.reps = std::max(1, std::stoi(*v));
  if (auto v = setting(argc, argv, "json")) c.json = *v;
  if (auto v = setting(argc, argv, "kernel"); v && *v != "auto") {
    c.kernel = aat::attention::parse_kernel_path(*v);
    if (!c.kernel) throw std::invalid_argument("--kernel: unknown kernel path '" + *v + "'");
  }
  for (const auto& kind : c.kinds)
    for (auto n : c.sizes)
      for (const auto mode : {aat::pattern::Mode::bound, aat::pattern::Mode::mass})
        for (double value : mode == aat::pattern::Mode::mass ? c.masses : c.epsilons)
          benchmark::RegisterBenchmark(fmt::format("Adaptive/{}/N={}/{}={}", kind, n,
                                                   mode == aat::pattern::Mode::mass ? "mass" : "epsilon", value)
                                           .c_str(),
                                       BM_Adaptive, kind, n, mode, value)
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond)
              ->Iterations(1);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  try {
    configure(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_adaptive: {}\n", e.what());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::ofstream out(config().json);
  out << records().dump(2) << "\n";
  fmt::print(stderr, "bench_adaptive: {} result(s) in {}\n", records().size(), config().json);
  return 0;
}
