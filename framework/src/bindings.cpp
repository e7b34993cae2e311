#include "aat/bindings.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "aat/invocation.hpp"
#include "context_state.hpp"
#include "kernel_state.hpp"

namespace aat {

Bindings::Bindings(const Kernel& kernel) : kernel_(kernel) {
  const auto& interface = kernel_.interface();
  buffers_.resize(interface.bindings.size());
  placeholder_.assign(interface.bindings.size(), false);
  required_bytes_.assign(interface.bindings.size(), 0);
  if (interface.push_constants) {
    push_data_.assign(interface.push_constants->size, std::byte{0});
    member_set_.assign(interface.push_constants->members.size(), false);
  }
}

Expected<std::size_t> Bindings::binding_index(std::string_view name) const {
  return aat::binding_index(kernel_.interface(), kernel_.name(), name);
}

Expected<void> Bindings::bind(std::string_view name, const Buffer& buffer) {
  AAT_TRY(const std::size_t index, binding_index(name));
  if (!buffer) return fail(ErrorCode::invalid_argument, fmt::format("binding '{}': empty buffer handle", name));
  const auto limit = kernel_.state().context->info.limits.max_storage_buffer_range;
  if (buffer.size() > limit)
    return fail(ErrorCode::unsupported,
                fmt::format("binding '{}' of kernel '{}': a {}-byte buffer exceeds the device's storage buffer "
                            "range of {} bytes", name, kernel_.name(), buffer.size(), limit));
  buffers_[index] = buffer;
  placeholder_[index] = false;
  return {};
}

Expected<void> Bindings::bind_unused(std::string_view name) {
  AAT_TRY(const std::size_t index, binding_index(name));
  const Binding& b = kernel_.interface().bindings[index];
  if (b.block_size > detail::KernelCache::kPlaceholderBytes)
    return fail(ErrorCode::invalid_argument,
                fmt::format("binding '{}' of kernel '{}': its block has a fixed part of {} bytes, more than the "
                            "{}-byte placeholder; bind a buffer", name, kernel_.name(), b.block_size,
                            detail::KernelCache::kPlaceholderBytes));
  buffers_[index] = Buffer();
  placeholder_[index] = true;
  return {};
}

bool Bindings::uses_placeholder() const {
  return std::find(placeholder_.begin(), placeholder_.end(), true) != placeholder_.end();
}

Expected<void> Bindings::require_bytes(std::string_view name, std::uint64_t bytes) {
  AAT_TRY(const std::size_t index, binding_index(name));
  required_bytes_[index] = bytes;
  return {};
}

Expected<const BlockMember*> Bindings::member(std::string_view name) const {
  const auto& push = kernel_.interface().push_constants;
  const BlockMember* found = push ? push->find(name) : nullptr;
  if (!found) {
    std::string known;
    if (push)
      for (const auto& m : push->members) known += fmt::format("{}'{}'", known.empty() ? "" : ", ", m.name);
    return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no push-constant member '{}'; its members are: {}",
                                                  kernel_.name(), name, known.empty() ? "none" : known));
  }
  return found;
}

Expected<void> Bindings::push(std::string_view name, Value value) { return push(name, std::span(&value, 1)); }

Expected<void> Bindings::push(std::string_view name, std::span<const Value> values) {
  AAT_TRY(const BlockMember* m, member(name));
  const auto& type = m->type;
  const auto where = [&] { return fmt::format("push-constant member '{}' ({}) of kernel '{}'", name, type.describe(), kernel_.name()); };
  if (type.scalar == ScalarType::structure || type.columns > 1 ||
      std::find(type.array.begin(), type.array.end(), 0u) != type.array.end())
    return fail(ErrorCode::unsupported, where() + ": set it with push_bytes");
  if (values.size() != type.component_count())
    return fail(ErrorCode::size_mismatch,
                fmt::format("{}: takes {} value(s), got {}", where(), type.component_count(), values.size()));
  // Arrays of scalars in push constants have a 4/8-byte stride; vectors are packed.
  const std::uint32_t scalar_bytes = type.scalar == ScalarType::boolean ? 4 : size_of(type.scalar);
  std::vector<std::byte> staged(push_data_.begin() + m->offset, push_data_.begin() + m->offset + m->size);
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto bits = encode_value(values[i], type.scalar);
    if (!bits) return forward(std::move(bits), where());
    const std::size_t element = i / type.vector_size, component = i % type.vector_size;
    const std::size_t offset = type.array.empty() ? i * scalar_bytes : element * m->array_stride + component * scalar_bytes;
    std::memcpy(staged.data() + offset, &*bits, scalar_bytes);
  }
  std::copy(staged.begin(), staged.end(), push_data_.begin() + m->offset);
  member_set_[static_cast<std::size_t>(m - kernel_.interface().push_constants->members.data())] = true;
  return {};
}

