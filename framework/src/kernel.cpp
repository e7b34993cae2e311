#include "aat/kernel.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "kernel_state.hpp"
#include "spirv_requirements.hpp"
#include "vk_error.hpp"

namespace aat {

namespace {

vk::DescriptorType descriptor_type(DescriptorKind kind) {
  switch (kind) {
    case DescriptorKind::uniform_buffer: return vk::DescriptorType::eUniformBuffer;
    case DescriptorKind::storage_image: return vk::DescriptorType::eStorageImage;
    case DescriptorKind::sampled_image: return vk::DescriptorType::eCombinedImageSampler;
    case DescriptorKind::sampler: return vk::DescriptorType::eSampler;
    default: return vk::DescriptorType::eStorageBuffer;
  }
}

Expected<void> build_layouts(KernelState& k) {
  for (const auto& b : k.interface.bindings) {
    if (b.kind != DescriptorKind::storage_buffer && b.kind != DescriptorKind::uniform_buffer)
      return fail(ErrorCode::unsupported, fmt::format("binding '{}' is a {}; AAT kernels bind buffers only", b.name,
                                                      to_string(b.kind)));
    // Bindings holds one buffer per binding and a dispatch writes one descriptor: the other
    // elements of an array would be left unwritten.
    if (b.array_size != 1)
      return fail(ErrorCode::unsupported, fmt::format("binding '{}' is an array of {} buffers; AAT kernels bind one "
                                                      "buffer per binding", b.name, b.array_size));
  }
  std::uint32_t set_count = 0;
  for (const auto& b : k.interface.bindings) set_count = std::max(set_count, b.set + 1);
  for (std::uint32_t set = 0; set < set_count; ++set) {
    std::vector<vk::DescriptorSetLayoutBinding> entries;
    for (const auto& b : k.interface.bindings)
      if (b.set == set)
        entries.push_back({.binding = b.binding,
                           .descriptorType = descriptor_type(b.kind),
                           .descriptorCount = b.array_size,
                           .stageFlags = vk::ShaderStageFlagBits::eCompute});
    AAT_TRY(auto layout, detail::vk_call("creating a descriptor-set layout", [&] {
              return vk::raii::DescriptorSetLayout(
                  k.context->device, vk::DescriptorSetLayoutCreateInfo{
                                         .bindingCount = static_cast<std::uint32_t>(entries.size()),
                                         .pBindings = entries.data()});
            }));
    k.set_layouts.push_back(std::move(layout));
  }
  std::vector<vk::DescriptorSetLayout> handles;
  for (const auto& l : k.set_layouts) handles.push_back(*l);
  vk::PushConstantRange range{.stageFlags = vk::ShaderStageFlagBits::eCompute, .offset = 0, .size = 0};
  if (k.interface.push_constants) {
    range.size = (k.interface.push_constants->size + 3) / 4 * 4;
    const auto limit = k.context->info.limits.max_push_constant_bytes;
    if (range.size > limit)
      return fail(ErrorCode::unsupported,
                  fmt::format("push constants take {} bytes; the device allows {}", range.size, limit));
  }
  AAT_TRY(k.layout, detail::vk_call("creating a pipeline layout", [&] {
            return vk::raii::PipelineLayout(
                k.context->device,
                vk::PipelineLayoutCreateInfo{.setLayoutCount = static_cast<std::uint32_t>(handles.size()),
                                             .pSetLayouts = handles.data(),
                                             .pushConstantRangeCount = range.size ? 1u : 0u,
                                             .pPushConstantRanges = &range});
          }));
  return {};
}

struct Specialization {
  std::vector<vk::SpecializationMapEntry> entries;
  std::vector<std::byte> data;
};

// Every reflected specialization constant, in id order, with the value asked for or its
// default: the bytes are then a function of the values alone (a cache key), and no consumer of
// the map — driver or validation layer (1.4.309 misreads a map whose entries are not in id
// order: it checked coopmat2 kernels against the wrong tile sizes) — can misplace one.
Expected<Specialization> specialize(KernelState& k, const KernelOptions& options) {
  std::map<std::uint32_t, std::uint64_t> chosen;  // id -> encoded value
  for (const auto& [key, value] : options.spec) {
    const SpecConstant* spec = k.interface.find_spec(key);
    if (!spec) {
      std::string known;
      for (const auto& s : k.interface.spec_constants) known += fmt::format("{}{} (id {})", known.empty() ? "" : ", ", s.name, s.id);
      return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no specialization constant '{}'; it has: {}",
                                                    k.name, key, known.empty() ? "none" : known));
    }
    auto bits = encode_value(value, spec->type);
    if (!bits) return forward(std::move(bits), fmt::format("specialization constant '{}' of kernel '{}'", spec->name, k.name));
    chosen[spec->id] = *bits;
  }
  Specialization out;
  for (const SpecConstant& spec : k.interface.spec_constants) {  // sorted by id (reflect)
    const auto found = chosen.find(spec.id);
    const std::uint64_t bits = found != chosen.end() ? found->second : spec.default_bits;
    const std::uint32_t size = spec.type == ScalarType::boolean ? 4 : size_of(spec.type);
    const auto offset = static_cast<std::uint32_t>(out.data.size());
    out.data.resize(out.data.size() + size);
    std::memcpy(out.data.data() + offset, &bits, size);
    out.entries.push_back({.constantID = spec.id, .offset = offset, .size = size});
    for (int axis = 0; axis < 3; ++axis)
      if (k.interface.local_size.spec_id[axis] == spec.id) k.local_size[axis] = static_cast<std::uint32_t>(bits);
  }
  return out;
}

