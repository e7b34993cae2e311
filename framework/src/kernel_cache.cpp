#include "kernel_cache.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "context_state.hpp"
#include "spirv_requirements.hpp"
#include "vk_error.hpp"

namespace aat::detail {

namespace {

constexpr std::uint32_t kSetsPerPool = 64;

vk::DescriptorType descriptor_type(DescriptorKind kind) {
  switch (kind) {
    case DescriptorKind::uniform_buffer: return vk::DescriptorType::eUniformBuffer;
    case DescriptorKind::storage_image: return vk::DescriptorType::eStorageImage;
    case DescriptorKind::sampled_image: return vk::DescriptorType::eCombinedImageSampler;
    case DescriptorKind::sampler: return vk::DescriptorType::eSampler;
    default: return vk::DescriptorType::eStorageBuffer;
  }
}

Expected<void> check_bindings(const KernelInterface& interface) {
  for (const auto& b : interface.bindings) {
    if (b.kind != DescriptorKind::storage_buffer && b.kind != DescriptorKind::uniform_buffer)
      return fail(ErrorCode::unsupported, fmt::format("binding '{}' is a {}; AAT kernels bind buffers only", b.name,
                                                      to_string(b.kind)));
    // Bindings holds one buffer per binding and a dispatch writes one descriptor: the other
    // elements of an array would be left unwritten.
    if (b.array_size != 1)
      return fail(ErrorCode::unsupported, fmt::format("binding '{}' is an array of {} buffers; AAT kernels bind one "
                                                      "buffer per binding", b.name, b.array_size));
  }
  return {};
}

}  // namespace

std::uint64_t spirv_digest(std::span<const std::uint32_t> words) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const std::uint32_t w : words) {
    hash ^= w;
    hash *= 0x100000001b3ull;
  }
  return hash ^ words.size();
}

SetLayout::SetLayout(const vk::raii::Device& device, std::vector<Entry> entries)
    : device_(device), entries_(std::move(entries)) {
  std::vector<vk::DescriptorSetLayoutBinding> bindings;
  for (const auto& e : entries_)
    bindings.push_back({.binding = e.binding,
                        .descriptorType = e.type,
                        .descriptorCount = e.count,
                        .stageFlags = vk::ShaderStageFlagBits::eCompute});
  layout_ = vk::raii::DescriptorSetLayout(device_, vk::DescriptorSetLayoutCreateInfo{
                                                       .bindingCount = static_cast<std::uint32_t>(bindings.size()),
                                                       .pBindings = bindings.data()});
}

Expected<vk::DescriptorSet> SetLayout::take() {
  std::lock_guard lock(mutex_);
  if (!free_.empty()) {
    const vk::DescriptorSet set = free_.back();
    free_.pop_back();
    return set;
  }
  if (pools_.empty() || room_ == 0) {
    // A pool holds kSetsPerPool sets of exactly this layout: counted per descriptor type, as
    // strict drivers refuse an allocation past either count.
    std::map<vk::DescriptorType, std::uint32_t> per_type;
    for (const auto& e : entries_) per_type[e.type] += e.count * kSetsPerPool;
    std::vector<vk::DescriptorPoolSize> sizes;
    for (const auto& [type, count] : per_type) sizes.push_back({type, count});
    AAT_TRY(auto pool, vk_call("creating a descriptor pool", [&] {
              return vk::raii::DescriptorPool(device_, vk::DescriptorPoolCreateInfo{
                                                           .maxSets = kSetsPerPool,
                                                           .poolSizeCount = static_cast<std::uint32_t>(sizes.size()),
                                                           .pPoolSizes = sizes.data()});
            }));
    pools_.push_back(std::move(pool));
    room_ = kSetsPerPool;
  }
  AAT_TRY(const vk::DescriptorSet set, vk_call("allocating a descriptor set", [&] {
            // Sets are never freed one by one: they go back to free_ and die with their pool.
            VkDescriptorSet out = VK_NULL_HANDLE;
            const VkDescriptorSetLayout handle = *layout_;
            const VkDescriptorSetAllocateInfo info{.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                                   .pNext = nullptr,
                                                   .descriptorPool = *pools_.back(),
                                                   .descriptorSetCount = 1,
                                                   .pSetLayouts = &handle};
            const auto result = static_cast<vk::Result>(
                device_.getDispatcher()->vkAllocateDescriptorSets(*device_, &info, &out));
            if (result != vk::Result::eSuccess) vk::throwResultException(result, "vkAllocateDescriptorSets");
            return vk::DescriptorSet(out);
          }));
  --room_;
  ++allocated_;
  return set;
}

