#include "vk_error.hpp"

namespace aat::detail {

Error error_from_vulkan(const vk::SystemError& error, const std::string& what) {
  const auto result = static_cast<vk::Result>(error.code().value());
  ErrorCode code = ErrorCode::vulkan;
  if (result == vk::Result::eErrorOutOfDeviceMemory || result == vk::Result::eErrorOutOfHostMemory ||
      result == vk::Result::eErrorOutOfPoolMemory)
    code = ErrorCode::out_of_memory;
  else if (result == vk::Result::eErrorDeviceLost)
    code = ErrorCode::vulkan;
  else if (result == vk::Result::eTimeout)
    code = ErrorCode::timeout;
  return Error(code, what + ": " + error.what());
}

}  // namespace aat::detail
