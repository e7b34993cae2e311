#include "spirv_requirements.hpp"

#include "spirv_words.hpp"

#include <unordered_map>

#include <fmt/format.h>

namespace aat::detail {

namespace {

using namespace spirv;  // NOLINT(google-build-using-namespace): the opcode names of spirv_words.hpp

struct Needed {
  std::uint32_t capability;
  std::string_view what;  // the device feature, as a user would look it up
  bool DeviceFeatures::*flag = nullptr;
  bool DeviceFeatures::CooperativeMatrix2::*coopmat2_flag = nullptr;
};

constexpr Needed kNeeded[] = {
    {9, "shaderFloat16", &DeviceFeatures::shader_float16},
    {4433, "storageBuffer16BitAccess", &DeviceFeatures::storage_buffer_16bit},
    {5345, "vulkanMemoryModel", &DeviceFeatures::vulkan_memory_model},
    {5357, "VK_NV_cooperative_matrix", &DeviceFeatures::cooperative_matrix_nv},
    {6022, "VK_KHR_cooperative_matrix (with a 16x16x16 f16 shape)", &DeviceFeatures::cooperative_matrix_khr},
    {5430, "VK_NV_cooperative_matrix2 cooperativeMatrixReductions", nullptr,
     &DeviceFeatures::CooperativeMatrix2::reductions},
    {5431, "VK_NV_cooperative_matrix2 cooperativeMatrixConversions", nullptr,
     &DeviceFeatures::CooperativeMatrix2::conversions},
    {5432, "VK_NV_cooperative_matrix2 cooperativeMatrixPerElementOperations", nullptr,
     &DeviceFeatures::CooperativeMatrix2::per_element_operations},
    {5433, "VK_NV_cooperative_matrix2 cooperativeMatrixTensorAddressing", nullptr,
     &DeviceFeatures::CooperativeMatrix2::tensor_addressing},
    {5434, "VK_NV_cooperative_matrix2 cooperativeMatrixBlockLoads", nullptr,
     &DeviceFeatures::CooperativeMatrix2::block_loads},
    {5439, "VK_NV_cooperative_matrix2 cooperativeMatrixTensorAddressing", nullptr,
     &DeviceFeatures::CooperativeMatrix2::tensor_addressing},
};

}  // namespace

Expected<SpirvRequirements> check_device_supports(std::span<const std::uint32_t> spirv, const DeviceInfo& device,
                                                  std::string_view kernel) {
  SpirvRequirements out;
  std::unordered_map<std::uint32_t, std::uint32_t> constants;  // result id -> 32-bit value
  const DeviceFeatures& f = device.features;
  Expected<void> refused;
  for_each_instruction(spirv, [&](std::uint32_t opcode, std::span<const std::uint32_t> words) {
    if (opcode == kOpCapability && words.size() > 1) {
      for (const Needed& n : kNeeded) {
        if (n.capability != words[1]) continue;
        const bool offered = n.flag ? f.*(n.flag) : f.cooperative_matrix2.*(n.coopmat2_flag);
        if (!offered) {
          refused = fail(ErrorCode::unsupported,
                         fmt::format("kernel '{}' needs {} (SPIR-V capability {}), which device '{}' does not offer",
                                     kernel, n.what, n.capability, device.name));
          return false;
        }
      }
    } else if (opcode == kOpExecutionModeId && words.size() > 2 && words[2] == kExecutionModeLocalSizeId &&
               !f.maintenance4) {
      refused = fail(ErrorCode::unsupported,
                     fmt::format("kernel '{}' sets its workgroup size by LocalSizeId (SPIR-V 1.6), which needs the "
                                 "maintenance4 feature; device '{}' does not offer it", kernel, device.name));
      return false;
    } else if (opcode == kOpConstant && words.size() == 4) {
      constants[words[2]] = words[3];
    } else if (opcode == kOpTypeCooperativeMatrixKHR && words.size() > 3) {
      const auto scope = constants.find(words[3]);
      if (scope != constants.end() && scope->second == kScopeWorkgroup) out.workgroup_scope_matrices = true;
    }
    return true;
  });
  AAT_CHECK(refused);
  if (out.workgroup_scope_matrices && !f.cooperative_matrix2.workgroup_scope)
    return fail(ErrorCode::unsupported,
                fmt::format("kernel '{}' uses workgroup-scope cooperative matrices, which need VK_NV_cooperative_matrix2 "
                            "cooperativeMatrixWorkgroupScope; device '{}' does not offer it", kernel, device.name));
  return out;
}

}  // namespace aat::detail
