// Device memory: Buffer, a shared handle to a sub-allocated VkBuffer, and host<->device transfer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "aat/context.hpp"
#include "aat/error.hpp"

namespace aat {

enum class MemoryKind {
  device,     // device-local; on unified-memory devices (lavapipe, iGPUs) also mapped
  upload,     // host-visible, written by the host (staging, small constant data)
  readback,   // host-visible and cached, read by the host
};

struct BufferState;  // private

// A storage buffer. Copies share the same memory (like a shared_ptr); the memory returns to
// the allocator when the last copy and every stream using it are gone.
class Buffer {
 public:
  Buffer() = default;
  // `bytes` may be 0 (an empty tensor); the VkBuffer then still has a few bytes so it can be bound.
  static Expected<Buffer> create(const std::shared_ptr<Context>& context, std::uint64_t bytes,
                                 MemoryKind kind = MemoryKind::device);

  explicit operator bool() const { return state_ != nullptr; }
  std::uint64_t size() const;   // bytes requested
  MemoryKind kind() const;
  bool host_visible() const;
  std::span<std::byte> mapped() const;  // empty unless host_visible()

  // Host <-> device copies; staged through a temporary host buffer when not host-visible.
  Expected<void> write(std::span<const std::byte> bytes, std::uint64_t offset = 0) const;
  Expected<void> read(std::span<std::byte> bytes, std::uint64_t offset = 0) const;

  BufferState& state() const { return *state_; }
  const std::shared_ptr<BufferState>& shared_state() const { return state_; }

 private:
  explicit Buffer(std::shared_ptr<BufferState> state) : state_(std::move(state)) {}
  std::shared_ptr<BufferState> state_;
};

}  // namespace aat
