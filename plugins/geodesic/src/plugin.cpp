// The geodesic plugin's descriptor and `aat run geodesic`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/geodesic/geodesic.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"

namespace {

struct Arguments {
  std::string phi, states, out;
  std::vector<double> extent;
  std::int64_t steps = 0;
  double dt = 0;
  bool json = false;
};

aat::Expected<void> run(const std::shared_ptr<aat::Context>& context, const Arguments& args, aat::Progress& progress) {
  if (args.extent.size() != 4)
    return aat::fail(aat::ErrorCode::invalid_argument,
                     fmt::format("--extent takes four numbers X0,Y0,X1,Y1, got {}", args.extent.size()));
  if (args.steps < 1 || args.steps > 0xffffffffll)
    return aat::fail(aat::ErrorCode::invalid_argument, fmt::format("--steps must be from 1 to 2^32-1, got {}", args.steps));
  const aat::geodesic::Extent extent{args.extent[0], args.extent[1], args.extent[2], args.extent[3]};
  progress.stage("reading " + args.phi);
  AAT_TRY(auto phi, aat::Tensor::load_npy(context, args.phi));
  AAT_TRY(auto states, aat::Tensor::load_npy(context, args.states));
  AAT_TRY(auto geodesic, aat::geodesic::Geodesic::create(context));
  progress.stage(fmt::format("{} steps on {}", args.steps, context->device().name));
  AAT_TRY(auto result, geodesic.integrate(phi, extent, states, static_cast<std::uint32_t>(args.steps), args.dt));
  AAT_CHECK(result.out.save_npy(args.out));

  AAT_TRY(auto values, result.out.download_values<float>());
  std::int64_t left = 0;
  for (std::size_t m = 0; m < values.size() / aat::geodesic::column_count; ++m)
    left += values[m * aat::geodesic::column_count + aat::geodesic::col_status] == aat::geodesic::status_left;
  const std::int64_t count = states.dim(0);
  progress.done();
  if (args.json) {
    nlohmann::json report = {{"kernel", "geodesic"},
                             {"device", context->device().name},
                             {"grid", phi.shape()},
                             {"extent", args.extent},
                             {"geodesics", count},
                             {"steps", args.steps},
                             {"dt", args.dt},
                             {"left_domain", left},
                             {"gpu_ms", result.gpu_ms},
                             {"out", args.out}};
    fmt::print("{}\n", report.dump(2));
  } else {
    fmt::print("geodesic: {} paths x {} RK4 steps of {} over a {}x{} grid -> {} ({} left the domain) on {}: {:.3f} ms GPU\n",
               count, args.steps, args.dt, phi.dim(0), phi.dim(1), args.out, left, context->device().name,
               result.gpu_ms);
  }
  return {};
}

int run_geodesic(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"Geodesics of the conformal metric g = e^{2 phi} (dx^2 + dy^2) on a rectangle.\n"
               "phi: f32 [ny, nx] .npy sampled on the nodes of a grid spanning X0..X1 (columns), Y0..Y1 (rows).\n"
               "states: f32 [M, 4] = (x, y, x', y'); out: f32 [M, 6] = (x, y, x', y', length, status),\n"
               "status 0 = inside after all steps, 1 = left the domain (state at the exit).\n"
               "Example: aat run geodesic --phi phi.npy --extent -2,0.5,2,3 --states s.npy --steps 200 --dt 0.01 "
               "--out out.npy --json"};
  Arguments args;
  app.add_option("--phi", args.phi, "Conformal factor phi, f32 [ny, nx] (.npy)")->required();
  app.add_option("--extent", args.extent, "The rectangle X0,Y0,X1,Y1 the grid spans")->required()->delimiter(',');
  app.add_option("--states", args.states, "Initial states, f32 [M, 4] = (x, y, x', y') (.npy)")->required();
  app.add_option("--steps", args.steps, "RK4 steps per geodesic (>= 1)")->required();
  app.add_option("--dt", args.dt, "Step size (> 0)")->required();
  app.add_option("--out", args.out, "Output, f32 [M, 6] = (x, y, x', y', length, status) (.npy)")->required();
  app.add_flag("--json", args.json, "Print a JSON report: device, grid, geodesics, left_domain, gpu_ms");
  return aat::run_plugin_command(app, host, argc, argv,
                                 [&](const std::shared_ptr<aat::Context>& context, aat::Progress& progress) {
                                   return run(context, args, progress);
                                 });
}

const aat_plugin_command kCommands[] = {
    {"geodesic", "Geodesics of a conformal metric e^{2 phi}(dx^2 + dy^2) on a grid (RK4)", &run_geodesic},
};

}  // namespace

AAT_DEFINE_PLUGIN(geodesic, "0.1.0", "Geodesics of a conformal 2-D metric: GPU connection, RK4 per path", kCommands)
