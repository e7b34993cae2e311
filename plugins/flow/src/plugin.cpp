// The flow plugin's descriptor and `aat run flow`.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/flow/flow.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"

namespace {

struct Arguments {
  std::string phi, out, curvature, boundary = "periodic";
  double spacing = 0, dt = 0;
  std::int64_t steps = 0;
  bool json = false;
};

aat::Expected<void> run(const std::shared_ptr<aat::Context>& context, const Arguments& args, aat::Progress& progress) {
  AAT_TRY(const auto boundary, aat::flow::parse_boundary(args.boundary));
  if (args.steps < 1 || args.steps > 0xffffffffll)
    return aat::fail(aat::ErrorCode::invalid_argument, fmt::format("--steps must be from 1 to 2^32-1, got {}", args.steps));
  progress.stage("reading " + args.phi);
  AAT_TRY(auto phi, aat::Tensor::load_npy(context, args.phi));
  AAT_TRY(auto flow, aat::flow::Flow::create(context));
  progress.stage(fmt::format("{} steps on {}", args.steps, context->device().name));
  AAT_TRY(auto result, flow.evolve(phi, args.spacing, static_cast<std::uint32_t>(args.steps), args.dt, boundary));
  if (result.substeps > 1)
    std::fprintf(stderr,
                 "aat run flow: dt = %g exceeds the stability bound h^2 e^(2 min phi) / 4 = %g; took %llu sub-steps of "
                 "%g per step\n",
                 args.dt, result.stable_dt, static_cast<unsigned long long>(result.substeps), result.dt_substep);
  AAT_TRY(const auto before, flow.summarize(phi, args.spacing, boundary));
  AAT_TRY(const auto after, flow.summarize(result.phi, args.spacing, boundary));
  AAT_CHECK(result.phi.save_npy(args.out));
  if (!args.curvature.empty()) {
    AAT_TRY(auto k, flow.curvature(result.phi, args.spacing, boundary));
    AAT_CHECK(k.save_npy(args.curvature));
  }
  progress.done();
  if (args.json) {
    nlohmann::json report = {
        {"kernel", "flow"},
        {"device", context->device().name},
        {"grid", phi.shape()},
        {"spacing", args.spacing},
        {"boundary", std::string(aat::flow::to_string(boundary))},
        {"steps", args.steps},
        {"dt", args.dt},
        {"time", static_cast<double>(args.steps) * args.dt},
        {"stable_dt", result.stable_dt},
        {"substeps", result.substeps},
        {"dt_substep", result.dt_substep},
        {"area", {{"before", before.area}, {"after", after.area}, {"relative_change", (after.area - before.area) / before.area}}},
        {"max_abs_curvature", {{"before", before.max_abs_curvature}, {"after", after.max_abs_curvature}}},
        {"gpu_ms", result.gpu_ms},
        {"out", args.out}};
    if (!args.curvature.empty()) report["curvature"] = args.curvature;
    fmt::print("{}\n", report.dump(2));
  } else {
    fmt::print("flow: {}x{} grid, {} steps of {} ({}; {} sub-step{} each) -> {} on {}: area {:.9g} -> {:.9g}, "
               "max|K| {:.6g} -> {:.6g}, {:.3f} ms GPU\n",
               phi.dim(0), phi.dim(1), args.steps, args.dt, aat::flow::to_string(boundary), result.substeps,
               result.substeps == 1 ? "" : "s", args.out, context->device().name, before.area, after.area,
               before.max_abs_curvature, after.max_abs_curvature, result.gpu_ms);
  }
  return {};
}

int run_flow(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"Ricci flow d phi/dt = e^{-2 phi} Laplacian(phi) of the metric e^{2 phi}(dx^2 + dy^2) on a grid.\n"
               "phi: f32 [ny, nx] .npy, node spacing H; explicit steps on u = e^{2 phi} (area-conserving).\n"
               "A dt above the stability bound H^2 e^{2 min phi} / 4 is split into sub-steps (reported).\n"
               "Example: aat run flow --phi phi.npy --spacing 0.1 --steps 500 --dt 0.002 --boundary periodic "
               "--out phi_out.npy --curvature k.npy --json"};
  Arguments args;
  app.add_option("--phi", args.phi, "Conformal factor phi, f32 [ny, nx] (.npy)")->required();
  app.add_option("--spacing", args.spacing, "Grid spacing H (> 0), the same along x and y")->required();
  app.add_option("--steps", args.steps, "Time steps (>= 1)")->required();
  app.add_option("--dt", args.dt, "Time step (> 0)")->required();
  app.add_option("--boundary", args.boundary, "periodic (a torus) or neumann (zero flux); default periodic");
  app.add_option("--out", args.out, "Output phi after steps * dt, f32 [ny, nx] (.npy)")->required();
  app.add_option("--curvature", args.curvature, "Also write K = -e^{-2 phi} Laplacian(phi) of the output (.npy)");
  app.add_flag("--json", args.json, "Print a JSON report: area and max|K| before/after, substeps, gpu_ms");
  return aat::run_plugin_command(app, host, argc, argv,
                                 [&](const std::shared_ptr<aat::Context>& context, aat::Progress& progress) {
                                   return run(context, args, progress);
                                 });
}

const aat_plugin_command kCommands[] = {
    {"flow", "Ricci flow of a conformal metric e^{2 phi}(dx^2 + dy^2) on a grid (periodic or Neumann)", &run_flow},
};

}  // namespace

AAT_DEFINE_PLUGIN(flow, "0.1.0", "Ricci flow of a conformal 2-D metric: tiled explicit steps on u = e^{2 phi}", kCommands)
