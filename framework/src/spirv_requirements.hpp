// What a SPIR-V module asks of the device, checked before the driver sees it: a module whose
// capabilities need a feature the device lacks (a coopmat2 kernel on lavapipe, say) is refused
// with an error naming the feature, instead of a driver crash or a validation-layer message.
// Private to the framework.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "aat/context.hpp"
#include "aat/error.hpp"

namespace aat::detail {

struct SpirvRequirements {
  bool workgroup_scope_matrices = false;  // a cooperative matrix of Workgroup scope is declared
};

// `unsupported` naming the first capability whose device feature is missing; else what the
// module needs beyond capabilities (checked by the caller once the workgroup size is known).
Expected<SpirvRequirements> check_device_supports(std::span<const std::uint32_t> spirv, const DeviceInfo& device,
                                                  std::string_view kernel);

}  // namespace aat::detail
