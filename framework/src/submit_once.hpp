// Record, submit and wait for a short command buffer (staging copies). Private.
#pragma once

#include <functional>

#include <vulkan/vulkan_raii.hpp>

#include "context_state.hpp"
#include "aat/error.hpp"

namespace aat::detail {

Expected<void> submit_once(ContextState& context, const std::string& what,
                           const std::function<void(const vk::raii::CommandBuffer&)>& record);

// Makes transfer/shader writes visible to the host after the fence; used at the end of
// every command buffer whose results the host reads through mapped memory.
void barrier_to_host(const vk::raii::CommandBuffer& commands);

}  // namespace aat::detail
