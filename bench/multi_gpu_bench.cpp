// Scaling of attention over several GPUs (docs/performance.md, "Several GPUs"; bench/multi_gpu.sh
// runs it). Exact attention, causal and not, N = --sizes, B = --batch, H = --heads, D = --dim,
// f16, on the first device alone and on all of --devices, divided by heads and by keys, in one
// process; adaptive attention (causal, structured inputs, default mass) at --adaptive-size on one
// device and on all. With --mpi (under mpirun, one GPU per rank) the same exact runs across the
// ranks, rank 0 holding the inputs; `mpirun -np 1` gives the MPI run's one-GPU time.
//
// Times (milliseconds, the median of --reps runs after one warm-up):
//   wall   host arrays in, host arrays out: slicing, uploads, kernels, merge, downloads;
//   gpu    the slowest device's dispatches (timestamp queries) plus the first device's merge.
// IFQ = 1 - ||O - O_1||/||O_1|| against the same problem on the first device alone.
// Writes one JSON object: {"config": ..., "rows": [...]}; bench/multi_gpu_plot.py tabulates and
// draws it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/adaptive/multi_device.hpp"
#include "aat/attention/multi_device.hpp"
#include "aat/pattern/synthetic.hpp"
#ifdef AAT_BENCH_MPI
#include "aat/distributed/distributed_attention.hpp"
#endif

namespace {

using namespace aat;
using nlohmann::json;

struct Config {
  std::string devices = "0,1";
  std::vector<std::int64_t> sizes{32768, 65536, 131072};
  std::int64_t batch = 1, heads = 16, dim = 128;
  int reps = 3;
  std::int64_t adaptive_size = 65536;
  std::vector<std::string> modes{"heads", "keys"};
  std::string json_path = "multi_gpu.json";
  bool mpi = false;
  double timeout = 600;
};

// Q, K, V f16 [B, H, N, D], values uniform in (-sqrt 3, sqrt 3) (unit variance) from a
// xorshift generator: fast enough for 2^28 elements, and the timing does not depend on them.
HostArray random_f16(std::vector<std::int64_t> shape, std::uint64_t seed) {
  HostArray a = attention::zeros(DType::f16, std::move(shape));
  auto* bits = reinterpret_cast<std::uint16_t*>(a.data.data());
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::int64_t i = 0; i < a.element_count(); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const float u = static_cast<float>(x >> 40) / static_cast<float>(1ull << 24);  // [0, 1)
    bits[i] = float_to_half((2.0f * u - 1.0f) * 1.7320508f);
  }
  return a;
}

HostArray to_f16(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  HostArray a = attention::zeros(DType::f16, std::move(shape));
  const auto bits = to_half(values);
  std::memcpy(a.data.data(), bits.data(), bits.size() * 2);
  return a;
}

std::vector<double> widen(const HostArray& a) {
  std::vector<double> out(static_cast<std::size_t>(a.element_count()));
  const auto* bits = reinterpret_cast<const std::uint16_t*>(a.data.data());
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = a.dtype == DType::f16 ? half_to_float(bits[i]) : reinterpret_cast<const float*>(a.data.data())[i];
  return out;
}

