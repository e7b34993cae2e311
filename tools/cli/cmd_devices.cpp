// `aat devices`: every Vulkan device, the one AAT would choose marked, and its key limits.
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "aat/kernel_family.hpp"
#include "commands.hpp"

namespace aat::cli {

namespace {

std::string bytes_text(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1ull << 30));
  if (bytes >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1ull << 20));
  return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
}

std::vector<std::string> family_names(const std::vector<KernelFamily>& families) {
  std::vector<std::string> names;
  for (KernelFamily f : families) names.emplace_back(to_string(f));
  return names;
}

nlohmann::json device_json(const DeviceInfo& d, bool chosen) {
  const auto& l = d.limits;
  const auto& f = d.features;
  return {{"index", d.index},
          {"name", d.name},
          {"chosen", chosen},
          {"type", to_string(d.type)},
          {"api_version", d.api_version_string()},
          {"driver", d.driver_name + " " + d.driver_info},
          {"limits",
           {{"shared_memory_bytes", l.max_shared_memory_bytes},
            {"workgroup_invocations", l.max_workgroup_invocations},
            {"subgroup_size", l.subgroup_size},
            {"subgroup_size_range", {l.min_subgroup_size, l.max_subgroup_size}},
            {"storage_buffer_range", l.max_storage_buffer_range},
            {"device_local_bytes", l.device_local_bytes},
            {"compute_units", l.compute_units},
            {"timestamp_period_ns", l.timestamp_period_ns}}},
          {"features",
           {{"float16", f.shader_float16},
            {"storage_16bit", f.storage_buffer_16bit},
            {"subgroup_size_control", f.subgroup_size_control},
            {"subgroup_arithmetic", f.subgroup_arithmetic},
            {"subgroup_vote", f.subgroup_vote},
            {"subgroup_shuffle", f.subgroup_shuffle},
            {"cooperative_matrix_nv", f.cooperative_matrix_nv},
            {"cooperative_matrix_khr", f.cooperative_matrix_khr},
            {"cooperative_matrix2",
             {{"workgroup_scope", f.cooperative_matrix2.workgroup_scope},
              {"flexible_dimensions", f.cooperative_matrix2.flexible_dimensions},
              {"reductions", f.cooperative_matrix2.reductions},
              {"conversions", f.cooperative_matrix2.conversions},
              {"per_element_operations", f.cooperative_matrix2.per_element_operations},
              {"tensor_addressing", f.cooperative_matrix2.tensor_addressing},
              {"block_loads", f.cooperative_matrix2.block_loads},
              {"workgroup_scope_max_workgroup_size", f.cooperative_matrix2.workgroup_scope_max_workgroup_size}}}}},
          {"kernel_families", family_names(runnable_kernel_families(d))}};
}

void print_device(const DeviceInfo& d, bool chosen) {
  const auto& l = d.limits;
  const auto& f = d.features;
  fmt::print("{} [{}] {} ({}, Vulkan {}, {} {})\n", chosen ? "*" : " ", d.index, d.name, to_string(d.type),
             d.api_version_string(), d.driver_name, d.driver_info);
  fmt::print("      shared memory {} | workgroup {} invocations | subgroup {} ({}..{}) | storage buffer {} | "
             "device memory {}{}\n",
             bytes_text(l.max_shared_memory_bytes), l.max_workgroup_invocations, l.subgroup_size,
             l.min_subgroup_size, l.max_subgroup_size, bytes_text(l.max_storage_buffer_range),
             bytes_text(l.device_local_bytes), l.compute_units ? fmt::format(" | {} SMs", l.compute_units) : "");
  fmt::print("      float16 {} | 16-bit storage {} | subgroup size control {} | timestamps {}\n",
             f.shader_float16 ? "yes" : "no", f.storage_buffer_16bit ? "yes" : "no",
             f.subgroup_size_control ? "yes" : "no",
             l.timestamp_period_ns > 0 ? fmt::format("{} ns", l.timestamp_period_ns) : "no");
  fmt::print("      kernel families it runs: {}\n", fmt::join(family_names(runnable_kernel_families(d)), ", "));
}

}  // namespace

void add_devices_command(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("devices", "List Vulkan devices; '*' marks the one AAT chooses");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON instead of text");
  cmd->callback([&global, json] {
    auto devices = Context::enumerate_devices();
    if (!devices) return report(global, devices.error());
    const char* env = std::getenv("AAT_DEVICE");
    const std::string selector = !global.device.empty() ? global.device : (env ? env : "");
    auto chosen = Context::choose_device(*devices, selector);
    if (!chosen) return report(global, chosen.error());
    if (*json) {
      auto out = nlohmann::json::array();
      for (const auto& d : *devices) out.push_back(device_json(d, d.index == *chosen));
      fmt::print("{}\n", out.dump(2));
      return;
    }
    for (const auto& d : *devices) print_device(d, d.index == *chosen);
  });
}

}  // namespace aat::cli
