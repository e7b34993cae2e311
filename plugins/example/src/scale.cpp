#include "aat/example/scale.hpp"

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "example/scale.bindings.hpp"

namespace aat::example {

namespace gen = aat::plugin_gen::example::scale;

Expected<Scale> Scale::create(const std::shared_ptr<Context>& context) {
  // Typed from the shader's reflection: a constant renamed or retyped in scale.comp stops this compiling.
  const KernelOptions options{.spec = gen::Specialization{.local_size_x = 256}.entries()};
  AAT_TRY(Kernel kernel, Kernel::create(context, gen::spirv(), "example.scale", options));
  Scale scale;
  scale.context_ = context;
  scale.kernel_ = std::move(kernel);
  return scale;
}

Expected<void> Scale::record(Stream& stream, const Tensor& x, const Tensor& y, float alpha, float beta) const {
  if (x.dtype() != DType::f32 || y.dtype() != DType::f32)
    return fail(ErrorCode::type_mismatch, fmt::format("example.scale takes f32, got {} -> {}", x.describe(), y.describe()));
  const auto n = static_cast<std::uint64_t>(x.element_count());
  if (n > 0xffffffffu) return fail(ErrorCode::invalid_argument, "example.scale: more than 2^32 elements");
  if (y.element_count() != x.element_count())
    return fail(ErrorCode::size_mismatch, fmt::format("example.scale: y {} does not match x {}", y.describe(), x.describe()));
  if (n == 0) return {};

  Bindings bindings(kernel_);
  AAT_CHECK(bindings.bind(gen::binding::x, x));
  AAT_CHECK(bindings.bind(gen::binding::y, y));
  AAT_CHECK(bindings.require_bytes(gen::binding::x, n * sizeof(float)));
  AAT_CHECK(bindings.require_bytes(gen::binding::y, n * sizeof(float)));
  // The generated struct pins the reflected layout at compile time.
  const gen::PushConstants push{.alpha = alpha, .beta = beta, .n = static_cast<std::uint32_t>(n)};
  AAT_CHECK(bindings.push_struct(push));
  AAT_TRY(Workgroups groups, kernel_.workgroups_for({n, 1, 1}));
  return stream.dispatch(bindings, groups);
}

Expected<Tensor> Scale::run(const Tensor& x, float alpha, float beta) const {
  if (x.dtype() != DType::f32)
    return fail(ErrorCode::type_mismatch, fmt::format("example.scale takes f32, got {}", x.describe()));
  AAT_TRY(Tensor y, Tensor::create(context_, DType::f32, x.shape()));
  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_CHECK(record(stream, x, y, alpha, beta));
  AAT_CHECK(stream.run());
  return y;
}

}  // namespace aat::example
