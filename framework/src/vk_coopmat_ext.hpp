// The Vulkan structures of VK_KHR_cooperative_matrix and VK_NV_cooperative_matrix2, which
// Debian 12's headers (1.3.239) predate. Layouts and values as the Vulkan registry (vk.xml)
// defines them; only what AAT queries and enables. Private to the framework.
#pragma once

#include <cstdint>

#include <vulkan/vulkan.h>

namespace aat::detail::vkx {

inline constexpr const char* kKhrCooperativeMatrix = "VK_KHR_cooperative_matrix";
inline constexpr const char* kNvCooperativeMatrix2 = "VK_NV_cooperative_matrix2";

// VkComponentTypeKHR and VkScopeKHR values used below.
inline constexpr std::uint32_t kComponentFloat16 = 0;
inline constexpr std::uint32_t kComponentFloat32 = 1;
inline constexpr std::uint32_t kScopeSubgroup = 3;

struct CooperativeMatrixFeaturesKHR {  // VkPhysicalDeviceCooperativeMatrixFeaturesKHR
  VkStructureType sType = static_cast<VkStructureType>(1000506000);
  void* pNext = nullptr;
  VkBool32 cooperativeMatrix = VK_FALSE;
  VkBool32 cooperativeMatrixRobustBufferAccess = VK_FALSE;
};

struct CooperativeMatrixPropertiesKHR {  // VkCooperativeMatrixPropertiesKHR (one supported shape)
  VkStructureType sType = static_cast<VkStructureType>(1000506001);
  void* pNext = nullptr;
  std::uint32_t MSize = 0, NSize = 0, KSize = 0;
  std::uint32_t AType = 0, BType = 0, CType = 0, ResultType = 0;  // VkComponentTypeKHR
  VkBool32 saturatingAccumulation = VK_FALSE;
  std::uint32_t scope = 0;  // VkScopeKHR
};

using PFN_GetPhysicalDeviceCooperativeMatrixPropertiesKHR = VkResult(VKAPI_PTR*)(VkPhysicalDevice, std::uint32_t*,
                                                                                 CooperativeMatrixPropertiesKHR*);

struct CooperativeMatrix2FeaturesNV {  // VkPhysicalDeviceCooperativeMatrix2FeaturesNV
  VkStructureType sType = static_cast<VkStructureType>(1000593000);
  void* pNext = nullptr;
  VkBool32 cooperativeMatrixWorkgroupScope = VK_FALSE;
  VkBool32 cooperativeMatrixFlexibleDimensions = VK_FALSE;
  VkBool32 cooperativeMatrixReductions = VK_FALSE;
  VkBool32 cooperativeMatrixConversions = VK_FALSE;
  VkBool32 cooperativeMatrixPerElementOperations = VK_FALSE;
  VkBool32 cooperativeMatrixTensorAddressing = VK_FALSE;
  VkBool32 cooperativeMatrixBlockLoads = VK_FALSE;
};

struct CooperativeMatrix2PropertiesNV {  // VkPhysicalDeviceCooperativeMatrix2PropertiesNV
  VkStructureType sType = static_cast<VkStructureType>(1000593002);
  void* pNext = nullptr;
  std::uint32_t cooperativeMatrixWorkgroupScopeMaxWorkgroupSize = 0;
  std::uint32_t cooperativeMatrixFlexibleDimensionsMaxDimension = 0;
  std::uint32_t cooperativeMatrixWorkgroupScopeReservedSharedMemory = 0;
};

}  // namespace aat::detail::vkx
