// Reading a physical device's limits and features into aat::DeviceInfo, and building the
// feature chain a device is created with. Private to the framework.
#pragma once

#include <string>
#include <vector>

#include <vulkan/vulkan_raii.hpp>

#include "aat/context.hpp"
#include "vk_coopmat_ext.hpp"

namespace aat::detail {

bool has_extension(const vk::raii::PhysicalDevice& physical, const char* name);
// `instance` is the one `physical` was enumerated from (for extension entry points).
DeviceInfo query_device(VkInstance instance, const vk::raii::PhysicalDevice& physical, std::uint32_t index);

// The features AAT enables when present, chained for vk::DeviceCreateInfo::pNext.
struct EnabledFeatures {
  vk::PhysicalDeviceFeatures2 core{};
  vk::PhysicalDeviceVulkan11Features v11{};
  vk::PhysicalDeviceVulkan12Features v12{};
  vk::PhysicalDeviceVulkan13Features v13{};
  vk::PhysicalDeviceCooperativeMatrixFeaturesNV coopmat_nv{};
  vkx::CooperativeMatrixFeaturesKHR coopmat_khr{};
  vkx::CooperativeMatrix2FeaturesNV coopmat2{};
  vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR executable_properties{};
  std::vector<const char*> extensions;

  // Fills from what the device offers; links the pNext chain (so the object must not move).
  void select(const vk::raii::PhysicalDevice& physical, const DeviceInfo& info, bool robust_buffer_access);
};

}  // namespace aat::detail
