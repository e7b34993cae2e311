// The geodesic plugin's descriptor and its op `geodesic`: geodesics of the conformal metric
// e^{2 phi}(dx^2 + dy^2), bound by name by every host (aat run geodesic ..., aat.geodesic).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/geodesic/geodesic.hpp"
#include "aat/op.hpp"
#include "aat/plugin_define.hpp"

namespace {

using aat::geodesic::Extent;

// "X0,Y0,X1,Y1" as four numbers.
aat::Expected<Extent> parse_extent(const std::string& text) {
  std::vector<double> values;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
    AAT_TRY(const aat::Value v, aat::with_context(aat::parse_value(part, aat::ScalarType::f64),
                                                  fmt::format("extent '{}'", text)));
    values.push_back(std::get<double>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (values.size() != 4)
    return aat::fail(aat::ErrorCode::invalid_argument,
                     fmt::format("extent takes four numbers X0,Y0,X1,Y1, got {} ('{}')", values.size(), text));
  return Extent{values[0], values[1], values[2], values[3]};
}

struct GeodesicPlan final : aat::OpPlan {
  aat::geodesic::Geodesic geodesic;
  Extent extent;
  std::uint32_t steps = 1;
  double dt = 0;
  aat::geodesic::RecordedIntegration recorded;

  aat::Expected<void> record(aat::Stream& stream, const aat::OpTensors& t) override {
    AAT_TRY(recorded, geodesic.record(stream, t["phi"], extent, t["states"], steps, dt, t["out"]));
    return {};
  }

  aat::Expected<std::string> finish(const aat::OpTensors& t) override {
    AAT_CHECK(geodesic.check(recorded));
    AAT_TRY(const auto values, t["out"].download_values<float>());
    std::int64_t left = 0;
    for (std::size_t m = 0; m < values.size() / aat::geodesic::column_count; ++m)
      left += values[m * aat::geodesic::column_count + aat::geodesic::col_status] == aat::geodesic::status_left;
    const aat::Tensor& phi = t["phi"];
    const std::int64_t count = t["states"].dim(0);
    return nlohmann::json{{"grid", phi.shape()},
                          {"extent", {extent.x0, extent.y0, extent.x1, extent.y1}},
                          {"geodesics", count},
                          {"steps", steps},
                          {"dt", dt},
                          {"left_domain", left},
                          {"summary", fmt::format("{} paths x {} RK4 steps of {} over a {}x{} grid, {} left the domain",
                                                  count, steps, dt, phi.dim(0), phi.dim(1), left)}}
        .dump();
  }
};

aat::Expected<std::unique_ptr<aat::OpPlan>> plan_geodesic(const std::shared_ptr<aat::Context>& context,
                                                          aat::OpProblem& problem) {
  const aat::TensorDesc states = *problem.input("states");
  auto plan = std::make_unique<GeodesicPlan>();
  AAT_TRY(plan->extent, parse_extent(*problem.text("extent")));
  plan->steps = static_cast<std::uint32_t>(*problem.integer("steps"));
  plan->dt = *problem.number("dt");
  AAT_TRY(plan->geodesic, aat::geodesic::Geodesic::create(context));
  AAT_CHECK(problem.describe_output("out", aat::DType::f32, {states.shape[0], aat::geodesic::column_count}));
  return std::unique_ptr<aat::OpPlan>(std::move(plan));
}

const aat::OpDefinition kGeodesic{
    .signature = {
        .name = "geodesic",
        .summary = "Geodesics of the conformal metric g = e^{2 phi} (dx^2 + dy^2) on a rectangle, RK4 per path; "
                   "status 0 = inside after all steps, 1 = left the domain (state at the exit)",
        .tensors = {{.name = "phi",
                     .summary = "conformal factor phi [ny, nx] sampled on the nodes of a 2-D grid spanning the extent "
                                "(X0..X1 along columns, Y0..Y1 along rows)",
                     .dtypes = {aat::DType::f32},
                     .rank = 2},
                    {.name = "states",
                     .summary = "initial states [M, 4] = (x, y, x', y')",
                     .dtypes = {aat::DType::f32},
                     .rank = 2},
                    {.name = "out",
                     .summary = "[M, 6] = (x, y, x', y', length, status)",
                     .role = aat::OpRole::output,
                     .dtypes = {aat::DType::f32},
                     .rank = 2}},
        .params = {{.name = "extent",
                    .summary = "the rectangle X0,Y0,X1,Y1 the grid spans",
                    .type = aat::OpParamType::text,
                    .default_value = "0,0,1,1"},
                   {.name = "steps",
                    .summary = "RK4 steps per geodesic",
                    .type = aat::OpParamType::integer,
                    .min = 1,
                    .max = 4294967295.0},
                   {.name = "dt", .summary = "step size (> 0)", .type = aat::OpParamType::number}}},
    .plan = &plan_geodesic};

const aat::OpTable& ops() {
  static const aat::OpTable table({&kGeodesic});
  return table;
}

}  // namespace

AAT_DEFINE_PLUGIN(geodesic, "0.1.0", "Geodesics of a conformal 2-D metric: GPU connection, RK4 per path", ops())
