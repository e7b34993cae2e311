#include "device_query.hpp"

#include <algorithm>
#include <cstring>

#include "vk_coopmat_ext.hpp"

namespace aat::detail {

bool has_extension(const vk::raii::PhysicalDevice& physical, const char* name) {
  const auto extensions = physical.enumerateDeviceExtensionProperties();
  return std::any_of(extensions.begin(), extensions.end(), [&](const vk::ExtensionProperties& e) {
    return std::strcmp(e.extensionName.data(), name) == 0;
  });
}

namespace {

DeviceType device_type(vk::PhysicalDeviceType type) {
  switch (type) {
    case vk::PhysicalDeviceType::eDiscreteGpu: return DeviceType::discrete_gpu;
    case vk::PhysicalDeviceType::eIntegratedGpu: return DeviceType::integrated_gpu;
    case vk::PhysicalDeviceType::eVirtualGpu: return DeviceType::virtual_gpu;
    case vk::PhysicalDeviceType::eCpu: return DeviceType::cpu;
    default: return DeviceType::other;
  }
}

std::uint32_t compute_queue_timestamp_bits(const vk::raii::PhysicalDevice& physical) {
  for (const auto& family : physical.getQueueFamilyProperties())
    if (family.queueFlags & vk::QueueFlagBits::eCompute) return family.timestampValidBits;
  return 0;
}

void query_limits(const vk::raii::PhysicalDevice& physical, DeviceInfo& info) {
  const bool v13 = info.api_version >= VK_API_VERSION_1_3;
  const bool sm_builtins = has_extension(physical, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);

  vk::PhysicalDeviceProperties2 properties{};
  vk::PhysicalDeviceVulkan11Properties v11{};
  vk::PhysicalDeviceVulkan13Properties v13props{};
  vk::PhysicalDeviceMaintenance3Properties maintenance3{};
  vk::PhysicalDeviceShaderSMBuiltinsPropertiesNV sm{};
  properties.pNext = &v11;
  v11.pNext = &maintenance3;
  void** tail = &maintenance3.pNext;
  if (v13) { *tail = &v13props; tail = &v13props.pNext; }
  if (sm_builtins) { *tail = &sm; tail = &sm.pNext; }
  (*physical).getProperties2(&properties);

  const vk::PhysicalDeviceLimits& limits = properties.properties.limits;
  DeviceLimits& out = info.limits;
  out.max_shared_memory_bytes = limits.maxComputeSharedMemorySize;
  out.max_workgroup_invocations = limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    out.max_workgroup_size[i] = limits.maxComputeWorkGroupSize[i];
    out.max_workgroup_count[i] = limits.maxComputeWorkGroupCount[i];
  }
  out.subgroup_size = v11.subgroupSize;
  const bool compute_subgroups = static_cast<bool>(v11.subgroupSupportedStages & vk::ShaderStageFlagBits::eCompute);
  const auto operations = v11.subgroupSupportedOperations;
  info.features.subgroup_arithmetic = compute_subgroups && static_cast<bool>(operations & vk::SubgroupFeatureFlagBits::eArithmetic);
  info.features.subgroup_vote = compute_subgroups && static_cast<bool>(operations & vk::SubgroupFeatureFlagBits::eVote);
  info.features.subgroup_shuffle = compute_subgroups && static_cast<bool>(operations & vk::SubgroupFeatureFlagBits::eShuffle);
  out.min_subgroup_size = v13 ? v13props.minSubgroupSize : v11.subgroupSize;
  out.max_subgroup_size = v13 ? v13props.maxSubgroupSize : v11.subgroupSize;
  out.max_push_constant_bytes = limits.maxPushConstantsSize;
  out.max_storage_buffer_range = limits.maxStorageBufferRange;
  out.max_allocation_bytes = maintenance3.maxMemoryAllocationSize;
  out.compute_units = sm_builtins ? sm.shaderSMCount : 0;
  out.timestamp_period_ns = compute_queue_timestamp_bits(physical) ? limits.timestampPeriod : 0.0;

  const auto memory = physical.getMemoryProperties();
  for (std::uint32_t h = 0; h < memory.memoryHeapCount; ++h)
    if (memory.memoryHeaps[h].flags & vk::MemoryHeapFlagBits::eDeviceLocal)
      out.device_local_bytes = std::max<std::uint64_t>(out.device_local_bytes, memory.memoryHeaps[h].size);

