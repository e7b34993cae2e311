#include "submit_once.hpp"

#include "vk_error.hpp"

namespace aat::detail {

void barrier_to_host(const vk::raii::CommandBuffer& commands) {
  const vk::MemoryBarrier barrier{
      .srcAccessMask = vk::AccessFlagBits::eShaderWrite | vk::AccessFlagBits::eTransferWrite,
      .dstAccessMask = vk::AccessFlagBits::eHostRead};
  commands.pipelineBarrier(vk::PipelineStageFlagBits::eComputeShader | vk::PipelineStageFlagBits::eTransfer,
                           vk::PipelineStageFlagBits::eHost, {}, barrier, {}, {});
}

Expected<void> submit_once(ContextState& context, const std::string& what,
                           const std::function<void(const vk::raii::CommandBuffer&)>& record) {
  return vk_call(what, [&] {
    vk::raii::CommandPool pool(context.device, vk::CommandPoolCreateInfo{
                                                   .flags = vk::CommandPoolCreateFlagBits::eTransient,
                                                   .queueFamilyIndex = context.queue_family});
    vk::raii::CommandBuffers buffers(context.device, vk::CommandBufferAllocateInfo{
                                                         .commandPool = *pool,
                                                         .level = vk::CommandBufferLevel::ePrimary,
                                                         .commandBufferCount = 1});
    const auto& commands = buffers.front();
    commands.begin(vk::CommandBufferBeginInfo{.flags = vk::CommandBufferUsageFlagBits::eOneTimeSubmit});
    record(commands);
    commands.end();
    vk::raii::Fence fence(context.device, vk::FenceCreateInfo{});
    const vk::CommandBuffer handle = *commands;
    {
      std::lock_guard lock(context.queue_mutex);
      context.queue.submit(vk::SubmitInfo{.commandBufferCount = 1, .pCommandBuffers = &handle}, *fence);
    }
    const auto result = context.device.waitForFences(*fence, VK_TRUE, 120'000'000'000ull);
    if (result != vk::Result::eSuccess)
      throw vk::SystemError(vk::make_error_code(vk::Result::eTimeout), "the device did not finish within 120 s");
  });
}

}  // namespace aat::detail
