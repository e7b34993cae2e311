#include "aat/reflect.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spirv_cross/spirv_cross.hpp>

#include "aat/shader.hpp"
#include "module_reflector.hpp"
#include "spirv_interface.hpp"

namespace aat {

namespace {

using detail::constant_bits;
using detail::scalar_type;

TypeInfo type_info(const spirv_cross::Compiler& compiler, const spirv_cross::SPIRType& type) {
  TypeInfo info;
  info.scalar = scalar_type(type);
  info.vector_size = type.vecsize;
  info.columns = type.columns;
  // SPIRV-Cross stores array sizes innermost first; ours are outermost first.
  for (std::size_t i = type.array.size(); i-- > 0;) {
    std::uint32_t size = type.array[i];
    if (!type.array_size_literal[i]) size = compiler.get_constant(size).scalar();
    info.array.push_back(size);
  }
  return info;
}

std::vector<BlockMember> block_members(const spirv_cross::Compiler& compiler, const spirv_cross::SPIRType& block) {
  std::vector<BlockMember> members;
  for (std::uint32_t i = 0; i < block.member_types.size(); ++i) {
    const auto& member_type = compiler.get_type(block.member_types[i]);
    BlockMember member;
    member.name = compiler.get_member_name(block.self, i);
    member.offset = compiler.type_struct_member_offset(block, i);
    member.type = type_info(compiler, member_type);
    const bool runtime_array = !member_type.array.empty() && member_type.array.back() == 0 &&
                               member_type.array_size_literal.back();
    member.size = runtime_array ? 0 : static_cast<std::uint32_t>(compiler.get_declared_struct_member_size(block, i));
    if (!member_type.array.empty()) member.array_stride = compiler.type_struct_member_array_stride(block, i);
    members.push_back(std::move(member));
  }
  return members;
}

Binding buffer_binding(const spirv_cross::Compiler& compiler, const spirv_cross::Resource& resource,
                       DescriptorKind kind) {
  Binding binding;
  binding.kind = kind;
  binding.set = compiler.get_decoration(resource.id, spv::DecorationDescriptorSet);
  binding.binding = compiler.get_decoration(resource.id, spv::DecorationBinding);
  binding.block_name = compiler.get_name(resource.base_type_id);
  binding.name = compiler.get_name(resource.id);
  if (binding.name.empty()) binding.name = binding.block_name;
  const auto& type = compiler.get_type(resource.type_id);
  binding.array_size = 1;
  for (std::size_t i = 0; i < type.array.size(); ++i)
    binding.array_size *= type.array_size_literal[i] ? type.array[i] : compiler.get_constant(type.array[i]).scalar();

  if (kind == DescriptorKind::storage_buffer || kind == DescriptorKind::uniform_buffer) {
    const auto& block = compiler.get_type(resource.base_type_id);
    binding.block_size = compiler.get_declared_struct_size(block);
    binding.members = block_members(compiler, block);
    if (!binding.members.empty() && !binding.members.back().type.array.empty() &&
        binding.members.back().type.array.front() == 0)
      binding.runtime_array_stride = binding.members.back().array_stride;
    if (kind == DescriptorKind::storage_buffer) {
      const auto flags = compiler.get_buffer_block_flags(resource.id);
      if (flags.get(spv::DecorationNonWritable)) binding.access = Access::read_only;
      else if (flags.get(spv::DecorationNonReadable)) binding.access = Access::write_only;
    } else {
      binding.access = Access::read_only;
    }
  }
  return binding;
}

KernelInterface reflect_unchecked(std::span<const std::uint32_t> spirv) {
  detail::ModuleReflector compiler(spirv.data(), spirv.size());
  KernelInterface out;
  const auto entries = compiler.get_entry_points_and_stages();
  const auto compute = std::find_if(entries.begin(), entries.end(), [](const spirv_cross::EntryPoint& e) {
    return e.execution_model == spv::ExecutionModelGLCompute;
  });
  if (compute == entries.end()) throw std::runtime_error("the module has no compute (GLCompute) entry point");
  out.entry_point = compute->name;
  compiler.set_entry_point(compute->name, spv::ExecutionModelGLCompute);

  for (std::uint32_t axis = 0; axis < 3; ++axis)
    out.local_size.size[axis] = compiler.get_execution_mode_argument(spv::ExecutionModeLocalSize, axis);
  spirv_cross::SpecializationConstant axes[3];
  compiler.get_work_group_size_specialization_constants(axes[0], axes[1], axes[2]);
  std::vector<std::uint32_t> workgroup_constant_ids;
  for (std::uint32_t axis = 0; axis < 3; ++axis) {
    if (axes[axis].id == spirv_cross::ID(0)) continue;
    out.local_size.spec_id[axis] = axes[axis].constant_id;
    out.local_size.size[axis] = compiler.get_constant(axes[axis].id).scalar();
    workgroup_constant_ids.push_back(axes[axis].id);
  }

  const auto resources = compiler.get_shader_resources();
  for (const auto& r : resources.storage_buffers)
    out.bindings.push_back(buffer_binding(compiler, r, DescriptorKind::storage_buffer));
  for (const auto& r : resources.uniform_buffers)
    out.bindings.push_back(buffer_binding(compiler, r, DescriptorKind::uniform_buffer));
  for (const auto& r : resources.storage_images)
    out.bindings.push_back(buffer_binding(compiler, r, DescriptorKind::storage_image));
  for (const auto& r : resources.sampled_images)
    out.bindings.push_back(buffer_binding(compiler, r, DescriptorKind::sampled_image));
  for (const auto& r : resources.separate_samplers)
    out.bindings.push_back(buffer_binding(compiler, r, DescriptorKind::sampler));
  std::sort(out.bindings.begin(), out.bindings.end(), [](const Binding& a, const Binding& b) {
    return std::tie(a.set, a.binding) < std::tie(b.set, b.binding);
  });

  if (!resources.push_constant_buffers.empty()) {
    const auto& resource = resources.push_constant_buffers.front();
    const auto& block = compiler.get_type(resource.base_type_id);
    PushConstants push;
    push.name = compiler.get_name(resource.id);
    if (push.name.empty()) push.name = compiler.get_name(resource.base_type_id);
    push.members = block_members(compiler, block);
    push.size = static_cast<std::uint32_t>(compiler.get_declared_struct_size(block));
    out.push_constants = std::move(push);
  }

  for (const auto& spec : compiler.get_specialization_constants()) {
    const auto& constant = compiler.get_constant(spec.id);
    SpecConstant entry;
    entry.id = spec.constant_id;
    entry.type = scalar_type(compiler.get_type(constant.constant_type));
    entry.name = compiler.get_name(spec.id);
    for (std::uint32_t axis = 0; axis < 3; ++axis)
      if (entry.name.empty() && axes[axis].id == spec.id) entry.name = std::string("local_size_") + "xyz"[axis];
    if (entry.name.empty()) entry.name = fmt::format("spec_{}", entry.id);
    entry.default_bits = constant_bits(constant, entry.type);
    out.spec_constants.push_back(std::move(entry));
  }
  // One entry per id. SPIR-V 1.6 modules from glslang decorate two constants with the
  // workgroup's SpecId (the LocalSizeId operand and the WorkgroupSize composite's member):
  // the named one stays, a synthesized "spec_N" goes.
  const auto synthesized = [](const SpecConstant& s) { return s.name == fmt::format("spec_{}", s.id); };
  std::stable_sort(out.spec_constants.begin(), out.spec_constants.end(),
                   [&](const SpecConstant& a, const SpecConstant& b) {
                     return a.id != b.id ? a.id < b.id : !synthesized(a) && synthesized(b);
                   });
  out.spec_constants.erase(std::unique(out.spec_constants.begin(), out.spec_constants.end(),
                                       [](const SpecConstant& a, const SpecConstant& b) { return a.id == b.id; }),
                           out.spec_constants.end());
  out.shared_variables = compiler.shared_variables();
  return out;
}

}  // namespace

Expected<KernelInterface> reflect(std::span<const std::uint32_t> spirv) {
  AAT_CHECK(check_spirv(spirv, "shader"));
  try {
    // Debian 12's SPIRV-Cross cannot parse cooperative-matrix types; the interface does not
    // depend on them, so such modules are reflected through an interface-only copy, which is
    // validated in full first (check_spirv could only check the original's instruction stream).
    if (detail::needs_interface_reduction(spirv)) {
      AAT_TRY(const Spirv reduced, detail::interface_only(spirv));
      AAT_CHECK(check_spirv(reduced, "the interface-only copy of the shader"));
      return reflect_unchecked(reduced);
    }
    return reflect_unchecked(spirv);
  } catch (const std::exception& e) {
    return fail(ErrorCode::reflection, std::string("cannot reflect the SPIR-V: ") + e.what());
  }
}

std::string KernelInterface::binding_names() const {
  std::string names;
  for (const auto& b : bindings) names += fmt::format("{}'{}'", names.empty() ? "" : ", ", b.name);
  return names.empty() ? "none" : names;
}

const Binding* KernelInterface::find_binding(std::string_view name) const {
  for (const auto& b : bindings)
    if (b.name == name) return &b;
  for (const auto& b : bindings)
    if (b.block_name == name) return &b;
  return nullptr;
}

const SpecConstant* KernelInterface::find_spec(std::string_view name_or_id) const {
  for (const auto& s : spec_constants)
    if (s.name == name_or_id || fmt::format("{}", s.id) == name_or_id) return &s;
  return nullptr;
}

const BlockMember* PushConstants::find(std::string_view member) const {
  for (const auto& m : members)
    if (m.name == member) return &m;
  return nullptr;
}

}  // namespace aat
