// The Vulkan objects behind aat::Buffer. Private to the framework.
#pragma once

#include <memory>

#include <vulkan/vulkan_raii.hpp>

#include "allocator.hpp"
#include "context_state.hpp"
#include "aat/memory.hpp"

namespace aat {

struct BufferState {
  std::shared_ptr<ContextState> context;  // keeps the device alive as long as the buffer
  detail::Allocation allocation;
  vk::raii::Buffer buffer = nullptr;      // destroyed before the memory is released
  std::uint64_t size = 0;                 // requested bytes
  std::uint64_t vk_size = 0;              // bytes of the VkBuffer (>= size, never 0)
  MemoryKind kind = MemoryKind::device;
  bool host_coherent_mapped = false;

  std::byte* mapped() const { return allocation.block->mapped + allocation.offset; }

  ~BufferState() {
    buffer.clear();
    if (context) context->allocator->release(allocation);
  }
};

namespace detail {
Expected<std::shared_ptr<BufferState>> create_buffer_state(const std::shared_ptr<ContextState>& context,
                                                           std::uint64_t bytes, MemoryKind kind);
}  // namespace detail

}  // namespace aat
