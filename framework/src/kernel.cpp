#include "aat/kernel.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "kernel_state.hpp"
#include "vk_error.hpp"

namespace aat {

namespace {

struct Specialization {
  std::vector<std::byte> data;
  std::array<std::uint32_t, 3> local_size{1, 1, 1};
  std::uint64_t shared_bytes = 0;
};

// Every reflected specialization constant, in id order, with the value asked for or its
// default: the bytes are then a function of the values alone (the kernel cache's key), and no
// consumer of the map — driver or validation layer (1.4.309 misreads a map whose entries are not
// in id order: it checked coopmat2 kernels against the wrong tile sizes) — can misplace one.
Expected<Specialization> specialize(const KernelInterface& interface, const std::string& name,
                                    const KernelOptions& options) {
  AAT_TRY(const SpecBits bits, specialization_bits(interface, options.spec, name));
  Specialization out;
  out.local_size = interface.local_size.size;
  for (const SpecConstant& spec : interface.spec_constants) {  // sorted by id (reflect)
    const std::uint64_t value = bits.at(spec.id);
    const std::uint32_t size = spec.type == ScalarType::boolean ? 4 : size_of(spec.type);
    const auto offset = out.data.size();
    out.data.resize(out.data.size() + size);
    std::memcpy(out.data.data() + offset, &value, size);
    for (int axis = 0; axis < 3; ++axis)
      if (interface.local_size.spec_id[axis] == spec.id) out.local_size[axis] = static_cast<std::uint32_t>(value);
  }
  AAT_TRY(out.shared_bytes, interface.shared_bytes(bits));
  return out;
}

Expected<void> check_local_size(const DeviceLimits& limits, const std::array<std::uint32_t, 3>& s) {
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

Expected<void> check_shared_bytes(const DeviceInfo& device, const std::string& name, std::uint64_t bytes) {
  if (bytes <= device.limits.max_shared_memory_bytes) return {};
  return fail(ErrorCode::unsupported,
              fmt::format("kernel '{}' needs {} bytes of shared memory (its Workgroup variables, as specialized); "
                          "device '{}' has {}", name, bytes, device.name, device.limits.max_shared_memory_bytes));
}

}  // namespace

Expected<SpecBits> specialization_bits(const KernelInterface& interface, const SpecValues& values,
                                       std::string_view kernel) {
  SpecBits bits;
  for (const SpecConstant& spec : interface.spec_constants) bits[spec.id] = spec.default_bits;
  for (const auto& [key, value] : values) {
    const SpecConstant* spec = interface.find_spec(key);
    if (!spec) {
      std::string known;
      for (const auto& s : interface.spec_constants) known += fmt::format("{}{} (id {})", known.empty() ? "" : ", ", s.name, s.id);
      return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no specialization constant '{}'; it has: {}",
                                                    kernel, key, known.empty() ? "none" : known));
    }
    auto encoded = encode_value(value, spec->type);
    if (!encoded)
      return forward(std::move(encoded), fmt::format("specialization constant '{}' of kernel '{}'", spec->name, kernel));
    bits[spec->id] = *encoded;
  }
  return bits;
}

Expected<Kernel> Kernel::create(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                                const KernelOptions& options) {
  return create(context, std::span<const std::uint32_t>(spirv), std::move(name), options);
}

Expected<Kernel> Kernel::create(const std::shared_ptr<Context>& context, std::span<const std::uint32_t> spirv,
                                std::string name, const KernelOptions& options) {
  if (!context) return fail(ErrorCode::invalid_argument, "Kernel::create: no context");
  auto k = std::make_shared<KernelState>();
  k->context = context->shared_state();
  k->name = std::move(name);
  ContextState& ctx = *k->context;
  AAT_TRY(auto program, ctx.kernels.program(ctx, spirv, k->name));

  const std::string building = "building kernel '" + k->name + "'";
  AAT_TRY(auto specialization, with_context(specialize(program->interface, k->name, options), building));
  AAT_CHECK(with_context(check_local_size(ctx.info.limits, specialization.local_size), building));
  AAT_CHECK(check_shared_bytes(ctx.info, k->name, specialization.shared_bytes));
  k->shared_bytes = specialization.shared_bytes;
  const auto& size = specialization.local_size;
  if (const std::uint32_t limit = ctx.info.features.cooperative_matrix2.workgroup_scope_max_workgroup_size;
      program->workgroup_scope_matrices && size[0] * size[1] * size[2] > limit)
    return fail(ErrorCode::unsupported, fmt::format("kernel '{}': a workgroup of {} invocations is larger than the {} "
                                                    "that workgroup-scope cooperative matrices allow on device '{}'",
                                                    k->name, size[0] * size[1] * size[2], limit, ctx.info.name));
  if (options.required_subgroup_size) {
    const auto& limits = ctx.info.limits;
    const bool control = ctx.info.features.subgroup_size_control;
    if (!control || options.required_subgroup_size < limits.min_subgroup_size ||
        options.required_subgroup_size > limits.max_subgroup_size)
      return fail(ErrorCode::unsupported, fmt::format("kernel '{}' asks for subgroup size {}; the device offers {}..{}{}",
                                                      k->name, options.required_subgroup_size, limits.min_subgroup_size,
                                                      limits.max_subgroup_size, control ? "" : " without size control"));
  }
  AAT_TRY(k->compiled, ctx.kernels.pipeline(ctx, program, std::move(specialization.data), specialization.local_size,
                                            options.required_subgroup_size, k->name));
  return Kernel(std::move(k));
}

const std::string& Kernel::name() const { return state_->name; }
const KernelInterface& Kernel::interface() const { return state_->interface(); }
const Spirv& Kernel::spirv() const { return state_->program().spirv; }
std::array<std::uint32_t, 3> Kernel::local_size() const { return state_->local_size(); }
std::uint64_t Kernel::shared_bytes() const { return state_->shared_bytes; }

Expected<std::vector<KernelStatistic>> Kernel::statistics() const {
  const KernelState& k = *state_;
  if (!k.context->info.features.pipeline_statistics)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' does not report pipeline statistics "
                                                    "(VK_KHR_pipeline_executable_properties)", k.context->info.name));
  return detail::vk_call("reading pipeline statistics of '" + k.name + "'", [&] {
    std::vector<KernelStatistic> out;
    const auto executables = k.context->device.getPipelineExecutablePropertiesKHR(vk::PipelineInfoKHR{.pipeline = *k.compiled->pipeline});
    for (std::uint32_t e = 0; e < executables.size(); ++e) {
      const auto stats = k.context->device.getPipelineExecutableStatisticsKHR(
          vk::PipelineExecutableInfoKHR{.pipeline = *k.compiled->pipeline, .executableIndex = e});
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
    const std::uint64_t size = state_->local_size()[axis];
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
