#include "aat/stream.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "buffer_state.hpp"
#include "context_state.hpp"
#include "kernel_state.hpp"
#include "submit_once.hpp"
#include "vk_error.hpp"

namespace aat {

namespace {

constexpr std::uint32_t kMaxTimedDispatches = 512;

enum class Phase { recording, submitted, done };

}  // namespace

struct StreamState {
  std::shared_ptr<ContextState> context;
  vk::raii::CommandPool pool = nullptr;
  vk::raii::CommandBuffer commands = nullptr;
  vk::raii::Fence fence = nullptr;
  vk::raii::QueryPool queries = nullptr;
  std::vector<std::shared_ptr<const void>> keep_alive;
  // Descriptor sets taken from the context's set layouts for recorded dispatches; given back
  // when the stream no longer needs them (reset, destruction).
  std::vector<std::pair<std::shared_ptr<detail::SetLayout>, vk::DescriptorSet>> descriptor_sets;
  std::vector<std::string> labels;
  std::vector<DispatchTiming> timings;
  Phase phase = Phase::recording;
  bool auto_barriers = true;
  bool pending_writes = false;  // a recorded command wrote memory that no barrier has covered yet

  void barrier() {
    const vk::MemoryBarrier memory{
        .srcAccessMask = vk::AccessFlagBits::eShaderWrite | vk::AccessFlagBits::eTransferWrite,
        .dstAccessMask = vk::AccessFlagBits::eShaderRead | vk::AccessFlagBits::eShaderWrite |
                         vk::AccessFlagBits::eTransferRead | vk::AccessFlagBits::eTransferWrite};
    const auto stages = vk::PipelineStageFlagBits::eComputeShader | vk::PipelineStageFlagBits::eTransfer;
    commands.pipelineBarrier(stages, stages, {}, memory, {}, {});
    pending_writes = false;
  }

  void before_command() {
    if (auto_barriers && pending_writes) barrier();
  }

  Expected<void> require_recording(const char* what) const {
    if (phase != Phase::recording)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("cannot {}: the stream was submitted; wait() and reset() it first", what));
    return {};
  }

  // One descriptor set per set of the kernel's layout, taken from the context's recycled sets.
  Expected<std::vector<vk::DescriptorSet>> take_sets(const KernelState& kernel) {
    std::vector<vk::DescriptorSet> sets;
    for (const auto& layout : kernel.layout().sets) {
      AAT_TRY(const vk::DescriptorSet set, layout->take());
      descriptor_sets.emplace_back(layout, set);
      sets.push_back(set);
    }
    return sets;
  }

  void give_back_sets() {
    for (auto& [layout, set] : descriptor_sets) layout->give_back(set);
    descriptor_sets.clear();
  }

  ~StreamState() {
    commands.clear();  // the sets it recorded are then free to be rewritten by other streams
    give_back_sets();
  }
};

Expected<Stream> Stream::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "Stream::create: no context");
  auto s = std::make_unique<StreamState>();
  s->context = context->shared_state();
  ContextState& ctx = *s->context;
  AAT_CHECK(detail::vk_call("creating a stream", [&] {
    s->pool = vk::raii::CommandPool(ctx.device, vk::CommandPoolCreateInfo{
                                                    .flags = vk::CommandPoolCreateFlagBits::eResetCommandBuffer,
                                                    .queueFamilyIndex = ctx.queue_family});
    s->commands = std::move(vk::raii::CommandBuffers(ctx.device, vk::CommandBufferAllocateInfo{
                                                                     .commandPool = *s->pool,
                                                                     .level = vk::CommandBufferLevel::ePrimary,
                                                                     .commandBufferCount = 1})
                                .front());
    s->fence = vk::raii::Fence(ctx.device, vk::FenceCreateInfo{});
    if (ctx.info.limits.timestamp_period_ns > 0)
      s->queries = vk::raii::QueryPool(ctx.device, vk::QueryPoolCreateInfo{.queryType = vk::QueryType::eTimestamp,
                                                                           .queryCount = 2 * kMaxTimedDispatches});
    s->commands.begin(vk::CommandBufferBeginInfo{.flags = vk::CommandBufferUsageFlagBits::eOneTimeSubmit});
    if (*s->queries) s->commands.resetQueryPool(*s->queries, 0, 2 * kMaxTimedDispatches);
  }));
  return Stream(std::move(s));
}

Stream::Stream(std::unique_ptr<StreamState> state) : state_(std::move(state)) {}
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

Stream::~Stream() {
  if (state_ && state_->phase == Phase::submitted) (void)wait();
}

void Stream::set_auto_barriers(bool enabled) { state_->auto_barriers = enabled; }

void Stream::barrier() {
  if (state_->phase == Phase::recording) state_->barrier();
}

