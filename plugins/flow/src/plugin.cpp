// The flow plugin's descriptor and its op `flow`: Ricci flow of the conformal metric
// e^{2 phi}(dx^2 + dy^2), bound by name by every host (aat run flow ..., aat.flow). The op
// executes: the step size is chosen from phi's range, read back before the steps are recorded.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/flow/flow.hpp"
#include "aat/op.hpp"
#include "aat/plugin_define.hpp"

namespace {

struct FlowPlan final : aat::OpPlan {
  aat::flow::Flow flow;
  double spacing = 0, dt = 0;
  std::uint32_t steps = 1;
  aat::flow::Boundary boundary = aat::flow::Boundary::periodic;
  aat::flow::FlowResult result;
  aat::flow::FlowSummary before, after;

  bool executes() const override { return true; }

  aat::Expected<double> execute(const std::shared_ptr<aat::Context>& context, const aat::OpTensors& t) override {
    const aat::Tensor& phi = t["phi"];
    AAT_TRY(result, flow.evolve(phi, spacing, steps, dt, boundary));
    AAT_TRY(before, flow.summarize(phi, spacing, boundary));
    AAT_TRY(after, flow.summarize(result.phi, spacing, boundary));
    AAT_TRY(const aat::Tensor k, flow.curvature(result.phi, spacing, boundary));
    AAT_TRY(aat::Stream stream, aat::Stream::create(context));
    AAT_CHECK(stream.copy(result.phi.buffer(), t["out"].buffer(), result.phi.byte_size()));
    AAT_CHECK(stream.copy(k.buffer(), t["curvature"].buffer(), k.byte_size()));
    AAT_CHECK(stream.run());
    return result.gpu_ms;
  }

  aat::Expected<std::string> finish(const aat::OpTensors& t) override {
    nlohmann::json report = {
        {"grid", t["phi"].shape()},
        {"spacing", spacing},
        {"boundary", std::string(aat::flow::to_string(boundary))},
        {"steps", steps},
        {"dt", dt},
        {"time", static_cast<double>(steps) * dt},
        {"stable_dt", result.stable_dt},
        {"substeps", result.substeps},
        {"dt_substep", result.dt_substep},
        {"min_phi", result.min_phi},
        {"max_phi", result.max_phi},
        {"area", {{"before", before.area}, {"after", after.area}, {"relative_change", (after.area - before.area) / before.area}}},
        {"max_abs_curvature", {{"before", before.max_abs_curvature}, {"after", after.max_abs_curvature}}},
        {"summary", fmt::format("{}x{} grid, {} steps of {} ({}; {} sub-step{} each): area {:.9g} -> {:.9g}, max|K| "
                                "{:.6g} -> {:.6g}", t["phi"].dim(0), t["phi"].dim(1), steps, dt,
                                aat::flow::to_string(boundary), result.substeps,
                                result.substeps == 1 ? "" : "s", before.area, after.area, before.max_abs_curvature,
                                after.max_abs_curvature)},
        {"notes", nlohmann::json::array()}};
    if (result.substeps > 1)
      report["notes"].push_back(
          {{"param", "dt"},
           {"text", fmt::format("{} exceeds the stability bound h^2 e^(2 min phi) / 4 = {}; took {} sub-steps of {} per "
                                "step", dt, result.stable_dt, result.substeps, result.dt_substep)}});
    return report.dump();
  }
};

aat::Expected<std::unique_ptr<aat::OpPlan>> plan_flow(const std::shared_ptr<aat::Context>& context,
                                                      aat::OpProblem& problem) {
  const aat::TensorDesc phi = *problem.input("phi");
  auto plan = std::make_unique<FlowPlan>();
  AAT_TRY(plan->boundary, aat::flow::parse_boundary(*problem.text("boundary")));
  plan->spacing = *problem.number("spacing");
  plan->steps = static_cast<std::uint32_t>(*problem.integer("steps"));
  plan->dt = *problem.number("dt");
  AAT_TRY(plan->flow, aat::flow::Flow::create(context));
  AAT_CHECK(problem.describe_output("out", aat::DType::f32, phi.shape));
  AAT_CHECK(problem.describe_output("curvature", aat::DType::f32, phi.shape));
  return std::unique_ptr<aat::OpPlan>(std::move(plan));
}

const aat::OpDefinition kFlow{
    .signature = {
        .name = "flow",
        .summary = "Ricci flow d phi/dt = e^{-2 phi} Laplacian(phi) of the metric e^{2 phi}(dx^2 + dy^2) on a grid: "
                   "explicit steps on u = e^{2 phi} (area-conserving); a dt above the stability bound "
                   "h^2 e^{2 min phi} / 4 is split into sub-steps (reported)",
        .tensors = {{.name = "phi",
                     .summary = "conformal factor phi [ny, nx] on a 2-D grid of nodes",
                     .dtypes = {aat::DType::f32},
                     .rank = 2},
                    {.name = "out",
                     .summary = "phi after steps * dt [ny, nx]",
                     .role = aat::OpRole::output,
                     .dtypes = {aat::DType::f32},
                     .rank = 2},
                    {.name = "curvature",
                     .summary = "K = -e^{-2 phi} Laplacian(phi) of the output [ny, nx]",
                     .role = aat::OpRole::output,
                     .optional = true,
                     .dtypes = {aat::DType::f32},
                     .rank = 2}},
        .params = {{.name = "spacing",
                    .summary = "grid spacing h (> 0), the same along x and y",
                    .type = aat::OpParamType::number},
                   {.name = "steps",
                    .summary = "time steps",
                    .type = aat::OpParamType::integer,
                    .min = 1,
                    .max = 4294967295.0},
                   {.name = "dt", .summary = "time step (> 0)", .type = aat::OpParamType::number},
                   {.name = "boundary",
                    .summary = "periodic (a torus) or neumann (zero flux)",
                    .type = aat::OpParamType::text,
                    .default_value = "periodic"}}},
    .plan = &plan_flow,
    .records = false,
    .executes = true};

const aat::OpTable& ops() {
  static const aat::OpTable table({&kFlow});
  return table;
}

}  // namespace

AAT_DEFINE_PLUGIN(flow, "0.1.0", "Ricci flow of a conformal 2-D metric: tiled explicit steps on u = e^{2 phi}", ops())
