#include "embed.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace aat::embed {

namespace {

std::string member_list(const PushConstants* push) {
  std::string known;
  if (push)
    for (const auto& m : push->members) known += fmt::format("{}'{}'", known.empty() ? "" : ", ", m.name);
  return known.empty() ? "none" : known;
}

Expected<void> check_tensor(const Kernel& kernel, const Binding& binding, const NamedTensor& bound) {
  if (!bound.tensor)
    return fail(ErrorCode::invalid_argument,
                fmt::format("binding '{}' of kernel '{}': no tensor", bound.name, kernel.name()));
  const Tensor& t = bound.tensor;
  return check_array_fits(kernel, binding, t.dtype(), t.byte_size(), t.describe());
}

}  // namespace

Expected<Spirv> load_shader(const std::shared_ptr<Context>& context, const std::filesystem::path& path) {
  if (path.extension() == ".spv") return load_spirv(path);
  ShaderCompiler compiler(context ? context->cache_dir() : std::filesystem::path{});
  return compiler.compile_file(path);
}

Expected<Kernel> create_kernel(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                               const std::vector<NamedValue>& spec) {
  KernelOptions options;
  const bool any_text = std::any_of(spec.begin(), spec.end(), [](const NamedValue& v) { return v.text.has_value(); });
  KernelInterface interface;
  if (any_text) {
    AAT_TRY(interface, reflect(spirv));
  }
  for (const auto& value : spec) {
    if (value.text) {
      const SpecConstant* constant = interface.find_spec(value.name);
      if (!constant) {
        std::string known;
        for (const auto& c : interface.spec_constants)
          known += fmt::format("{}'{}' (id {})", known.empty() ? "" : ", ", c.name, c.id);
        return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no specialization constant '{}'; its "
                                                      "constants are: {}", name, value.name,
                                                      known.empty() ? "none" : known));
      }
      AAT_TRY(Value parsed, with_context(parse_value(*value.text, constant->type),
                                         fmt::format("specialization constant '{}' of kernel '{}'", value.name, name)));
      options.spec.emplace_back(value.name, parsed);
    } else {
      if (value.values.size() != 1)
        return fail(ErrorCode::invalid_argument,
                    fmt::format("specialization constant '{}' of kernel '{}' takes one value, got {}", value.name,
                                name, value.values.size()));
      options.spec.emplace_back(value.name, value.values.front());
    }
  }
  return Kernel::create(context, std::move(spirv), std::move(name), options);
}

Expected<double> run_kernel(const std::shared_ptr<Context>& context, const Kernel& kernel,
                            const std::vector<NamedTensor>& bindings, const std::vector<NamedValue>& push,
                            std::array<std::uint64_t, 3> grid, const std::vector<Tensor>& zero_fill) {
  if (!context || !kernel) return fail(ErrorCode::invalid_argument, "run_kernel: no context or no kernel");
  const KernelInterface& interface = kernel.interface();
  std::vector<const NamedTensor*> bound(interface.bindings.size(), nullptr);
  for (const auto& b : bindings) {
    const Binding* found = interface.find_binding(b.name);
    if (!found)
      return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no binding '{}'; its bindings are: {}",
                                                    kernel.name(), b.name, interface.binding_names()));
    const auto index = static_cast<std::size_t>(found - interface.bindings.data());
    if (bound[index])
      return fail(ErrorCode::invalid_argument,
                  fmt::format("binding '{}' of kernel '{}' is given two tensors (as '{}' and '{}')", found->name,
                              kernel.name(), bound[index]->name, b.name));
    AAT_CHECK(check_tensor(kernel, *found, b));
    bound[index] = &b;
  }
  for (std::size_t i = 0; i < bound.size(); ++i)
    if (!bound[i]) {
      const Binding& b = interface.bindings[i];
      return fail(ErrorCode::not_found, fmt::format("binding '{}' (set {}, binding {}) of kernel '{}' is not bound; "
                                                    "its bindings are: {}", b.name, b.set, b.binding, kernel.name(),
                                                    interface.binding_names()));
    }

  Bindings prepared(kernel);
  const PushConstants* members = interface.push_constants ? &*interface.push_constants : nullptr;
  for (const auto& value : push) {
    if (value.text) {
      const BlockMember* member = members ? members->find(value.name) : nullptr;
      if (!member)
        return fail(ErrorCode::not_found, fmt::format("kernel '{}' has no push-constant member '{}'; its members "
                                                      "are: {}", kernel.name(), value.name, member_list(members)));
      AAT_TRY(auto parsed, with_context(parse_values(*value.text, member->type.scalar),
                                        fmt::format("push-constant member '{}' ({}) of kernel '{}'", value.name,
                                                    member->type.describe(), kernel.name())));
      AAT_CHECK(prepared.push(value.name, std::span<const Value>(parsed)));
    } else {
      AAT_CHECK(prepared.push(value.name, std::span<const Value>(value.values)));
    }
  }
  if (members)
    for (const auto& m : members->members) {
      const bool given = std::any_of(push.begin(), push.end(), [&](const NamedValue& v) { return v.name == m.name; });
      if (!given)
        return fail(ErrorCode::not_found, fmt::format("push-constant member '{}' ({}) of kernel '{}' was never set",
                                                      m.name, m.type.describe(), kernel.name()));
    }
  for (const auto& b : bindings) AAT_CHECK(prepared.bind(b.name, b.tensor));
  AAT_TRY(const Workgroups groups, kernel.workgroups_for(grid));

  AAT_TRY(Stream stream, Stream::create(context));
  for (const Tensor& t : zero_fill) AAT_CHECK(stream.fill(t.buffer()));
  AAT_CHECK(stream.dispatch(prepared, groups));
  AAT_CHECK(stream.run());
  return stream.has_timestamps() ? stream.total_gpu_ms() : 0.0;
}

}  // namespace aat::embed
