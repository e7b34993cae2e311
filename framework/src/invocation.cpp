#include "aat/invocation.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "aat/stream.hpp"
#include "context_state.hpp"

namespace aat {

namespace {

std::string member_list(const KernelInterface& interface) {
  std::string known;
  if (interface.push_constants)
    for (const auto& m : interface.push_constants->members)
      known += fmt::format("{}'{}' ({})", known.empty() ? "" : ", ", m.name, m.type.describe());
  return known.empty() ? "none" : known;
}

std::string spec_list(const KernelInterface& interface) {
  std::string known;
  for (const auto& c : interface.spec_constants)
    known += fmt::format("{}'{}' (id {}, {})", known.empty() ? "" : ", ", c.name, c.id, to_string(c.type));
  return known.empty() ? "none" : known;
}

}  // namespace

ArrayArg array_arg(const NamedTensor& tensor) {
  return {tensor.name, tensor.tensor.dtype(), tensor.tensor.byte_size(), tensor.tensor.describe()};
}

Expected<std::size_t> binding_index(const KernelInterface& interface, std::string_view kernel, std::string_view name) {
  const Binding* found = interface.find_binding(name);
  if (!found)
    return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no binding '{}'; its bindings are: {}", kernel,
                                                  name, interface.binding_names()));
  return static_cast<std::size_t>(found - interface.bindings.data());
}

Expected<std::vector<std::size_t>> match_arrays(const Kernel& kernel, std::span<const ArrayArg> arrays) {
  const KernelInterface& interface = kernel.interface();
  std::vector<const ArrayArg*> given(interface.bindings.size(), nullptr);
  std::vector<std::size_t> indices;
  for (const ArrayArg& array : arrays) {
    AAT_TRY(const std::size_t index, binding_index(interface, kernel.name(), array.name));
    const Binding& binding = interface.bindings[index];
    if (given[index])
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}' of kernel '{}' is given two arrays (as '{}' and '{}')", binding.name,
                              kernel.name(), given[index]->name, array.name));
    AAT_CHECK(check_array_fits(kernel, binding, array.dtype, array.bytes, array.described));
    given[index] = &array;
    indices.push_back(index);
  }
  for (std::size_t i = 0; i < given.size(); ++i)
    if (!given[i]) {
      const Binding& b = interface.bindings[i];
      return fail(ErrorCode::not_found, fmt::format("binding '{}' (set {}, binding {}) of kernel '{}' is not bound; "
                                                    "its bindings are: {}", b.name, b.set, b.binding, kernel.name(),
                                                    interface.binding_names()));
    }
  return indices;
}

Expected<std::vector<Value>> push_member_values(const KernelInterface& interface, std::string_view kernel,
                                                const NamedValue& value) {
  const BlockMember* member = interface.push_constants ? interface.push_constants->find(value.name) : nullptr;
  if (!member)
    return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no push-constant member '{}'; its members are: {}",
                                                  kernel, value.name, member_list(interface)));
  if (!value.text) return value.values;
  const std::string where = fmt::format("push-constant member '{}' ({}) of kernel '{}'", value.name,
                                        member->type.describe(), kernel);
  if (member->type.scalar == ScalarType::structure || member->type.columns > 1)
    return fail(ErrorCode::unsupported, where + ": only scalars, vectors and arrays of them can be given as text");
  return with_context(parse_values(*value.text, member->type.scalar), where);
}

Expected<Value> spec_constant_value(const KernelInterface& interface, std::string_view kernel,
                                    const NamedValue& value) {
  const SpecConstant* constant = interface.find_spec(value.name);
  if (!constant)
    return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no specialization constant '{}'; its constants "
                                                  "are: {}", kernel, value.name, spec_list(interface)));
  const std::string where =
      fmt::format("specialization constant '{}' ({}) of kernel '{}'", value.name, to_string(constant->type), kernel);
  if (value.text) return with_context(parse_value(*value.text, constant->type), where);
  if (value.values.size() != 1)
    return fail(ErrorCode::invalid_argument, fmt::format("{} takes one value, got {}", where, value.values.size()));
  return value.values.front();
}

Expected<Kernel> create_kernel(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                               std::span<const NamedValue> spec) {
  KernelOptions options;
  if (!spec.empty()) {
    if (!context) return fail(ErrorCode::invalid_argument, "create_kernel: no context");
    // The context's program cache reflects the module once; Kernel::create below finds it there.
    ContextState& state = *context->shared_state();
    AAT_TRY(const auto program, state.kernels.program(state, spirv, name));
    for (const NamedValue& value : spec) {
      AAT_TRY(const Value v, spec_constant_value(program->interface, name, value));
      options.spec.emplace_back(value.name, v);
    }
  }
  return Kernel::create(context, std::move(spirv), std::move(name), options);
}

Expected<void> push_named(Bindings& bindings, std::span<const NamedValue> push) {
  const Kernel& kernel = bindings.kernel();
  const KernelInterface& interface = kernel.interface();
  for (const NamedValue& value : push) {
    AAT_TRY(const auto values, push_member_values(interface, kernel.name(), value));
    AAT_CHECK(bindings.push(value.name, std::span<const Value>(values)));
  }
  if (interface.push_constants)
    for (const auto& m : interface.push_constants->members) {
      const bool given =
          std::any_of(push.begin(), push.end(), [&](const NamedValue& v) { return v.name == m.name; });
      if (!given)
        return fail(ErrorCode::not_found, fmt::format("push-constant member '{}' ({}) of kernel '{}' was never set",
                                                      m.name, m.type.describe(), kernel.name()));
    }
  return {};
}

Expected<Bindings> bind_invocation(const Kernel& kernel, const Invocation& invocation) {
  if (!kernel) return fail(ErrorCode::invalid_argument, "bind_invocation: no kernel");
  std::vector<ArrayArg> arrays;
  for (const NamedTensor& t : invocation.tensors) {
    if (!t.tensor)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}' of kernel '{}': no tensor", t.name, kernel.name()));
    arrays.push_back(array_arg(t));
  }
  AAT_CHECK(match_arrays(kernel, arrays));
  Bindings bindings(kernel);
  AAT_CHECK(push_named(bindings, invocation.push));
  for (const NamedTensor& t : invocation.tensors) AAT_CHECK(bindings.bind(t.name, t.tensor));
  return bindings;
}

Expected<double> run_invocation(const std::shared_ptr<Context>& context, const Kernel& kernel,
                                const Invocation& invocation) {
  if (!context) return fail(ErrorCode::invalid_argument, "run_invocation: no context");
  AAT_TRY(const Bindings bindings, bind_invocation(kernel, invocation));
  AAT_TRY(const Workgroups groups, kernel.workgroups_for(invocation.grid));
  AAT_TRY(Stream stream, Stream::create(context));
  for (const Tensor& t : invocation.zero_fill) AAT_CHECK(stream.fill(t.buffer()));
  AAT_CHECK(stream.dispatch(bindings, groups));
  AAT_CHECK(stream.run());
  return stream.has_timestamps() ? stream.total_gpu_ms() : 0.0;
}

}  // namespace aat
