#include "aat/shader_run.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "aat/kernel.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"

namespace aat {

namespace {

// What one binding of the kernel gets: an input's data, or a zero-filled array.
struct Planned {
  std::string name;              // as the caller named it
  const NpyArray* input = nullptr;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t bytes = 0;
};

Expected<std::size_t> find_binding(const Kernel& kernel, const std::string& name) {
  const auto& interface = kernel.interface();
  const Binding* found = interface.find_binding(name);
  if (!found)
    return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no binding '{}'; its bindings are: {}",
                                                  kernel.name(), name, interface.binding_names()));
  return static_cast<std::size_t>(found - interface.bindings.data());
}

Expected<std::uint64_t> byte_count(DType dtype, const std::vector<std::int64_t>& shape, const std::string& binding) {
  std::uint64_t count = 1;
  for (const std::int64_t d : shape) {
    if (d < 0)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}': shape {} has a negative dimension", binding, shape_to_string(shape)));
    if (d != 0 && count > (std::uint64_t{1} << 48) / static_cast<std::uint64_t>(d))
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}': shape {} is too large", binding, shape_to_string(shape)));
    count *= static_cast<std::uint64_t>(d);
  }
  return count * size_of(dtype);
}

Expected<void> check_push(const Kernel& kernel, const ShaderRunRequest& request) {
  const auto& push = kernel.interface().push_constants;
  if (!push) {
    if (!request.push.empty())
      return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no push constants; got member '{}'",
                                                    kernel.name(), request.push.front().first));
    return {};
  }
  for (const auto& m : push->members) {
    const bool given = std::any_of(request.push.begin(), request.push.end(),
                                   [&](const auto& entry) { return entry.first == m.name; });
    if (!given)
      return fail(ErrorCode::not_found, fmt::format("push-constant member '{}' ({}) of kernel '{}' was never set",
                                                    m.name, m.type.describe(), kernel.name()));
  }
  return {};
}

Expected<ShaderRunResult> run(const std::shared_ptr<Context>& context, const ShaderRunRequest& request) {
  KernelOptions options;
  options.spec = request.spec;
  AAT_TRY(Kernel kernel, Kernel::create(context, request.spirv, request.kernel_name, options));
  const KernelInterface& interface = kernel.interface();

  // Plan every binding: inputs first, then outputs (allocated, or read back from an input).
  std::vector<std::optional<Planned>> plan(interface.bindings.size());
  for (const auto& [name, array] : request.inputs) {
    AAT_TRY(const std::size_t index, find_binding(kernel, name));
    if (plan[index])
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}' of kernel '{}' is given two inputs (as '{}' and '{}')",
                              interface.bindings[index].name, kernel.name(), plan[index]->name, name));
    AAT_TRY(const std::uint64_t bytes, byte_count(array.dtype, array.shape, name));
    if (bytes != array.data.size())
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}': the array {}[{}] should hold {} bytes but holds {}", name,
                              to_string(array.dtype), shape_to_string(array.shape), bytes, array.data.size()));
    plan[index] = Planned{name, &array, array.dtype, array.shape, bytes};
  }
  std::vector<std::size_t> output_index;
  for (const auto& out : request.outputs) {
    AAT_TRY(const std::size_t index, find_binding(kernel, out.binding));
    if (std::find(output_index.begin(), output_index.end(), index) != output_index.end())
      return fail(ErrorCode::invalid_argument, fmt::format("binding '{}' of kernel '{}' is an output twice",
                                                           out.binding, kernel.name()));
    output_index.push_back(index);
    if (auto& p = plan[index]) {  // an input read back after the dispatch
      if ((out.dtype && *out.dtype != p->dtype) || (out.shape && *out.shape != p->shape))
        return fail(ErrorCode::invalid_argument,
                    fmt::format("output '{}' of kernel '{}' is declared {}[{}] but its input is {}[{}]", out.binding,
                                kernel.name(), to_string(out.dtype.value_or(p->dtype)),
                                shape_to_string(out.shape.value_or(p->shape)), to_string(p->dtype),
                                shape_to_string(p->shape)));
      continue;
    }
    if (!out.dtype || !out.shape)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("output '{}' of kernel '{}' is not an input, so it needs a dtype and a shape to be "
                              "allocated", out.binding, kernel.name()));
    AAT_TRY(const std::uint64_t bytes, byte_count(*out.dtype, *out.shape, out.binding));
    plan[index] = Planned{out.binding, nullptr, *out.dtype, *out.shape, bytes};
  }
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const Binding& b = interface.bindings[i];
    if (!plan[i])
      return fail(ErrorCode::not_found,
                  fmt::format("binding '{}' (set {}, binding {}) of kernel '{}' is not bound: give it an input, or "
                              "make it an output with a dtype and shape", b.name, b.set, b.binding, kernel.name()));
    AAT_CHECK(check_array_fits(kernel, b, plan[i]->dtype, plan[i]->bytes,
                               fmt::format("{}[{}]", to_string(plan[i]->dtype), shape_to_string(plan[i]->shape))));
  }
  AAT_CHECK(check_push(kernel, request));

  Bindings bindings(kernel);
  for (const auto& [member, values] : request.push) AAT_CHECK(bindings.push(member, values));
  AAT_TRY(const Workgroups groups, kernel.workgroups_for(request.grid));

  // Everything checked: allocate, upload, dispatch.
  std::vector<Tensor> tensors(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = *plan[i];
    const std::string what = fmt::format("binding '{}'", p.name);
    if (p.input) {
      AAT_TRY(tensors[i], with_context(Tensor::from_npy(context, *p.input), "uploading " + what));
    } else {
      AAT_TRY(tensors[i], with_context(Tensor::create(context, p.dtype, p.shape), "allocating " + what));
      AAT_CHECK(with_context(tensors[i].upload(std::vector<std::byte>(p.bytes)), "zero-filling " + what));
    }
    AAT_CHECK(bindings.bind(p.name, tensors[i]));
  }
  AAT_TRY(Stream stream, Stream::create(context));
  AAT_CHECK(stream.dispatch(bindings, groups));
  AAT_CHECK(stream.run());

  ShaderRunResult result;
  result.gpu_ms = stream.has_timestamps() ? stream.total_gpu_ms() : 0.0;
  result.workgroups = {groups.x, groups.y, groups.z};
  result.local_size = kernel.local_size();
  for (std::size_t k = 0; k < output_index.size(); ++k) {
    AAT_TRY(NpyArray array, with_context(tensors[output_index[k]].to_npy(),
                                         fmt::format("reading back binding '{}'", request.outputs[k].binding)));
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
