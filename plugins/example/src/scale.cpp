#include "aat/example/scale.hpp"

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "aat/stream.hpp"
#include "example/scale.bindings.hpp"

namespace aat::example {

namespace gen = aat::plugin_gen::example::scale;

Expected<Scale> Scale::create(const std::shared_ptr<Context>& context) {
  const auto words = gen::spirv();
  KernelOptions options;
  options.spec = {{"local_size_x", Value(std::int64_t{256})}};
  AAT_TRY(Kernel kernel, Kernel::create(context, Spirv(words.begin(), words.end()), "example.scale", options));
  Scale scale;
  scale.context_ = context;
  scale.kernel_ = std::move(kernel);
  return scale;
}

Expected<Tensor> Scale::run(const Tensor& x, float alpha, float beta) const {
  if (x.dtype() != DType::f32)
    return fail(ErrorCode::type_mismatch, fmt::format("example.scale takes f32, got {}", x.describe()));
  const auto n = static_cast<std::uint64_t>(x.element_count());
  if (n > 0xffffffffu) return fail(ErrorCode::invalid_argument, "example.scale: more than 2^32 elements");
  AAT_TRY(Tensor y, Tensor::create(context_, DType::f32, x.shape()));
  if (n == 0) return y;

  Bindings bindings(kernel_);
  AAT_CHECK(bindings.bind(gen::binding::x, x));
  AAT_CHECK(bindings.bind(gen::binding::y, y));
  AAT_CHECK(bindings.require_bytes(gen::binding::x, n * sizeof(float)));
  AAT_CHECK(bindings.require_bytes(gen::binding::y, n * sizeof(float)));
  // The generated struct pins the reflected layout at compile time.
  const gen::PushConstants push{.alpha = alpha, .beta = beta, .n = static_cast<std::uint32_t>(n)};
  AAT_CHECK(bindings.push_struct(push));

  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_TRY(Workgroups groups, kernel_.workgroups_for({n, 1, 1}));
  AAT_CHECK(stream.dispatch(bindings, groups));
  AAT_CHECK(stream.run());
  return y;
}

}  // namespace aat::example
