// Converting Vulkan-Hpp exceptions into aat::Error at the framework boundary.
#pragma once

#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include <vulkan/vulkan_raii.hpp>

#include "aat/error.hpp"

namespace aat::detail {

Error error_from_vulkan(const vk::SystemError& error, const std::string& what);

// Runs f() and returns its result as Expected, turning Vulkan and allocation exceptions
// into errors that say what was being done.
template <class F>
auto vk_call(const std::string& what, F&& f) -> Expected<std::invoke_result_t<F>> {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      std::forward<F>(f)();
      return {};
    } else {
      return std::forward<F>(f)();
    }
  } catch (const vk::SystemError& e) {
    return std::unexpected(error_from_vulkan(e, what));
  } catch (const std::bad_alloc&) {
    return fail(ErrorCode::out_of_memory, what + ": out of host memory");
  }
}

}  // namespace aat::detail