Expected<void> Bindings::push_bytes(std::string_view name, std::span<const std::byte> bytes) {
  AAT_TRY(const BlockMember* m, member(name));
  if (bytes.size() != m->size)
    return fail(ErrorCode::size_mismatch, fmt::format("push-constant member '{}' of kernel '{}' is {} bytes, got {}",
                                                      name, kernel_.name(), m->size, bytes.size()));
  std::memcpy(push_data_.data() + m->offset, bytes.data(), bytes.size());
  member_set_[static_cast<std::size_t>(m - kernel_.interface().push_constants->members.data())] = true;
  return {};
}

Expected<void> Bindings::push_block(std::span<const std::byte> bytes) {
  if (bytes.size() != push_data_.size())
    return fail(ErrorCode::size_mismatch, fmt::format("push constants of kernel '{}' are {} bytes, got a block of {}",
                                                      kernel_.name(), push_data_.size(), bytes.size()));
  std::copy(bytes.begin(), bytes.end(), push_data_.begin());
  std::fill(member_set_.begin(), member_set_.end(), true);
  return {};
}

namespace {

// The member that holds the block's array data: a trailing runtime array, or the only member
// when it is an array. nullptr when the block is a struct of several fields.
const BlockMember* array_member(const Binding& binding) {
  if (binding.members.empty()) return nullptr;
  if (binding.runtime_array_stride) return &binding.members.back();
  if (binding.members.size() == 1 && !binding.members.front().type.array.empty()) return &binding.members.front();
  return nullptr;
}

std::optional<DType> dtype_for(ScalarType type) {
  switch (type) {
    case ScalarType::f32: return DType::f32;
    case ScalarType::f16: return DType::f16;
    case ScalarType::i32:
    case ScalarType::u32: return DType::i32;
    case ScalarType::i8:
    case ScalarType::u8: return DType::u8;
    default: return std::nullopt;
  }
}

}  // namespace

Expected<void> check_array_fits(const Kernel& kernel, const Binding& binding, DType dtype, std::uint64_t bytes,
                                std::string_view described) {
  const std::string where = fmt::format("binding '{}' of kernel '{}'", binding.name, kernel.name());
  if (const BlockMember* member = array_member(binding)) {
    const TypeInfo& type = member->type;
    const bool plain = type.scalar != ScalarType::structure && type.scalar != ScalarType::unknown && type.columns == 1;
    if (plain) {
      const auto wanted = dtype_for(type.scalar);
      if (wanted != dtype)
        return fail(ErrorCode::type_mismatch,
                    fmt::format("{}: the array is {} but the shader's member '{}' is {}, which takes {}", where,
                                described, member->name, type.describe(),
                                wanted ? fmt::format("{} data", to_string(*wanted)) : "no dtype AAT supports"));
    }
  }
  if (bytes < binding.block_size)
    return fail(ErrorCode::size_mismatch,
                fmt::format("{}: the array ({}) holds {} bytes; the shader's block needs at least {}", where, described,
                            bytes, binding.block_size));
  if (const std::uint32_t stride = binding.runtime_array_stride) {
    const std::uint64_t tail = bytes - binding.block_size;
    if (tail % stride != 0) {
      const BlockMember& last = binding.members.back();
      return fail(ErrorCode::size_mismatch,
                  fmt::format("{}: the array ({}) holds {} bytes; past the block's fixed {} bytes that leaves {}, "
                              "not a multiple of the {}-byte stride of '{}' ({})",
                              where, described, bytes, binding.block_size, tail, stride, last.name,
                              last.type.describe()));
    }
  }
  return {};
}

Expected<void> Bindings::validate() const {
  const auto& interface = kernel_.interface();
  for (std::size_t i = 0; i < interface.bindings.size(); ++i) {
    const Binding& b = interface.bindings[i];
    if (placeholder_[i]) continue;
    if (!buffers_[i])
      return fail(ErrorCode::not_found,
                  fmt::format("binding '{}' (set {}, binding {}) of kernel '{}' is not bound", b.name, b.set,
                              b.binding, kernel_.name()));
    const std::uint64_t needed = std::max<std::uint64_t>(b.block_size, required_bytes_[i]);
    if (buffers_[i].size() < needed)
      return fail(ErrorCode::size_mismatch, fmt::format("binding '{}' of kernel '{}': buffer holds {} bytes, shader "
                                                        "reads {}", b.name, kernel_.name(), buffers_[i].size(), needed));
  }
  if (interface.push_constants)
    for (std::size_t i = 0; i < member_set_.size(); ++i)
      if (!member_set_[i])
        return fail(ErrorCode::not_found, fmt::format("push-constant member '{}' of kernel '{}' was never set",
                                                      interface.push_constants->members[i].name, kernel_.name()));
  return {};
}

}  // namespace aat
