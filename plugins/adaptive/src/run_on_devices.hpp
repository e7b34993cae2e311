// `aat run adaptive-attention --devices 0,1`: adaptive attention on several devices of this
// process (aat/adaptive/multi_device.hpp).
#pragma once

#include <string>

#include "aat/adaptive/multi_device.hpp"

namespace aat::adaptive {

struct DeviceRunRequest {
  std::string q, k, v, out, lse, key_lengths;
  std::string devices;  // "0,1"
  std::string split = "auto";
  bool json = false;
  AdaptiveOptions options;  // causal and the rest of the command's options
};

Expected<void> run_on_devices(const DeviceRunRequest& request);

}  // namespace aat::adaptive
