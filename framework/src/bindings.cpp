#include "aat/bindings.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "context_state.hpp"
#include "kernel_state.hpp"

namespace aat {

Bindings::Bindings(const Kernel& kernel) : kernel_(kernel) {
  const auto& interface = kernel_.interface();
  buffers_.resize(interface.bindings.size());
  required_bytes_.assign(interface.bindings.size(), 0);
  if (interface.push_constants) {
    push_data_.assign(interface.push_constants->size, std::byte{0});
    member_set_.assign(interface.push_constants->members.size(), false);
  }
}

Expected<std::size_t> Bindings::binding_index(std::string_view name) const {
  const auto& bindings = kernel_.interface().bindings;
  const Binding* found = kernel_.interface().find_binding(name);
  if (!found) {
    std::string known;
    for (const auto& b : bindings) known += fmt::format("{}'{}'", known.empty() ? "" : ", ", b.name);
    return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no binding '{}'; its bindings are: {}",
                                                  kernel_.name(), name, known.empty() ? "none" : known));
  }
  return static_cast<std::size_t>(found - bindings.data());
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
  return {};
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

Expected<void> Bindings::validate() const {
  const auto& interface = kernel_.interface();
  for (std::size_t i = 0; i < interface.bindings.size(); ++i) {
    const Binding& b = interface.bindings[i];
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
