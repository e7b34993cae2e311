#include "run_on_devices.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aat::adaptive {

Expected<void> run_on_devices(const DeviceRunRequest& r) {
  AAT_TRY(const auto selectors, parse_device_list(r.devices));
  const auto split = parse_adaptive_split(r.split);
  if (!split) return fail(ErrorCode::invalid_argument, fmt::format("--split {}: use auto, heads or queries", r.split));
  AAT_TRY(HostArray q, read_npy(r.q));
  AAT_TRY(HostArray k, read_npy(r.k));
  AAT_TRY(HostArray v, read_npy(r.v));
  MultiDeviceAdaptiveOptions options;
  options.adaptive = r.options;
  options.split = *split;
  if (!r.key_lengths.empty()) {
    AAT_TRY(options.key_lengths, attention::read_key_lengths(r.key_lengths));
  }
  AAT_TRY(DeviceGroup group, DeviceGroup::create(selectors));
  AAT_TRY(MultiDeviceAdaptive adaptive, MultiDeviceAdaptive::create(std::move(group)));
  AAT_TRY(MultiDeviceAdaptiveResult result, adaptive.run(q, k, v, options));
  AAT_CHECK(write_npy(r.out, result.out));
  if (!r.lse.empty()) {
    AAT_CHECK(write_npy(r.lse, result.lse));
  }
  double slowest = 0;
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : result.devices) {
    slowest = std::max(slowest, d.gpu_ms);
    devices.push_back({{"device", d.device}, {"share", d.share}, {"executed_flops", d.flops}, {"gpu_ms", d.gpu_ms},
                       {"wall_ms", d.wall_ms}});
  }
  const double cer = result.executed_flops > 0 ? result.dense_flops / result.executed_flops : 0.0;
  if (r.json) {
    const nlohmann::json report = {{"kernel", "adaptive-attention"},
                                   {"devices", devices},
                                   {"split", to_string(result.plan.split)},
                                   {"reason", result.plan.reason},
                                   {"dtype", to_string(q.dtype)},
                                   {"shape", {{"q", q.shape}, {"k", k.shape}}},
                                   {"causal", r.options.causal},
                                   {"mass", r.options.mass},
                                   {"block_q", result.block_q},
                                   {"cer", cer},
                                   {"dense_flops", result.dense_flops},
                                   {"executed_flops", result.executed_flops},
                                   {"gpu_ms", slowest},
                                   {"wall_ms", result.wall_ms},
                                   {"out", r.out}};
    fmt::print("{}\n", report.dump(2));
    return {};
  }
  fmt::print("adaptive attention {}[{}] -> {} on {} devices, divided by {} ({}): {:.3f} ms wall, {:.3f} ms GPU "
             "(slowest device), CER {:.2f}\n", to_string(q.dtype), shape_to_string(q.shape), r.out, result.devices.size(),
             to_string(result.plan.split), result.plan.reason, result.wall_ms, slowest, cer);
  for (const auto& d : result.devices)
    fmt::print("  device {}: {}, {:.3f} ms GPU, {:.3f} ms wall\n", d.device, d.share, d.gpu_ms, d.wall_ms);
  return {};
}

}  // namespace aat::adaptive