double ifq(const HostArray& got, const HostArray& want) {
  const auto g = widen(got), w = widen(want);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    diff += (g[i] - w[i]) * (g[i] - w[i]);
    norm += w[i] * w[i];
  }
  return norm > 0 ? 1.0 - std::sqrt(diff / norm) : (diff == 0 ? 1.0 : 0.0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double slowest_gpu(const std::vector<attention::DeviceReport>& devices) {
  double slowest = 0;
  for (const auto& d : devices) slowest = std::max(slowest, d.gpu_ms);
  return slowest;
}

template <class T>
T must(Expected<T> value, const std::string& what) {
  if (!value) {
    std::fprintf(stderr, "bench_multi_gpu: %s: %s\n", what.c_str(), value.error().what().c_str());
    std::exit(1);
  }
  return std::move(*value);
}

// Exact attention on `group` with `mode`, warm-up + reps; the last output kept in `out`.
json time_exact(attention::MultiDeviceAttention& group, const HostArray& q, const HostArray& k, const HostArray& v,
                bool causal, attention::ShardMode mode, int reps, HostArray& out) {
  attention::MultiDeviceOptions options;
  options.causal = causal;
  options.mode = mode;
  std::vector<double> wall, gpu, merge;
  attention::MultiDeviceResult last;
  for (int r = 0; r <= reps; ++r) {
    last = must(group.run(q, k, v, options), "exact attention");
    if (r == 0) continue;  // warm-up: pipelines built, memory allocated
    wall.push_back(last.wall_ms);
    gpu.push_back(slowest_gpu(last.devices) + last.merge_gpu_ms);
    merge.push_back(last.merge_wall_ms);
  }
  out = std::move(last.out);
  const double gpu_ms = median(gpu);
  json devices = json::array();
  for (const auto& d : last.devices) devices.push_back({{"device", d.device}, {"share", d.share}, {"gpu_ms", d.gpu_ms}});
  return {{"kind", "exact"},      {"launch", "in-process"},         {"gpus", group.devices().size()},
          {"mode", to_string(last.plan.mode)}, {"causal", causal},  {"wall_ms", median(wall)},
          {"gpu_ms", gpu_ms},     {"merge_wall_ms", median(merge)}, {"imbalance", last.plan.imbalance()},
          {"flops", last.flops},  {"tflops", gpu_ms > 0 ? last.flops / (gpu_ms * 1e9) : 0.0},
          {"devices", devices}};
}

void in_process(const Config& c, json& rows) {
  const auto selectors = must(parse_device_list(c.devices), "--devices");
  auto all = must(attention::MultiDeviceAttention::create(must(DeviceGroup::create(selectors), "devices")), "group");
  auto one = must(attention::MultiDeviceAttention::create(must(DeviceGroup::from_contexts({all.devices().context(0)}),
                                                               "first device")), "one device");
  for (const std::int64_t n : c.sizes) {
    const HostArray q = random_f16({c.batch, c.heads, n, c.dim}, 1), k = random_f16({c.batch, c.heads, n, c.dim}, 2),
                   v = random_f16({c.batch, c.heads, n, c.dim}, 3);
    for (const bool causal : {false, true}) {
      HostArray want, got;
      json base = time_exact(one, q, k, v, causal, attention::ShardMode::heads, c.reps, want);
      base["n"] = n;
      base["mode"] = "one";
      base["ifq"] = 1.0;
      std::printf("exact N=%lld %-10s 1 GPU            wall %9.2f ms  gpu %9.2f ms\n", static_cast<long long>(n),
                  causal ? "causal" : "", base["wall_ms"].get<double>(), base["gpu_ms"].get<double>());
      rows.push_back(base);
      for (const auto& name : c.modes) {
        json row = time_exact(all, q, k, v, causal, attention::parse_shard_mode(name).value(), c.reps, got);
        row["n"] = n;
        row["mode"] = name;
        row["ifq"] = ifq(got, want);
        std::printf("exact N=%lld %-10s %zu GPUs %-6s wall %9.2f ms  gpu %9.2f ms  (x%.2f, x%.2f)  IFQ %.7f\n",
                    static_cast<long long>(n), causal ? "causal" : "", all.devices().size(), name.c_str(),
                    row["wall_ms"].get<double>(), row["gpu_ms"].get<double>(),
                    base["wall_ms"].get<double>() / row["wall_ms"].get<double>(),
                    base["gpu_ms"].get<double>() / row["gpu_ms"].get<double>(), row["ifq"].get<double>());
        rows.push_back(row);
      }
      std::fflush(stdout);
    }
  }
  if (c.adaptive_size <= 0) return;
  // Adaptive: structured inputs (docs/adaptive.md), causal, default mass; 1 device vs all.
  pattern::StructuredSpec spec;
  spec.batch = c.batch;
  spec.heads = c.heads;
  spec.length = c.adaptive_size;
  spec.head_dim = c.dim;
  const auto in = pattern::structured_inputs(spec);
  const std::vector<std::int64_t> shape{c.batch, c.heads, c.adaptive_size, c.dim};
  const HostArray q = to_f16(shape, in.q), k = to_f16(shape, in.k), v = to_f16(shape, in.v);
  auto one_a = must(adaptive::MultiDeviceAdaptive::create(must(DeviceGroup::from_contexts({all.devices().context(0)}),
                                                               "first device")), "adaptive");
  auto all_a = must(adaptive::MultiDeviceAdaptive::create(must(DeviceGroup::from_contexts(all.devices().contexts()),
                                                               "devices")), "adaptive");
  adaptive::MultiDeviceAdaptiveOptions options;
  options.adaptive.causal = true;
  HostArray want;
  for (auto* group : {&one_a, &all_a}) {
    std::vector<double> wall, gpu;
    adaptive::MultiDeviceAdaptiveResult last;
    for (int r = 0; r <= c.reps; ++r) {
      last = must(group->run(q, k, v, options), "adaptive attention");
      if (r == 0) continue;
      wall.push_back(last.wall_ms);
      gpu.push_back(slowest_gpu(last.devices));
    }
    const bool first = group == &one_a;
    const double quality = first ? 1.0 : ifq(last.out, want);
    if (first) want = last.out;
    const double cer = last.executed_flops > 0 ? last.dense_flops / last.executed_flops : 0.0;
    rows.push_back({{"kind", "adaptive"}, {"launch", "in-process"}, {"gpus", first ? 1 : all.devices().size()},
                    {"mode", first ? "one" : std::string(to_string(last.plan.split))}, {"causal", true},
                    {"n", c.adaptive_size}, {"wall_ms", median(wall)}, {"gpu_ms", median(gpu)}, {"cer", cer},
                    {"dense_flops", last.dense_flops}, {"ifq", quality}});
    std::printf("adaptive N=%lld causal %zu GPU(s) wall %9.2f ms  gpu %9.2f ms  CER %.2f  IFQ vs 1 GPU %.7f\n",
                static_cast<long long>(c.adaptive_size), first ? 1 : all.devices().size(), median(wall), median(gpu),
                cer, quality);
  }
}

#ifdef AAT_BENCH_MPI
// Returns whether this is rank 0 (which writes the JSON).
bool over_mpi(const Config& c, json& rows) {
  auto comm = must(distributed::Communicator::world(), "MPI");
  const bool root = comm.rank() == 0;
  Expected<attention::MultiDeviceAttention> local = [&]() -> Expected<attention::MultiDeviceAttention> {
    AAT_TRY(const auto selectors, distributed::rank_devices(comm));
    AAT_TRY(DeviceGroup group, DeviceGroup::create(selectors));
    return attention::MultiDeviceAttention::create(std::move(group));
  }();
  for (const std::int64_t n : c.sizes) {
    // Every rank makes the same inputs (same seeds): rank 0's are sent out ("sent"), or every
    // rank uses its own ("local", as ranks that hold their data already would).
    const Expected<distributed::RootInputs> inputs = distributed::RootInputs{
        random_f16({c.batch, c.heads, n, c.dim}, 1), random_f16({c.batch, c.heads, n, c.dim}, 2),
        random_f16({c.batch, c.heads, n, c.dim}, 3)};
    for (const bool causal : {false, true}) {
      HostArray want;
      if (root && local) {  // the one-device output, for IFQ (not timed)
        auto one = must(attention::MultiDeviceAttention::create(must(
                            DeviceGroup::from_contexts({local->devices().context(0)}), "first device")), "one device");
        attention::MultiDeviceOptions o;
        o.causal = causal;
        want = must(one.run(inputs->q, inputs->k, inputs->v, o), "one device").out;
      }
      for (const auto& [name, everywhere] : std::vector<std::pair<std::string, bool>>{
               {c.modes.front(), false}, {c.modes.back(), false}, {c.modes.front(), true}, {c.modes.back(), true}}) {
        distributed::DistributedOptions options;
        options.attention.causal = causal;
        options.attention.mode = attention::parse_shard_mode(name).value();
        options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(c.timeout * 1000));
        options.inputs_on_every_rank = everywhere;
        std::vector<double> wall, gpu, data, merge;
        distributed::DistributedResult last;
        for (int r = 0; r <= c.reps; ++r) {
          auto result = distributed::run_attention(comm, local, root || everywhere ? &inputs : nullptr, options);
          if (!result) {
            std::fprintf(stderr, "bench_multi_gpu: %s: %s\n", comm.name_of(comm.rank()).c_str(),
                         result.error().what().c_str());
            if (comm.broken()) comm.abort(1);
            std::exit(1);
          }
          last = std::move(*result);
          if (r == 0) continue;
          double slowest = 0;
          for (const auto& rank : last.ranks) slowest = std::max(slowest, slowest_gpu(rank.devices));
          wall.push_back(last.wall_ms);
          gpu.push_back(slowest);
          data.push_back(last.data_wall_ms);
          merge.push_back(last.merge_wall_ms);
        }
        if (!root) continue;
        const double quality = ifq(last.out, want);
        rows.push_back({{"kind", "exact"}, {"launch", "mpi"}, {"gpus", comm.size()}, {"ranks", comm.size()},
                        {"mode", comm.size() == 1 ? std::string("one") : name}, {"split", to_string(last.plan.mode)},
                        {"inputs", everywhere ? "local" : "sent"},
                        {"causal", causal}, {"n", n}, {"wall_ms", median(wall)}, {"gpu_ms", median(gpu)},
                        {"data_wall_ms", median(data)}, {"merge_wall_ms", median(merge)},
                        {"imbalance", last.plan.imbalance()}, {"flops", last.flops}, {"ifq", quality}});
        std::printf("mpi   N=%lld %-10s %d rank(s) %-6s inputs %-5s wall %9.2f ms (send %.2f, combine %.2f)  gpu %9.2f ms  "
                    "IFQ %.7f\n", static_cast<long long>(n), causal ? "causal" : "", comm.size(), name.c_str(),
                    everywhere ? "local" : "sent", median(wall), median(data), median(merge), median(gpu), quality);
        std::fflush(stdout);
        if (comm.size() == 1) break;  // one rank: the modes are the same run
      }
    }
  }
  return root;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scaling of attention over several GPUs, in one process and over MPI (bench/multi_gpu.sh)"};
  Config c;
  app.add_option("--devices", c.devices, "In-process: the devices (default 0,1)");
  app.add_option("--sizes", c.sizes, "Sequence lengths N (default 32768 65536 131072)")->delimiter(',');
  app.add_option("--batch", c.batch, "B (default 1)");
  app.add_option("--heads", c.heads, "H (default 16)");
  app.add_option("--dim", c.dim, "D (default 128)");
  app.add_option("--reps", c.reps, "Timed runs after one warm-up (default 3)");
  app.add_option("--adaptive-size", c.adaptive_size, "N of the adaptive run (default 65536; 0: none)");
  app.add_option("--modes", c.modes, "Divisions to time on all devices: heads, keys (default both)")->delimiter(',');
  app.add_option("--json", c.json_path, "Output JSON (rank 0 with --mpi)");
  app.add_flag("--mpi", c.mpi, "Run across the MPI ranks (under mpirun), one GPU per rank");
  app.add_option("--timeout", c.timeout, "--mpi: seconds a rank waits for another (default 600)");
  CLI11_PARSE(app, argc, argv);
  json rows = json::array();
  if (c.mpi) {
#ifdef AAT_BENCH_MPI
    if (!over_mpi(c, rows)) return 0;
#else
    std::fprintf(stderr, "bench_multi_gpu: built without MPI (the distributed plugin was not built)\n");
    return 1;
#endif
  } else {
    in_process(c, rows);
  }
  const json out = {{"config", {{"devices", c.devices}, {"batch", c.batch}, {"heads", c.heads}, {"dim", c.dim},
                                {"dtype", "f16"}, {"reps", c.reps}, {"mpi", c.mpi}}},
                    {"rows", rows}};
  std::ofstream(c.json_path) << out.dump(2) << "\n";
  return 0;
}