  info.name = properties.properties.deviceName.data();
  info.type = device_type(properties.properties.deviceType);
  info.vendor_id = properties.properties.vendorID;
  info.device_id = properties.properties.deviceID;
}

// Whether the device lists a subgroup-scope 16x16x16 f16 x f16 -> f32 KHR cooperative-matrix
// shape, the one AAT's coopmat_khr kernels use.
bool khr_coopmat_has_f16_shape(VkInstance instance, const vk::raii::PhysicalDevice& physical) {
  const auto get = reinterpret_cast<vkx::PFN_GetPhysicalDeviceCooperativeMatrixPropertiesKHR>(
      physical.getDispatcher()->vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
  if (!get) return false;
  std::uint32_t count = 0;
  if (get(*physical, &count, nullptr) != VK_SUCCESS || count == 0) return false;
  std::vector<vkx::CooperativeMatrixPropertiesKHR> shapes(count);
  if (get(*physical, &count, shapes.data()) < 0) return false;
  return std::any_of(shapes.begin(), shapes.begin() + count, [](const vkx::CooperativeMatrixPropertiesKHR& s) {
    return s.MSize == 16 && s.NSize == 16 && s.KSize == 16 && s.AType == vkx::kComponentFloat16 &&
           s.BType == vkx::kComponentFloat16 && s.CType == vkx::kComponentFloat32 &&
           s.ResultType == vkx::kComponentFloat32 && s.scope == vkx::kScopeSubgroup;
  });
}

void query_features(VkInstance instance, const vk::raii::PhysicalDevice& physical, DeviceInfo& info) {
  const bool v13 = info.api_version >= VK_API_VERSION_1_3;
  DeviceFeatures& out = info.features;
  out.cooperative_matrix_nv = has_extension(physical, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  const bool khr_offered = has_extension(physical, vkx::kKhrCooperativeMatrix);
  const bool nv2_offered = khr_offered && has_extension(physical, vkx::kNvCooperativeMatrix2);
  out.pipeline_statistics = has_extension(physical, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);

  vk::PhysicalDeviceFeatures2 features{};
  vk::PhysicalDeviceVulkan11Features v11{};
  vk::PhysicalDeviceVulkan12Features v12{};
  vk::PhysicalDeviceVulkan13Features v13f{};
  vk::PhysicalDeviceCooperativeMatrixFeaturesNV coopmat{};
  vkx::CooperativeMatrixFeaturesKHR coopmat_khr{};
  vkx::CooperativeMatrix2FeaturesNV coopmat2{};
  vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR executable{};
  features.pNext = &v11;
  v11.pNext = &v12;
  void** tail = &v12.pNext;
  if (v13) { *tail = &v13f; tail = &v13f.pNext; }
  if (out.cooperative_matrix_nv) { *tail = &coopmat; tail = &coopmat.pNext; }
  if (khr_offered) { *tail = &coopmat_khr; tail = &coopmat_khr.pNext; }
  if (nv2_offered) { *tail = &coopmat2; tail = &coopmat2.pNext; }
  if (out.pipeline_statistics) { *tail = &executable; tail = &executable.pNext; }
  (*physical).getFeatures2(&features);
  out.pipeline_statistics = out.pipeline_statistics && executable.pipelineExecutableInfo;
  out.cooperative_matrix_khr = khr_offered && coopmat_khr.cooperativeMatrix && khr_coopmat_has_f16_shape(instance, physical);
  if (out.cooperative_matrix_khr && nv2_offered) {
    auto& c2 = out.cooperative_matrix2;
    c2.workgroup_scope = coopmat2.cooperativeMatrixWorkgroupScope;
    c2.flexible_dimensions = coopmat2.cooperativeMatrixFlexibleDimensions;
    c2.reductions = coopmat2.cooperativeMatrixReductions;
    c2.conversions = coopmat2.cooperativeMatrixConversions;
    c2.per_element_operations = coopmat2.cooperativeMatrixPerElementOperations;
    c2.tensor_addressing = coopmat2.cooperativeMatrixTensorAddressing;
    c2.block_loads = coopmat2.cooperativeMatrixBlockLoads;
    vk::PhysicalDeviceProperties2 properties{};
    vkx::CooperativeMatrix2PropertiesNV limits{};
    properties.pNext = &limits;
    (*physical).getProperties2(&properties);
    c2.workgroup_scope_max_workgroup_size = limits.cooperativeMatrixWorkgroupScopeMaxWorkgroupSize;
    c2.flexible_dimensions_max_dimension = limits.cooperativeMatrixFlexibleDimensionsMaxDimension;
    c2.workgroup_scope_reserved_shared_memory = limits.cooperativeMatrixWorkgroupScopeReservedSharedMemory;
  }

  out.shader_float16 = v12.shaderFloat16;
  out.shader_int8 = v12.shaderInt8;
  out.storage_buffer_16bit = v11.storageBuffer16BitAccess;
  out.storage_buffer_8bit = v12.storageBuffer8BitAccess;
  out.vulkan_memory_model = v12.vulkanMemoryModel;
  out.subgroup_size_control = v13 && v13f.subgroupSizeControl && v13f.computeFullSubgroups;
  out.maintenance4 = v13 && v13f.maintenance4;
  out.cooperative_matrix_nv = out.cooperative_matrix_nv && coopmat.cooperativeMatrix;
  out.robust_buffer_access = features.features.robustBufferAccess;
}

}  // namespace

DeviceInfo query_device(VkInstance instance, const vk::raii::PhysicalDevice& physical, std::uint32_t index) {
  DeviceInfo info;
  info.index = index;
  const auto properties = physical.getProperties();
  info.api_version = properties.apiVersion;
  if (info.api_version >= VK_API_VERSION_1_2) {
    vk::PhysicalDeviceProperties2 properties2{};
    vk::PhysicalDeviceDriverProperties driver{};
    properties2.pNext = &driver;
    (*physical).getProperties2(&properties2);
    info.driver_name = driver.driverName.data();
    info.driver_info = driver.driverInfo.data();
    query_limits(physical, info);
    query_features(instance, physical, info);
  } else {
    info.name = properties.deviceName.data();
    info.type = device_type(properties.deviceType);
  }
  return info;
}

void EnabledFeatures::select(const vk::raii::PhysicalDevice& physical, const DeviceInfo& info,
                             bool robust_buffer_access) {
  const DeviceFeatures& offered = info.features;
  core.features.robustBufferAccess = robust_buffer_access && offered.robust_buffer_access;
  core.features.shaderInt64 = physical.getFeatures().shaderInt64;
  v11.storageBuffer16BitAccess = offered.storage_buffer_16bit;
  v12.shaderFloat16 = offered.shader_float16;
  v12.shaderInt8 = offered.shader_int8;
  v12.storageBuffer8BitAccess = offered.storage_buffer_8bit;
  v12.vulkanMemoryModel = offered.vulkan_memory_model;
  v13.subgroupSizeControl = offered.subgroup_size_control;
  v13.computeFullSubgroups = offered.subgroup_size_control;
  v13.maintenance4 = offered.maintenance4;  // LocalSizeId: how SPIR-V 1.6 modules give a workgroup size
  coopmat_nv.cooperativeMatrix = offered.cooperative_matrix_nv;
  coopmat_khr.cooperativeMatrix = offered.cooperative_matrix_khr;
  const auto& c2 = offered.cooperative_matrix2;
  coopmat2.cooperativeMatrixWorkgroupScope = c2.workgroup_scope;
  coopmat2.cooperativeMatrixFlexibleDimensions = c2.flexible_dimensions;
  coopmat2.cooperativeMatrixReductions = c2.reductions;
  coopmat2.cooperativeMatrixConversions = c2.conversions;
  coopmat2.cooperativeMatrixPerElementOperations = c2.per_element_operations;
  coopmat2.cooperativeMatrixTensorAddressing = c2.tensor_addressing;
  coopmat2.cooperativeMatrixBlockLoads = c2.block_loads;
  const bool enable_coopmat2 = offered.cooperative_matrix_khr && c2.all();

  core.pNext = &v11;
  v11.pNext = &v12;
  void** tail = &v12.pNext;
  if (info.api_version >= VK_API_VERSION_1_3) { *tail = &v13; tail = &v13.pNext; }
  if (offered.cooperative_matrix_nv) {
    *tail = &coopmat_nv;
    tail = &coopmat_nv.pNext;
    extensions.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  }
  if (offered.cooperative_matrix_khr) {
    *tail = &coopmat_khr;
    tail = &coopmat_khr.pNext;
    extensions.push_back(vkx::kKhrCooperativeMatrix);
  }
  if (enable_coopmat2) {
    *tail = &coopmat2;
    tail = &coopmat2.pNext;
    extensions.push_back(vkx::kNvCooperativeMatrix2);
  }
  if (offered.pipeline_statistics) {
    executable_properties.pipelineExecutableInfo = VK_TRUE;
    *tail = &executable_properties;
    tail = &executable_properties.pNext;
    extensions.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
  }
  *tail = nullptr;
}

}  // namespace aat::detail
