// The example plugin's descriptor and its op `example-scale`: y = alpha * x + beta, which every
// host runs by name (aat run example-scale --x x.npy --out y.npy --alpha 2; aat.run(...) in
// Python; aat_op_run in C).
#include "aat/example/scale.hpp"
#include "aat/op.hpp"
#include "aat/plugin_define.hpp"

namespace {

struct ScalePlan final : aat::OpPlan {
  aat::example::Scale scale;
  float alpha = 1.0f, beta = 0.0f;

  aat::Expected<void> record(aat::Stream& stream, const aat::OpTensors& tensors) override {
    return scale.record(stream, tensors["x"], tensors["out"], alpha, beta);
  }
};

aat::Expected<std::unique_ptr<aat::OpPlan>> plan_scale(const std::shared_ptr<aat::Context>& context,
                                                       aat::OpProblem& problem) {
  const aat::TensorDesc x = *problem.input("x");
  AAT_CHECK(problem.describe_output("out", x.dtype, x.shape));
  auto plan = std::make_unique<ScalePlan>();
  AAT_TRY(plan->scale, aat::example::Scale::create(context));
  plan->alpha = static_cast<float>(*problem.number("alpha"));
  plan->beta = static_cast<float>(*problem.number("beta"));
  return std::unique_ptr<aat::OpPlan>(std::move(plan));
}

const aat::OpDefinition kScale{
    .signature = {.name = "example-scale",
                  .summary = "y = alpha * x + beta, elementwise, on an f32 array of any shape (the example plugin)",
                  .tensors = {{.name = "x", .summary = "input, f32, any shape", .dtypes = {aat::DType::f32}},
                              {.name = "out",
                               .summary = "alpha * x + beta, x's shape",
                               .role = aat::OpRole::output,
                               .dtypes = {aat::DType::f32}}},
                  .params = {{.name = "alpha", .summary = "scale", .type = aat::OpParamType::number, .default_value = "1"},
                             {.name = "beta", .summary = "offset", .type = aat::OpParamType::number, .default_value = "0"}}},
    .plan = &plan_scale};

const aat::OpTable& ops() {
  static const aat::OpTable table({&kScale});
  return table;
}

}  // namespace

AAT_DEFINE_PLUGIN(example, "0.1.0", "The smallest complete AAT plugin: one elementwise kernel", ops())