Expected<void> Stream::dispatch(const Bindings& bindings, Workgroups groups, std::string label) {
  StreamState& s = *state_;
  AAT_CHECK(s.require_recording("record a dispatch"));
  const Kernel& kernel = bindings.kernel();
  if (kernel.state().context != s.context)
    return fail(ErrorCode::invalid_argument, "kernel '" + kernel.name() + "' belongs to another context");
  AAT_CHECK(bindings.validate());
  const auto& limits = s.context->info.limits;
  const std::uint32_t counts[3] = {groups.x, groups.y, groups.z};
  for (int axis = 0; axis < 3; ++axis)
    if (counts[axis] > limits.max_workgroup_count[axis])
      return fail(ErrorCode::invalid_argument, fmt::format("kernel '{}': {} workgroups along {} exceed the device's {}",
                                                           kernel.name(), counts[axis], "xyz"[axis],
                                                           limits.max_workgroup_count[axis]));

  const KernelState& k = kernel.state();
  const auto& interface = k.interface();
  vk::Buffer placeholder;
  if (bindings.uses_placeholder()) {
    AAT_TRY(placeholder, s.context->kernels.placeholder(*s.context));
  }
  AAT_TRY(auto sets, s.take_sets(k));
  std::vector<vk::DescriptorBufferInfo> infos(interface.bindings.size());
  std::vector<vk::WriteDescriptorSet> writes;
  for (std::size_t i = 0; i < interface.bindings.size(); ++i) {
    const Binding& b = interface.bindings[i];
    if (bindings.is_placeholder(i)) {
      infos[i] = vk::DescriptorBufferInfo{.buffer = placeholder, .offset = 0, .range = detail::KernelCache::kPlaceholderBytes};
    } else {
      const BufferState& buffer = bindings.buffers()[i].state();
      // A uniform block never reads past its declared size, and binding the whole of a larger
      // buffer would exceed maxUniformBufferRange (64 KiB on many devices).
      const vk::DeviceSize range = b.kind == DescriptorKind::uniform_buffer
                                       ? std::min<vk::DeviceSize>(b.block_size, buffer.vk_size)
                                       : buffer.vk_size;
      infos[i] = vk::DescriptorBufferInfo{.buffer = *buffer.buffer, .offset = 0, .range = range};
      s.keep_alive.push_back(bindings.buffers()[i].shared_state());
    }
    writes.push_back(vk::WriteDescriptorSet{.dstSet = sets[b.set],
                                            .dstBinding = b.binding,
                                            .descriptorCount = 1,
                                            .descriptorType = b.kind == DescriptorKind::uniform_buffer
                                                                  ? vk::DescriptorType::eUniformBuffer
                                                                  : vk::DescriptorType::eStorageBuffer,
                                            .pBufferInfo = &infos[i]});
  }
  const vk::PipelineLayout layout = *k.layout().layout;
  return detail::vk_call("recording a dispatch of '" + kernel.name() + "'", [&] {
    s.context->device.updateDescriptorSets(writes, {});
    s.before_command();
    const bool timed = *s.queries && s.labels.size() < kMaxTimedDispatches;
    const auto query = static_cast<std::uint32_t>(2 * s.labels.size());
    if (timed) s.commands.writeTimestamp(vk::PipelineStageFlagBits::eTopOfPipe, *s.queries, query);
    s.commands.bindPipeline(vk::PipelineBindPoint::eCompute, *k.compiled->pipeline);
    if (!sets.empty()) s.commands.bindDescriptorSets(vk::PipelineBindPoint::eCompute, layout, 0, sets, {});
    if (!bindings.push_data().empty()) {
      std::vector<std::byte> data = bindings.push_data();
      data.resize((data.size() + 3) / 4 * 4);
      s.commands.pushConstants<std::byte>(layout, vk::ShaderStageFlagBits::eCompute, 0, data);
    }
    s.commands.dispatch(groups.x, groups.y, groups.z);
    if (timed) {
      s.commands.writeTimestamp(vk::PipelineStageFlagBits::eBottomOfPipe, *s.queries, query + 1);
      s.labels.push_back(label.empty() ? kernel.name() : std::move(label));
    }
    s.keep_alive.push_back(kernel.shared_state());
    s.pending_writes = true;
  });
}

