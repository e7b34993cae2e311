// One invocation path for a kernel nobody wrote C++ for: tensors bound by binding name,
// push-constant members and specialization constants by name (typed values, or text parsed as
// the shader declares them), a grid of invocations. run_shader (`aat run FILE.comp`), the C
// API's aat_run_shader and Python's aat.run(shader, ...) are adapters onto these functions, so a
// request is checked in one place and fails with the same errors from every host.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aat/bindings.hpp"
#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/shader.hpp"
#include "aat/tensor.hpp"
#include "aat/value.hpp"

namespace aat {

struct NamedTensor {
  std::string name;  // the binding's instance or block name
  Tensor tensor;
};

// A value for a push-constant member or a specialization constant.
struct NamedValue {
  std::string name;                 // member name; a constant's name or decimal id
  std::vector<Value> values;        // typed: one for a scalar, one per component otherwise
  std::optional<std::string> text;  // when set, parsed as the declared type instead ("1,2,3" for vectors)
};

// An array as the checks see it: a tensor, or an upload not yet made.
struct ArrayArg {
  std::string name;       // the binding it is given to
  DType dtype = DType::f32;
  std::uint64_t bytes = 0;
  std::string described;  // "f32[3x4]", for messages
};
ArrayArg array_arg(const NamedTensor& tensor);

// The binding each array goes to, by index into kernel.interface().bindings. Errors: a name that
// is no binding (not_found, the bindings listed), a binding given twice (invalid_argument), an
// array that does not fit its block (check_array_fits: type_mismatch, size_mismatch), a binding
// given nothing (not_found).
Expected<std::vector<std::size_t>> match_arrays(const Kernel& kernel, std::span<const ArrayArg> arrays);

// The index of binding `name` in interface.bindings; not_found lists the bindings.
Expected<std::size_t> binding_index(const KernelInterface& interface, std::string_view kernel, std::string_view name);

// A push-constant member's values, text parsed as the member's scalar type. Errors: an unknown
// member (not_found, the members listed with their types), text for a struct or matrix member
// (unsupported), text that does not parse as the type.
Expected<std::vector<Value>> push_member_values(const KernelInterface& interface, std::string_view kernel,
                                                const NamedValue& value);

// A specialization constant's value, found by name or decimal id, text parsed as its type.
// Errors: an unknown constant (not_found, the constants listed), not exactly one typed value
// (invalid_argument), text that does not parse.
Expected<Value> spec_constant_value(const KernelInterface& interface, std::string_view kernel,
                                    const NamedValue& value);

// Kernel::create with the specialization constants given as named values.
Expected<Kernel> create_kernel(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                               std::span<const NamedValue> spec);

// Sets every push-constant member of bindings.kernel() from `push`; a member not given is
// not_found, as is a name that is no member.
Expected<void> push_named(Bindings& bindings, std::span<const NamedValue> push);

struct Invocation {
  std::vector<NamedTensor> tensors;             // one per binding of the kernel
  std::vector<NamedValue> push;                 // one per push-constant member
  std::array<std::uint64_t, 3> grid{1, 1, 1};  // invocations; ceil(grid / local size) workgroups
  std::vector<Tensor> zero_fill;                // cleared on the device first, in the same submission
};

// The invocation checked (match_arrays, push_named) and bound, ready for Stream::dispatch.
Expected<Bindings> bind_invocation(const Kernel& kernel, const Invocation& invocation);

// bind_invocation, then one dispatch on a new stream of `context` (the one the kernel and tensors
// were made on), waited for. Returns the dispatch's GPU time in ms (0 without timestamps).
Expected<double> run_invocation(const std::shared_ptr<Context>& context, const Kernel& kernel,
                                const Invocation& invocation);

}  // namespace aat
