// Sub-allocating device-memory allocator: large blocks per memory type, first-fit free lists
// with coalescing, dedicated allocations for big buffers. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <vulkan/vulkan_raii.hpp>

#include "aat/context.hpp"
#include "aat/error.hpp"

namespace aat::detail {

struct MemoryBlock {
  vk::raii::DeviceMemory memory;
  std::uint64_t size;
  std::uint32_t memory_type;
  std::byte* mapped;                              // null unless host-visible
  std::map<std::uint64_t, std::uint64_t> free;    // offset -> size
  bool dedicated;
};

struct Allocation {
  MemoryBlock* block = nullptr;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

class Allocator {
 public:
  // `filter`: ContextOptions::allocation_filter (asked before each vkAllocateMemory), may be empty.
  Allocator(const vk::raii::PhysicalDevice& physical, const vk::raii::Device& device,
            std::function<bool(std::uint64_t)> filter = {});

  Expected<Allocation> allocate(const vk::MemoryRequirements& requirements,
                                vk::MemoryPropertyFlags required, vk::MemoryPropertyFlags preferred);
  void release(const Allocation& allocation);

  vk::MemoryPropertyFlags memory_type_flags(std::uint32_t type) const {
    return properties_.memoryTypes[type].propertyFlags;
  }
  MemoryStats stats() const;
  void reset_peak();

 private:
  Expected<std::uint32_t> pick_memory_type(std::uint32_t allowed, vk::MemoryPropertyFlags required,
                                           vk::MemoryPropertyFlags preferred) const;
  Expected<MemoryBlock*> new_block(std::uint32_t memory_type, std::uint64_t size, bool dedicated);

  const vk::raii::Device& device_;
  std::function<bool(std::uint64_t)> filter_;
  vk::PhysicalDeviceMemoryProperties properties_;
  std::uint64_t block_size_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<MemoryBlock>> blocks_;
  MemoryStats stats_;
};

}  // namespace aat::detail