Expected<void> check_local_size(const KernelState& k) {
  const auto& limits = k.context->info.limits;
  const auto& s = k.local_size;
  for (int axis = 0; axis < 3; ++axis)
    if (s[axis] == 0 || s[axis] > limits.max_workgroup_size[axis])
      return fail(ErrorCode::invalid_argument, fmt::format("local size {} = {} is outside 1..{} on this device",
                                                           "xyz"[axis], s[axis], limits.max_workgroup_size[axis]));
  const std::uint64_t total = std::uint64_t{s[0]} * s[1] * s[2];
  if (total > limits.max_workgroup_invocations)
    return fail(ErrorCode::invalid_argument, fmt::format("a workgroup of {}x{}x{} = {} invocations exceeds the "
                                                         "device's {}", s[0], s[1], s[2], total,
                                                         limits.max_workgroup_invocations));
  return {};
}

}  // namespace

Expected<Kernel> Kernel::create(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                                const KernelOptions& options) {
  if (!context) return fail(ErrorCode::invalid_argument, "Kernel::create: no context");
  auto k = std::make_shared<KernelState>();
  k->context = context->shared_state();
  k->name = std::move(name);
  auto interface = reflect(spirv);
  if (!interface) return forward(std::move(interface), "kernel '" + k->name + "'");
  AAT_TRY(const auto requirements, detail::check_device_supports(spirv, k->context->info, k->name));
  k->interface = std::move(*interface);
  k->spirv = std::move(spirv);
  k->local_size = k->interface.local_size.size;

  const std::string building = "building kernel '" + k->name + "'";
  AAT_CHECK(with_context(build_layouts(*k), building));
  AAT_TRY(auto specialization, with_context(specialize(*k, options), building));
  AAT_CHECK(with_context(check_local_size(*k), building));
  if (const std::uint32_t limit = k->context->info.features.cooperative_matrix2.workgroup_scope_max_workgroup_size;
      requirements.workgroup_scope_matrices && k->local_size[0] * k->local_size[1] * k->local_size[2] > limit)
    return fail(ErrorCode::unsupported, fmt::format("kernel '{}': a workgroup of {} invocations is larger than the {} "
                                                    "that workgroup-scope cooperative matrices allow on device '{}'",
                                                    k->name, k->local_size[0] * k->local_size[1] * k->local_size[2],
                                                    limit, k->context->info.name));

  const vk::SpecializationInfo spec_info{.mapEntryCount = static_cast<std::uint32_t>(specialization.entries.size()),
                                         .pMapEntries = specialization.entries.data(),
                                         .dataSize = specialization.data.size(),
                                         .pData = specialization.data.data()};
  const auto& features = k->context->info.features;
  vk::PipelineShaderStageRequiredSubgroupSizeCreateInfo subgroup{.requiredSubgroupSize = options.required_subgroup_size};
  vk::PipelineShaderStageCreateFlags stage_flags{};
  if (options.required_subgroup_size) {
    const auto& limits = k->context->info.limits;
    if (!features.subgroup_size_control || options.required_subgroup_size < limits.min_subgroup_size ||
        options.required_subgroup_size > limits.max_subgroup_size)
      return fail(ErrorCode::unsupported, fmt::format("kernel '{}' asks for subgroup size {}; the device offers {}..{}{}",
                                                      k->name, options.required_subgroup_size, limits.min_subgroup_size,
                                                      limits.max_subgroup_size,
                                                      features.subgroup_size_control ? "" : " without size control"));
    stage_flags = vk::PipelineShaderStageCreateFlagBits::eRequireFullSubgroups;
  }
  AAT_TRY(auto module, detail::vk_call("creating the shader module of '" + k->name + "'", [&] {
            return vk::raii::ShaderModule(k->context->device,
                                          vk::ShaderModuleCreateInfo{.codeSize = k->spirv.size() * sizeof(std::uint32_t),
                                                                     .pCode = k->spirv.data()});
          }));
  const vk::ComputePipelineCreateInfo pipeline_info{
      .flags = features.pipeline_statistics ? vk::PipelineCreateFlagBits::eCaptureStatisticsKHR
                                            : vk::PipelineCreateFlags{},
      .stage = {.pNext = options.required_subgroup_size ? &subgroup : nullptr,
                .flags = stage_flags,
                .stage = vk::ShaderStageFlagBits::eCompute,
                .module = *module,
                .pName = k->interface.entry_point.c_str(),
                .pSpecializationInfo = &spec_info},
      .layout = *k->layout};
  AAT_TRY(k->pipeline, detail::vk_call("creating the pipeline of '" + k->name + "'", [&] {
            return vk::raii::Pipeline(k->context->device, k->context->pipeline_cache, pipeline_info);
          }));
  return Kernel(std::move(k));
}