std::uint64_t SetLayout::allocated() const {
  std::lock_guard lock(mutex_);
  return allocated_;
}

void SetLayout::give_back(vk::DescriptorSet set) {
  std::lock_guard lock(mutex_);
  free_.push_back(set);
}

Expected<std::shared_ptr<PipelineLayout>> KernelCache::layout_for(ContextState& context,
                                                                   const KernelInterface& interface) {
  AAT_CHECK(check_bindings(interface));
  std::uint32_t set_count = 0;
  for (const auto& b : interface.bindings) set_count = std::max(set_count, b.set + 1);
  std::uint32_t push_bytes = 0;
  if (interface.push_constants) {
    push_bytes = (interface.push_constants->size + 3) / 4 * 4;
    const auto limit = context.info.limits.max_push_constant_bytes;
    if (push_bytes > limit)
      return fail(ErrorCode::unsupported,
                  fmt::format("push constants take {} bytes; the device allows {}", push_bytes, limit));
  }
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<SetLayout>> sets;
  std::vector<const SetLayout*> key;
  for (std::uint32_t set = 0; set < set_count; ++set) {
    std::vector<SetLayout::Entry> entries;
    for (const auto& b : interface.bindings)
      if (b.set == set) entries.push_back({b.binding, descriptor_type(b.kind), b.array_size});
    std::sort(entries.begin(), entries.end());
    auto& shared = set_layouts_[entries];
    if (!shared) {
      AAT_TRY(shared, vk_call("creating a descriptor-set layout",
                              [&] { return std::make_shared<SetLayout>(context.device, entries); }));
    }
    key.push_back(shared.get());
    sets.push_back(shared);
  }
  auto& layout = pipeline_layouts_[{key, push_bytes}];
  if (!layout) {
    auto made = std::make_shared<PipelineLayout>();
    made->sets = std::move(sets);
    std::vector<vk::DescriptorSetLayout> handles;
    for (const auto& s : made->sets) handles.push_back(*s->layout());
    const vk::PushConstantRange range{.stageFlags = vk::ShaderStageFlagBits::eCompute, .offset = 0, .size = push_bytes};
    AAT_TRY(made->layout, vk_call("creating a pipeline layout", [&] {
              return vk::raii::PipelineLayout(
                  context.device,
                  vk::PipelineLayoutCreateInfo{.setLayoutCount = static_cast<std::uint32_t>(handles.size()),
                                               .pSetLayouts = handles.data(),
                                               .pushConstantRangeCount = push_bytes ? 1u : 0u,
                                               .pPushConstantRanges = &range});
            }));
    layout = std::move(made);
  }
  return layout;
}

Expected<std::shared_ptr<const Program>> KernelCache::program(ContextState& context,
                                                              std::span<const std::uint32_t> spirv,
                                                              const std::string& name) {
  const std::uint64_t digest = spirv_digest(spirv);
  {
    std::lock_guard lock(mutex_);
    for (auto [it, end] = programs_.equal_range(digest); it != end; ++it)
      if (std::equal(spirv.begin(), spirv.end(), it->second->spirv.begin(), it->second->spirv.end())) return it->second;
  }
  auto made = std::make_shared<Program>();
  made->digest = digest;
  made->spirv.assign(spirv.begin(), spirv.end());
  auto interface = reflect(made->spirv);
  if (!interface) return forward(std::move(interface), "kernel '" + name + "'");
  AAT_TRY(const auto requirements, check_device_supports(made->spirv, context.info, name));
  made->interface = std::move(*interface);
  made->workgroup_scope_matrices = requirements.workgroup_scope_matrices;
  AAT_TRY(made->layout, with_context(layout_for(context, made->interface), "building kernel '" + name + "'"));
  std::lock_guard lock(mutex_);
  for (auto [it, end] = programs_.equal_range(digest); it != end; ++it)  // another thread was first
    if (it->second->spirv == made->spirv) return it->second;
  programs_.emplace(digest, made);
  return made;
}

