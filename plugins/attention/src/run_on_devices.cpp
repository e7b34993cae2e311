#include "run_on_devices.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/attention/multi_device.hpp"
#include "aat/plugin.hpp"

namespace aat::attention {

namespace {

nlohmann::json devices_json(const std::vector<DeviceReport>& devices) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : devices)
    list.push_back({{"device", d.device}, {"share", d.share}, {"flops", d.flops}, {"gpu_ms", d.gpu_ms},
                    {"wall_ms", d.wall_ms}});
  return list;
}

}  // namespace

Expected<void> run_on_devices(const DeviceRunRequest& r) {
  AAT_TRY(const auto selectors, parse_device_list(r.devices));
  const auto mode = parse_shard_mode(r.split);
  if (!mode) return fail(ErrorCode::invalid_argument, fmt::format("--split {}: use auto, heads or keys", r.split));
  AAT_TRY(HostArray q, read_npy(r.q));
  AAT_TRY(HostArray k, read_npy(r.k));
  AAT_TRY(HostArray v, read_npy(r.v));
  MultiDeviceOptions options;
  options.causal = r.causal;
  options.scale = r.scale;
  options.mode = *mode;
  options.splits = r.splits;
  if (!r.key_lengths.empty()) {
    AAT_TRY(options.key_lengths, read_key_lengths(r.key_lengths));
  }
  AAT_CHECK(MultiDeviceAttention::check(q, k, v, options));
  AAT_TRY(DeviceGroup group, DeviceGroup::create(selectors));
  AAT_TRY(MultiDeviceAttention attention, MultiDeviceAttention::create(std::move(group)));
  AAT_TRY(MultiDeviceResult result, attention.run(q, k, v, options));
  AAT_CHECK(write_npy(r.out, result.out));
  if (!r.lse.empty()) {
    AAT_CHECK(write_npy(r.lse, result.lse));
  }
  double slowest = 0;
  for (const auto& d : result.devices) slowest = std::max(slowest, d.gpu_ms);
  if (r.json) {
    const nlohmann::json report = {{"kernel", "attention"},
                                   {"devices", devices_json(result.devices)},
                                   {"split", to_string(result.plan.mode)},
                                   {"reason", result.plan.reason},
                                   {"imbalance", result.plan.imbalance()},
                                   {"dtype", to_string(q.dtype)},
                                   {"shape", {{"q", q.shape}, {"k", k.shape}}},
                                   {"causal", r.causal},
                                   {"flops", result.flops},
                                   {"gpu_ms", slowest + result.merge_gpu_ms},
                                   {"merge_gpu_ms", result.merge_gpu_ms},
                                   {"merge_wall_ms", result.merge_wall_ms},
                                   {"wall_ms", result.wall_ms},
                                   {"out", r.out}};
    fmt::print("{}\n", report.dump(2));
    return {};
  }
  fmt::print("attention {}[{}] -> {} on {} devices, divided by {} ({}): {:.3f} ms wall, {:.3f} ms GPU (slowest device "
             "+ merge), {:.3g} GFLOP\n", to_string(q.dtype), shape_to_string(q.shape), r.out, result.devices.size(),
             to_string(result.plan.mode), result.plan.reason, result.wall_ms, slowest + result.merge_gpu_ms,
             result.flops / 1e9);
  for (const auto& d : result.devices)
    fmt::print("  device {}: {}, {:.3g} GFLOP, {:.3f} ms GPU, {:.3f} ms wall\n", d.device, d.share, d.flops / 1e9,
               d.gpu_ms, d.wall_ms);
  return {};
}

bool wants_distributed(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--distributed") return true;
  return false;
}

int forward_to_command(const char* command, const aat_host* host, int argc, const char* const* argv) {
  const auto registry = PluginRegistry::discover();
  const PluginCommand* target = registry.find_command(command);
  if (!target) {
    std::fprintf(stderr, "aat: error: --distributed needs the plugin command '%s' (the distributed plugin, "
                         "libaat-distributed.so, built when Open MPI is found at configure time); this installation "
                         "has no such plugin\n", command);
    return 1;
  }
  return target->run(host, argc, argv);
}

}  // namespace aat::attention
