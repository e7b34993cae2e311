// `aat run attention --devices 0,1` (several devices of this process, multi_device.hpp) and
// `--distributed` (several processes through MPI: handed to the distributed plugin's command).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aat/error.hpp"
#include "aat/plugin_abi.h"

namespace aat::attention {

struct DeviceRunRequest {
  std::string q, k, v, out, lse, key_lengths;
  std::string devices;       // "0,1"
  std::string split = "auto";
  bool causal = false, json = false;
  std::optional<float> scale;
  std::optional<std::uint32_t> splits;
};

Expected<void> run_on_devices(const DeviceRunRequest& request);

// Whether the arguments ask for --distributed (looked for before parsing: the distributed
// command has options of its own).
bool wants_distributed(int argc, const char* const* argv);
// Runs the plugin command `command` (the distributed plugin's) with the same arguments; an
// error naming what is missing when no plugin offers it (a build without MPI).
int forward_to_command(const char* command, const aat_host* host, int argc, const char* const* argv);

}  // namespace aat::attention
