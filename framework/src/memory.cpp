#include "aat/memory.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "buffer_state.hpp"
#include "submit_once.hpp"
#include "vk_error.hpp"

namespace aat {

namespace {

constexpr vk::BufferUsageFlags kUsage = vk::BufferUsageFlagBits::eStorageBuffer |
                                        vk::BufferUsageFlagBits::eUniformBuffer |
                                        vk::BufferUsageFlagBits::eTransferSrc |
                                        vk::BufferUsageFlagBits::eTransferDst;

struct MemoryFlags {
  vk::MemoryPropertyFlags required;
  vk::MemoryPropertyFlags preferred;
};

MemoryFlags flags_for(MemoryKind kind) {
  using F = vk::MemoryPropertyFlagBits;
  switch (kind) {
    case MemoryKind::device: return {F::eDeviceLocal, F::eDeviceLocal};
    case MemoryKind::upload: return {F::eHostVisible | F::eHostCoherent, F::eHostVisible | F::eHostCoherent};
    case MemoryKind::readback:
      return {F::eHostVisible | F::eHostCoherent, F::eHostVisible | F::eHostCoherent | F::eHostCached};
  }
  return {};
}

Expected<void> check_range(const BufferState& state, std::uint64_t offset, std::uint64_t bytes, const char* verb) {
  if (offset > state.size || bytes > state.size - offset)
    return fail(ErrorCode::size_mismatch, fmt::format("cannot {} {} bytes at offset {} of a {}-byte buffer", verb,
                                                      bytes, offset, state.size));
  return {};
}

}  // namespace

Expected<Buffer> Buffer::create(const std::shared_ptr<Context>& context, std::uint64_t bytes, MemoryKind kind) {
  if (!context) return fail(ErrorCode::invalid_argument, "Buffer::create: no context");
  AAT_TRY(auto state, detail::create_buffer_state(context->shared_state(), bytes, kind));
  return Buffer(std::move(state));
}

namespace detail {

Expected<std::shared_ptr<BufferState>> create_buffer_state(const std::shared_ptr<ContextState>& context,
                                                           std::uint64_t bytes, MemoryKind kind) {
  ContextState& ctx = *context;
  const std::uint64_t limit = ctx.info.limits.max_allocation_bytes;
  if (limit && bytes > limit)
    return fail(ErrorCode::out_of_memory, fmt::format("a buffer of {} bytes exceeds the device's largest allocation "
                                                      "({} bytes)", bytes, limit));
  auto state = std::make_shared<BufferState>();
  state->size = bytes;
  state->vk_size = std::max<std::uint64_t>((bytes + 3) / 4 * 4, 16);
  state->kind = kind;
  AAT_TRY(state->buffer, vk_call("creating a buffer", [&] {
            return vk::raii::Buffer(ctx.device, vk::BufferCreateInfo{.size = state->vk_size, .usage = kUsage});
          }));
  const auto flags = flags_for(kind);
  auto allocation = ctx.allocator->allocate(state->buffer.getMemoryRequirements(), flags.required, flags.preferred);
  if (!allocation) return forward(std::move(allocation), fmt::format("allocating a {}-byte buffer", bytes));
  state->allocation = *allocation;
  state->context = context;
  AAT_CHECK(vk_call("binding buffer memory", [&] {
    state->buffer.bindMemory(*state->allocation.block->memory, state->allocation.offset);
  }));
  const auto type_flags = ctx.allocator->memory_type_flags(state->allocation.block->memory_type);
  state->host_coherent_mapped = state->allocation.block->mapped != nullptr &&
                                bool(type_flags & vk::MemoryPropertyFlagBits::eHostCoherent) &&
                                !(ctx.force_staging && kind == MemoryKind::device);
  return state;
}

}  // namespace detail

std::uint64_t Buffer::size() const { return state_ ? state_->size : 0; }
MemoryKind Buffer::kind() const { return state_->kind; }
bool Buffer::host_visible() const { return state_ && state_->host_coherent_mapped; }

std::span<std::byte> Buffer::mapped() const {
  if (!host_visible()) return {};
  return {state_->mapped(), state_->size};
}

Expected<void> Buffer::write(std::span<const std::byte> bytes, std::uint64_t offset) const {
  if (!state_) return fail(ErrorCode::invalid_argument, "write to an empty Buffer handle");
  AAT_CHECK(check_range(*state_, offset, bytes.size(), "write"));
  if (bytes.empty()) return {};
  if (host_visible()) {
    std::memcpy(state_->mapped() + offset, bytes.data(), bytes.size());
    return {};
  }
  AAT_TRY(auto staging, detail::create_buffer_state(state_->context, bytes.size(), MemoryKind::upload));
  std::memcpy(staging->mapped(), bytes.data(), bytes.size());
  return detail::submit_once(*state_->context, "uploading to the device", [&](const vk::raii::CommandBuffer& cmd) {
    cmd.copyBuffer(*staging->buffer, *state_->buffer,
                   vk::BufferCopy{.srcOffset = 0, .dstOffset = offset, .size = bytes.size()});
  });
}

Expected<void> Buffer::read(std::span<std::byte> bytes, std::uint64_t offset) const {
  if (!state_) return fail(ErrorCode::invalid_argument, "read from an empty Buffer handle");
  AAT_CHECK(check_range(*state_, offset, bytes.size(), "read"));
  if (bytes.empty()) return {};
  if (host_visible()) {
    std::memcpy(bytes.data(), state_->mapped() + offset, bytes.size());
    return {};
  }
  AAT_TRY(auto staging, detail::create_buffer_state(state_->context, bytes.size(), MemoryKind::readback));
  AAT_CHECK(detail::submit_once(*state_->context, "downloading from the device", [&](const vk::raii::CommandBuffer& cmd) {
    cmd.copyBuffer(*state_->buffer, *staging->buffer,
                   vk::BufferCopy{.srcOffset = offset, .dstOffset = 0, .size = bytes.size()});
    detail::barrier_to_host(cmd);
  }));
  std::memcpy(bytes.data(), staging->mapped(), bytes.size());
  return {};
}

}  // namespace aat
