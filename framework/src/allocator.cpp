#include "allocator.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "vk_error.hpp"

namespace aat::detail {

namespace {

constexpr std::uint64_t kDefaultBlockSize = 64ull << 20;

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return alignment <= 1 ? value : (value + alignment - 1) / alignment * alignment;
}

}  // namespace

Allocator::Allocator(const vk::raii::PhysicalDevice& physical, const vk::raii::Device& device,
                     std::function<bool(std::uint64_t)> filter)
    : device_(device), filter_(std::move(filter)), properties_(physical.getMemoryProperties()) {
  std::uint64_t smallest_heap = ~0ull;
  for (std::uint32_t h = 0; h < properties_.memoryHeapCount; ++h)
    smallest_heap = std::min<std::uint64_t>(smallest_heap, properties_.memoryHeaps[h].size);
  block_size_ = std::min(kDefaultBlockSize, std::max<std::uint64_t>(smallest_heap / 8, 1ull << 20));
}

Expected<std::uint32_t> Allocator::pick_memory_type(std::uint32_t allowed, vk::MemoryPropertyFlags required,
                                                    vk::MemoryPropertyFlags preferred) const {
  std::optional<std::uint32_t> fallback;
  for (std::uint32_t i = 0; i < properties_.memoryTypeCount; ++i) {
    if (!(allowed & (1u << i))) continue;
    const auto flags = properties_.memoryTypes[i].propertyFlags;
    if ((flags & required) != required) continue;
    if ((flags & preferred) == preferred) return i;
    if (!fallback) fallback = i;
  }
  if (fallback) return *fallback;
  return fail(ErrorCode::out_of_memory,
              fmt::format("no memory type offers the properties {} for this buffer", vk::to_string(required)));
}

Expected<MemoryBlock*> Allocator::new_block(std::uint32_t memory_type, std::uint64_t size, bool dedicated) {
  const auto heap = properties_.memoryTypes[memory_type].heapIndex;
  const auto heap_size = properties_.memoryHeaps[heap].size;
  if (size > heap_size)
    return fail(ErrorCode::out_of_memory,
                fmt::format("allocation of {} bytes is larger than the whole memory heap {} ({} bytes)", size,
                            heap, heap_size));
  if (filter_ && !filter_(size))
    return fail(ErrorCode::out_of_memory,
                fmt::format("allocation of {} bytes of device memory (heap {}) refused by "
                            "ContextOptions::allocation_filter", size, heap));
  AAT_TRY(auto memory, vk_call(fmt::format("allocating {} bytes of device memory (heap {})", size, heap), [&] {
            return vk::raii::DeviceMemory(device_, vk::MemoryAllocateInfo{.allocationSize = size,
                                                                          .memoryTypeIndex = memory_type});
          }));
  std::byte* mapped = nullptr;
  if (properties_.memoryTypes[memory_type].propertyFlags & vk::MemoryPropertyFlagBits::eHostVisible) {
    AAT_TRY(void* pointer, vk_call("mapping device memory", [&] { return memory.mapMemory(0, VK_WHOLE_SIZE); }));
    mapped = static_cast<std::byte*>(pointer);
  }
  auto block = std::make_unique<MemoryBlock>(
      MemoryBlock{std::move(memory), size, memory_type, mapped, {{0, size}}, dedicated});
  stats_.reserved_bytes += size;
  blocks_.push_back(std::move(block));
  return blocks_.back().get();
}

Expected<Allocation> Allocator::allocate(const vk::MemoryRequirements& requirements,
                                         vk::MemoryPropertyFlags required, vk::MemoryPropertyFlags preferred) {
  std::lock_guard lock(mutex_);
  AAT_TRY(const std::uint32_t memory_type, pick_memory_type(requirements.memoryTypeBits, required, preferred));
  const std::uint64_t size = requirements.size;
  const std::uint64_t alignment = std::max<std::uint64_t>(requirements.alignment, 256);

  auto record = [&](Allocation allocation) {
    stats_.live_bytes += allocation.size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
    ++stats_.live_buffers;
    return allocation;
  };

  if (size > block_size_ / 2) {
    AAT_TRY(MemoryBlock * block, new_block(memory_type, size, true));
    block->free.clear();
    return record(Allocation{block, 0, size});
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (auto& block : blocks_) {
      if (block->dedicated || block->memory_type != memory_type) continue;
      for (auto it = block->free.begin(); it != block->free.end(); ++it) {
        const auto [free_offset, free_size] = *it;
        const std::uint64_t offset = align_up(free_offset, alignment);
        if (offset + size > free_offset + free_size) continue;
        block->free.erase(it);
        if (offset > free_offset) block->free.emplace(free_offset, offset - free_offset);
        if (offset + size < free_offset + free_size)
          block->free.emplace(offset + size, free_offset + free_size - offset - size);
        return record(Allocation{block.get(), offset, size});
      }
    }
    if (attempt == 0) AAT_CHECK(new_block(memory_type, block_size_, false));
  }
  return fail(ErrorCode::internal, "allocator could not place a buffer in a fresh block");
}

void Allocator::release(const Allocation& allocation) {
  if (!allocation.block) return;
  std::lock_guard lock(mutex_);
  stats_.live_bytes -= allocation.size;
  --stats_.live_buffers;
  MemoryBlock* block = allocation.block;
  if (block->dedicated) {
    stats_.reserved_bytes -= block->size;
    std::erase_if(blocks_, [&](const auto& b) { return b.get() == block; });
    return;
  }
  // Return the range and merge it with its neighbours so large requests keep fitting.
  auto [it, inserted] = block->free.emplace(allocation.offset, allocation.size);
  if (auto next = std::next(it); next != block->free.end() && it->first + it->second == next->first) {
    it->second += next->second;
    block->free.erase(next);
  }
  if (it != block->free.begin()) {
    auto previous = std::prev(it);
    if (previous->first + previous->second == it->first) {
      previous->second += it->second;
      block->free.erase(it);
    }
  }
}

MemoryStats Allocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Allocator::reset_peak() {
  std::lock_guard lock(mutex_);
  stats_.peak_bytes = stats_.live_bytes;
}

}  // namespace aat::detail