Expected<std::shared_ptr<const CompiledKernel>> KernelCache::pipeline(ContextState& context,
                                                                      const std::shared_ptr<const Program>& program,
                                                                      std::vector<std::byte> specialization,
                                                                      std::array<std::uint32_t, 3> local_size,
                                                                      std::uint32_t required_subgroup_size,
                                                                      const std::string& name) {
  auto key = std::make_tuple(program.get(), specialization, required_subgroup_size);
  {
    std::lock_guard lock(mutex_);
    if (auto found = pipelines_.find(key); found != pipelines_.end()) return found->second;
  }
  // Built outside the lock (a pipeline can take long); a thread that lost the race drops its copy.
  auto made = std::make_shared<CompiledKernel>();
  made->program = program;
  made->specialization = std::move(specialization);
  made->required_subgroup_size = required_subgroup_size;
  made->local_size = local_size;
  const KernelInterface& interface = program->interface;
  std::vector<vk::SpecializationMapEntry> entries;
  std::uint32_t offset = 0;
  for (const SpecConstant& spec : interface.spec_constants) {  // the layout kernel.cpp wrote the bytes in
    const std::uint32_t size = spec.type == ScalarType::boolean ? 4 : size_of(spec.type);
    entries.push_back({.constantID = spec.id, .offset = offset, .size = size});
    offset += size;
  }
  const vk::SpecializationInfo spec_info{.mapEntryCount = static_cast<std::uint32_t>(entries.size()),
                                         .pMapEntries = entries.data(),
                                         .dataSize = made->specialization.size(),
                                         .pData = made->specialization.data()};
  const auto& features = context.info.features;
  vk::PipelineShaderStageRequiredSubgroupSizeCreateInfo subgroup{.requiredSubgroupSize = required_subgroup_size};
  vk::PipelineShaderStageCreateFlags stage_flags{};
  if (required_subgroup_size) stage_flags = vk::PipelineShaderStageCreateFlagBits::eRequireFullSubgroups;
  AAT_TRY(auto module, vk_call("creating the shader module of '" + name + "'", [&] {
            return vk::raii::ShaderModule(context.device,
                                          vk::ShaderModuleCreateInfo{.codeSize = program->spirv.size() * sizeof(std::uint32_t),
                                                                     .pCode = program->spirv.data()});
          }));
  const vk::ComputePipelineCreateInfo pipeline_info{
      .flags = features.pipeline_statistics ? vk::PipelineCreateFlagBits::eCaptureStatisticsKHR
                                            : vk::PipelineCreateFlags{},
      .stage = {.pNext = required_subgroup_size ? &subgroup : nullptr,
                .flags = stage_flags,
                .stage = vk::ShaderStageFlagBits::eCompute,
                .module = *module,
                .pName = interface.entry_point.c_str(),
                .pSpecializationInfo = &spec_info},
      .layout = *program->layout->layout};
  AAT_TRY(made->pipeline, vk_call("creating the pipeline of '" + name + "'", [&] {
            return vk::raii::Pipeline(context.device, context.pipeline_cache, pipeline_info);
          }));
  std::lock_guard lock(mutex_);
  auto [it, inserted] = pipelines_.emplace(std::move(key), made);
  return it->second;
}

Expected<vk::Buffer> KernelCache::placeholder(ContextState& context) {
  std::lock_guard lock(placeholder_mutex_);
  if (*placeholder_buffer_) return *placeholder_buffer_;
  AAT_CHECK(vk_call("creating the placeholder buffer", [&] {
    vk::raii::Buffer buffer(context.device,
                            vk::BufferCreateInfo{.size = kPlaceholderBytes,
                                                 .usage = vk::BufferUsageFlagBits::eStorageBuffer |
                                                          vk::BufferUsageFlagBits::eUniformBuffer |
                                                          vk::BufferUsageFlagBits::eTransferDst});
    const auto requirements = buffer.getMemoryRequirements();
    const auto properties = context.physical.getMemoryProperties();
    std::uint32_t type = 0;
    for (std::uint32_t t = 0; t < properties.memoryTypeCount; ++t)
      if (requirements.memoryTypeBits & (1u << t)) {
        type = t;
        if (properties.memoryTypes[t].propertyFlags & vk::MemoryPropertyFlagBits::eDeviceLocal) break;
      }
    vk::raii::DeviceMemory memory(context.device,
                                  vk::MemoryAllocateInfo{.allocationSize = requirements.size, .memoryTypeIndex = type});
    buffer.bindMemory(*memory, 0);
    placeholder_memory_ = std::move(memory);
    placeholder_buffer_ = std::move(buffer);
  }));
  return *placeholder_buffer_;
}

KernelCacheStats KernelCache::stats() const {
  std::lock_guard lock(mutex_);
  KernelCacheStats out{programs_.size(), pipelines_.size(), set_layouts_.size(), pipeline_layouts_.size(), 0};
  for (const auto& [entries, layout] : set_layouts_) out.descriptor_sets += layout->allocated();
  return out;
}

}  // namespace aat::detail