Expected<void> Stream::copy(const Buffer& source, const Buffer& destination, std::uint64_t bytes,
                            std::uint64_t source_offset, std::uint64_t destination_offset) {
  StreamState& s = *state_;
  AAT_CHECK(s.require_recording("record a copy"));
  if (!source || !destination) return fail(ErrorCode::invalid_argument, "copy: empty buffer handle");
  const auto out_of_range = [](std::uint64_t offset, std::uint64_t count, std::uint64_t size) {
    return offset > size || count > size - offset;  // offset + count may wrap around
  };
  if (out_of_range(source_offset, bytes, source.size()) || out_of_range(destination_offset, bytes, destination.size()))
    return fail(ErrorCode::size_mismatch, fmt::format("copy of {} bytes from offset {} of a {}-byte buffer to offset "
                                                      "{} of a {}-byte buffer is out of range", bytes, source_offset,
                                                      source.size(), destination_offset, destination.size()));
  if (bytes == 0) return {};
  s.before_command();
  s.commands.copyBuffer(*source.state().buffer, *destination.state().buffer,
                        vk::BufferCopy{.srcOffset = source_offset, .dstOffset = destination_offset, .size = bytes});
  s.keep_alive.push_back(source.shared_state());
  s.keep_alive.push_back(destination.shared_state());
  s.pending_writes = true;
  return {};
}

Expected<void> Stream::fill(const Buffer& buffer, std::uint32_t word, std::uint64_t bytes) {
  StreamState& s = *state_;
  AAT_CHECK(s.require_recording("record a fill"));
  if (!buffer) return fail(ErrorCode::invalid_argument, "fill: empty buffer handle");
  if (bytes == ~0ull) bytes = buffer.state().vk_size;
  if (bytes % 4 != 0 || bytes > buffer.state().vk_size)
    return fail(ErrorCode::size_mismatch, fmt::format("fill of {} bytes: must be a multiple of 4 and at most {}",
                                                      bytes, buffer.state().vk_size));
  if (bytes == 0) return {};
  s.before_command();
  s.commands.fillBuffer(*buffer.state().buffer, 0, bytes, word);
  s.keep_alive.push_back(buffer.shared_state());
  s.pending_writes = true;
  return {};
}

Expected<void> Stream::submit() {
  StreamState& s = *state_;
  AAT_CHECK(s.require_recording("submit"));
  return detail::vk_call("submitting a stream", [&] {
    detail::barrier_to_host(s.commands);
    s.commands.end();
    const vk::CommandBuffer handle = *s.commands;
    std::lock_guard lock(s.context->queue_mutex);
    s.context->queue.submit(vk::SubmitInfo{.commandBufferCount = 1, .pCommandBuffers = &handle}, *s.fence);
    s.phase = Phase::submitted;
  });
}

Expected<void> Stream::wait(std::chrono::milliseconds timeout) {
  StreamState& s = *state_;
  if (s.phase == Phase::done) return {};
  if (s.phase != Phase::submitted) return fail(ErrorCode::invalid_argument, "wait: the stream was not submitted");
  AAT_TRY(const vk::Result result, detail::vk_call("waiting for the device", [&] {
            return s.context->device.waitForFences(*s.fence, VK_TRUE,
                                                   static_cast<std::uint64_t>(timeout.count()) * 1'000'000ull);
          }));
  if (result == vk::Result::eTimeout)
    return fail(ErrorCode::timeout, fmt::format("the device did not finish within {} ms", timeout.count()));
  s.phase = Phase::done;
  if (*s.queries && !s.labels.empty()) {
    const auto count = static_cast<std::uint32_t>(2 * s.labels.size());
    AAT_TRY(auto stamps, detail::vk_call("reading timestamps", [&] {
              return s.queries.getResults<std::uint64_t>(0, count, count * sizeof(std::uint64_t), sizeof(std::uint64_t),
                                                          vk::QueryResultFlagBits::e64 | vk::QueryResultFlagBits::eWait);
            }));
    const double period = s.context->info.limits.timestamp_period_ns;
    for (std::size_t i = 0; i < s.labels.size(); ++i)
      s.timings.push_back({s.labels[i], static_cast<double>(stamps.second[2 * i + 1] - stamps.second[2 * i]) * period * 1e-6});
  }
  return {};
}

Expected<void> Stream::reset() {
  StreamState& s = *state_;
  if (s.phase == Phase::submitted) return fail(ErrorCode::invalid_argument, "reset: wait() for the stream first");
  return detail::vk_call("resetting a stream", [&] {
    s.commands.reset();
    s.context->device.resetFences(*s.fence);
    s.give_back_sets();
    s.keep_alive.clear();
    s.labels.clear();
    s.timings.clear();
    s.pending_writes = false;
    s.commands.begin(vk::CommandBufferBeginInfo{.flags = vk::CommandBufferUsageFlagBits::eOneTimeSubmit});
    if (*s.queries) s.commands.resetQueryPool(*s.queries, 0, 2 * kMaxTimedDispatches);
    s.phase = Phase::recording;
  });
}

const std::vector<DispatchTiming>& Stream::timings() const { return state_->timings; }

double Stream::total_gpu_ms() const {
  double total = 0;
  for (const auto& t : state_->timings) total += t.gpu_ms;
  return total;
}

bool Stream::has_timestamps() const { return *state_->queries; }

}  // namespace aat
