#include "aat/shader_run.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "aat/kernel.hpp"
#include "aat/tensor.hpp"

namespace aat {

namespace {

// What one binding gets: an input's data, or a zero-filled array.
struct Planned {
  ArrayArg array;
  const HostArrayView* input = nullptr;
  std::vector<std::int64_t> shape;
};

Expected<Planned> plan_input(const std::string& name, const HostArrayView& input) {
  const std::string what = fmt::format("binding '{}'", name);
  AAT_TRY(const std::uint64_t bytes, array_bytes(input.dtype, input.shape, what));
  if (bytes != input.data.size())
    return fail(ErrorCode::invalid_argument,
                fmt::format("{}: the array {}[{}] should hold {} bytes but holds {}", what, to_string(input.dtype),
                            shape_to_string(input.shape), bytes, input.data.size()));
  return Planned{{name, input.dtype, bytes, fmt::format("{}[{}]", to_string(input.dtype), shape_to_string(input.shape))},
                 &input, input.shape};
}

// An output that is no input: allocated, so it needs a dtype and a shape.
Expected<Planned> plan_output(const Kernel& kernel, const ShaderOutput& out) {
  if (!out.dtype || !out.shape)
    return fail(ErrorCode::invalid_argument,
                fmt::format("output '{}' of kernel '{}' is not an input, so it needs a dtype and a shape to be "
                            "allocated", out.binding, kernel.name()));
  AAT_TRY(const std::uint64_t bytes, array_bytes(*out.dtype, *out.shape, fmt::format("binding '{}'", out.binding)));
  return Planned{{out.binding, *out.dtype, bytes, fmt::format("{}[{}]", to_string(*out.dtype), shape_to_string(*out.shape))},
                 nullptr, *out.shape};
}

Expected<ShaderRunResult> run(const std::shared_ptr<Context>& context, const ShaderRunRequest& request) {
  AAT_TRY(Kernel kernel, create_kernel(context, request.spirv, request.kernel_name, request.spec));

  // Inputs first, then the outputs: read back from an input, or allocated.
  std::vector<Planned> plan;
  for (const auto& [name, array] : request.inputs) {
    AAT_TRY(Planned p, plan_input(name, array));
    plan.push_back(std::move(p));
  }
  const KernelInterface& interface = kernel.interface();
  std::vector<std::size_t> output_binding;  // binding index of each output
  for (const auto& out : request.outputs) {
    AAT_TRY(const std::size_t index, binding_index(interface, kernel.name(), out.binding));
    if (std::find(output_binding.begin(), output_binding.end(), index) != output_binding.end())
      return fail(ErrorCode::invalid_argument, fmt::format("binding '{}' of kernel '{}' is an output twice",
                                                           out.binding, kernel.name()));
    output_binding.push_back(index);
    const auto input = std::find_if(plan.begin(), plan.end(), [&](const Planned& p) {
      return p.input && interface.find_binding(p.array.name) == &interface.bindings[index];
    });
    if (input == plan.end()) {
      AAT_TRY(Planned p, plan_output(kernel, out));
      plan.push_back(std::move(p));
    } else if ((out.dtype && *out.dtype != input->array.dtype) || (out.shape && *out.shape != input->shape)) {
      return fail(ErrorCode::invalid_argument,
                  fmt::format("output '{}' of kernel '{}' is declared {}[{}] but its input is {}", out.binding,
                              kernel.name(), to_string(out.dtype.value_or(input->array.dtype)),
                              shape_to_string(out.shape.value_or(input->shape)), input->array.described));
    }
  }

  // The request checked by the invocation path before anything is uploaded.
  std::vector<ArrayArg> arrays;
  for (const Planned& p : plan) arrays.push_back(p.array);
  AAT_TRY(const std::vector<std::size_t> bound_to, match_arrays(kernel, arrays));
  {
    Bindings push_check(kernel);
    AAT_CHECK(push_named(push_check, request.push));
  }
  AAT_TRY(const Workgroups groups, kernel.workgroups_for(request.grid));

  Invocation invocation;
  invocation.push = request.push;
  invocation.grid = request.grid;
  for (const Planned& p : plan) {
    const std::string what = fmt::format("binding '{}'", p.array.name);
    Tensor tensor;
    if (p.input) {
      AAT_TRY(tensor, with_context(Tensor::create(context, p.array.dtype, p.shape), "allocating " + what));
      AAT_CHECK(with_context(tensor.upload(p.input->data), "uploading " + what));
    } else {
      AAT_TRY(tensor, with_context(Tensor::create(context, p.array.dtype, p.shape), "allocating " + what));
      invocation.zero_fill.push_back(tensor);
    }
    invocation.tensors.push_back({p.array.name, std::move(tensor)});
  }
  AAT_TRY(const double gpu_ms, run_invocation(context, kernel, invocation));

  ShaderRunResult result;
  result.gpu_ms = gpu_ms;
  result.workgroups = {groups.x, groups.y, groups.z};
  result.local_size = kernel.local_size();
  for (std::size_t k = 0; k < output_binding.size(); ++k) {
    const auto at = std::find(bound_to.begin(), bound_to.end(), output_binding[k]);
    const Tensor& tensor = invocation.tensors[static_cast<std::size_t>(at - bound_to.begin())].tensor;
    AAT_TRY(HostArray array, with_context(tensor.to_host(), fmt::format("reading back binding '{}'",
                                                                        request.outputs[k].binding)));
    result.outputs.emplace_back(request.outputs[k].binding, std::move(array));
  }
  return result;
}

}  // namespace

Expected<ShaderRunResult> run_shader(const std::shared_ptr<Context>& context, const ShaderRunRequest& request) {
  if (!context) return fail(ErrorCode::invalid_argument, "run_shader: no context");
  return run(context, request);
}

}  // namespace aat