const std::string& Kernel::name() const { return state_->name; }
const KernelInterface& Kernel::interface() const { return state_->interface; }
const Spirv& Kernel::spirv() const { return state_->spirv; }
std::array<std::uint32_t, 3> Kernel::local_size() const { return state_->local_size; }

Expected<std::vector<KernelStatistic>> Kernel::statistics() const {
  const KernelState& k = *state_;
  if (!k.context->info.features.pipeline_statistics)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' does not report pipeline statistics "
                                                    "(VK_KHR_pipeline_executable_properties)", k.context->info.name));
  return detail::vk_call("reading pipeline statistics of '" + k.name + "'", [&] {
    std::vector<KernelStatistic> out;
    const auto executables = k.context->device.getPipelineExecutablePropertiesKHR(vk::PipelineInfoKHR{.pipeline = *k.pipeline});
    for (std::uint32_t e = 0; e < executables.size(); ++e) {
      const auto stats = k.context->device.getPipelineExecutableStatisticsKHR(
          vk::PipelineExecutableInfoKHR{.pipeline = *k.pipeline, .executableIndex = e});
      for (const auto& s : stats) {
        std::string value;
        switch (s.format) {
          case vk::PipelineExecutableStatisticFormatKHR::eBool32: value = s.value.b32 ? "true" : "false"; break;
          case vk::PipelineExecutableStatisticFormatKHR::eInt64: value = std::to_string(s.value.i64); break;
          case vk::PipelineExecutableStatisticFormatKHR::eUint64: value = std::to_string(s.value.u64); break;
          case vk::PipelineExecutableStatisticFormatKHR::eFloat64: value = fmt::format("{}", s.value.f64); break;
        }
        out.push_back({executables[e].name.data(), s.name.data(), s.description.data(), value});
      }
    }
    return out;
  });
}

Expected<Workgroups> Kernel::workgroups_for(std::array<std::uint64_t, 3> invocations) const {
  const auto& limits = state_->context->info.limits;
  std::uint32_t counts[3];
  for (int axis = 0; axis < 3; ++axis) {
    // Not (n + size - 1) / size: that wraps around for n near 2^64 and yields a tiny grid.
    const std::uint64_t size = state_->local_size[axis];
    const std::uint64_t groups = invocations[axis] / size + (invocations[axis] % size != 0 ? 1 : 0);
    if (groups > limits.max_workgroup_count[axis])
      return fail(ErrorCode::invalid_argument,
                  fmt::format("kernel '{}': {} invocations along {} need {} workgroups; the device allows {}",
                              state_->name, invocations[axis], "xyz"[axis], groups, limits.max_workgroup_count[axis]));
    counts[axis] = static_cast<std::uint32_t>(groups);
  }
  return Workgroups{counts[0], counts[1], counts[2]};
}

}  // namespace aat
