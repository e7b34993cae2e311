// Bindings: what one dispatch of a kernel uses — buffers bound by reflected name and push
// constants set by member name — checked against the reflection before anything is recorded.
// A plain host-side description: change it freely; a Stream snapshots it at dispatch().
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aat/kernel.hpp"
#include "aat/memory.hpp"
#include "aat/tensor.hpp"
#include "aat/value.hpp"

namespace aat {

class Bindings {
 public:
  explicit Bindings(const Kernel& kernel);

  // Binds the whole buffer to the binding of that name (instance name, or block name).
  Expected<void> bind(std::string_view name, const Buffer& buffer);
  Expected<void> bind(std::string_view name, const Tensor& tensor) { return bind(name, tensor.buffer()); }
  // Binds the context's 16-byte placeholder buffer to a binding this dispatch never touches (a
  // mask the kernel was specialized without, an output it does not write), so no caller keeps
  // a dummy buffer of its own. Refused for a block whose fixed part is larger than the placeholder.
  Expected<void> bind_unused(std::string_view name);
  // bind(name, buffer), or bind_unused(name) where `buffer` is empty: an optional input or output
  // (key lengths, partial states) that this dispatch goes without.
  Expected<void> bind_or_unused(std::string_view name, const Buffer& buffer) {
    return buffer ? bind(name, buffer) : bind_unused(name);
  }
  // The same for an optional tensor given by pointer (an options struct's key lengths or bias).
  Expected<void> bind_or_unused(std::string_view name, const Tensor* tensor) {
    return bind_or_unused(name, tensor ? tensor->buffer() : Buffer());
  }

  // States how many bytes the dispatch will touch through `name` (for runtime-sized arrays,
  // which reflection cannot size); validate() then checks the bound buffer holds them.
  Expected<void> require_bytes(std::string_view name, std::uint64_t bytes);

  // Sets a push-constant member. A scalar member takes one value; a vector/array member
  // takes exactly as many values as it has components. Types are checked (see encode_value).
  Expected<void> push(std::string_view member, Value value);
  Expected<void> push(std::string_view member, std::span<const Value> values);
  Expected<void> push(std::string_view member, std::int32_t v) { return push(member, Value(std::int64_t{v})); }
  Expected<void> push(std::string_view member, std::uint32_t v) { return push(member, Value(std::int64_t{v})); }
  Expected<void> push(std::string_view member, float v) { return push(member, Value(double{v})); }
  // Raw bytes for a struct-typed member (the size must match the reflected one).
  Expected<void> push_bytes(std::string_view member, std::span<const std::byte> bytes);

  // The whole push-constant block at once, e.g. a bindgen-generated PushConstants struct
  // (its static_asserts pin the layout; the size is checked here). Marks every member set.
  Expected<void> push_block(std::span<const std::byte> bytes);
  template <class Block>
  Expected<void> push_struct(const Block& block) {
    static_assert(std::is_trivially_copyable_v<Block>);
    return push_block(std::as_bytes(std::span(&block, 1)));
  }

  // Every binding bound, every push-constant member set, every buffer large enough.
  Expected<void> validate() const;

  const Kernel& kernel() const { return kernel_; }
  const std::vector<std::byte>& push_data() const { return push_data_; }
  // Bound buffers, by binding index into kernel().interface().bindings (empty where unused).
  const std::vector<Buffer>& buffers() const { return buffers_; }
  // Whether binding `index` was given to bind_unused, and whether any was.
  bool is_placeholder(std::size_t index) const { return placeholder_[index]; }
  bool uses_placeholder() const;

 private:
  Expected<std::size_t> binding_index(std::string_view name) const;
  Expected<const BlockMember*> member(std::string_view name) const;

  Kernel kernel_;
  std::vector<Buffer> buffers_;
  std::vector<bool> placeholder_;
  std::vector<std::uint64_t> required_bytes_;
  std::vector<std::byte> push_data_;
  std::vector<bool> member_set_;
};

// Whether an array of `dtype` holding `bytes` bytes fits storage binding `binding` of `kernel`:
// the element type of the block's array member, when that is a plain scalar, must be `dtype`,
// and the bytes must cover the block's fixed part plus whole elements of a trailing runtime
// array. `described` names the array in messages ("f32[3x4]"). Bindings::bind takes untyped
// buffers and checks sizes only; the typed entry points (run_shader, the C and Python APIs)
// check with this first. Errors: type_mismatch, size_mismatch.
Expected<void> check_array_fits(const Kernel& kernel, const Binding& binding, DType dtype, std::uint64_t bytes,
                                std::string_view described);

}  // namespace aat
