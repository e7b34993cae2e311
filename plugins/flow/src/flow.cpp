#include "aat/flow/flow.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "aat/stream.hpp"
#include "flow/curvature.bindings.hpp"
#include "flow/finish.bindings.hpp"
#include "flow/flow_step.bindings.hpp"
#include "flow/prepare.bindings.hpp"

namespace aat::flow {

namespace {

namespace prep = plugin_gen::flow::prepare;
namespace step = plugin_gen::flow::flow_step;
namespace fin = plugin_gen::flow::finish;
namespace curv = plugin_gen::flow::curvature;

constexpr std::uint32_t kTile = 16;              // every kernel's workgroup is a 16x16 tile (fixed in the shaders)
constexpr std::uint64_t kDispatchesPerSubmit = 256;  // steps recorded per submission (all of them timed)

struct Grid {
  std::uint32_t nx = 0, ny = 0;
  std::uint64_t nodes() const { return std::uint64_t{nx} * ny; }
};

Expected<Grid> check_phi(const Tensor& phi) {
  if (!phi) return fail(ErrorCode::invalid_argument, "flow: phi is an empty tensor handle");
  if (phi.dtype() != DType::f32)
    return fail(ErrorCode::type_mismatch, fmt::format("flow: phi must be f32 [ny, nx], got {}", phi.describe()));
  if (phi.rank() != 2)
    return fail(ErrorCode::invalid_argument,
                fmt::format("flow: phi must be a 2-D grid [ny, nx], got rank {} ({})", phi.rank(), phi.describe()));
  if (phi.dim(0) < 2 || phi.dim(1) < 2)
    return fail(ErrorCode::invalid_argument,
                fmt::format("flow: the phi grid must be at least 2x2 nodes, got {}", phi.describe()));
  if (phi.element_count() >= (std::int64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("flow: phi {} has 2^31 or more nodes", phi.describe()));
  return Grid{static_cast<std::uint32_t>(phi.dim(1)), static_cast<std::uint32_t>(phi.dim(0))};
}

Expected<void> check_spacing(double spacing) {
  if (!std::isfinite(spacing) || spacing <= 0)
    return fail(ErrorCode::invalid_argument, fmt::format("flow: spacing must be positive and finite, got {}", spacing));
  return {};
}

// The first node of phi that is not finite, as an error.
Expected<void> non_finite_error(const Tensor& phi, const Grid& grid) {
  AAT_TRY(auto values, phi.download_values<float>());
  const auto bad = static_cast<std::size_t>(
      std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }) - values.begin());
  if (bad == values.size()) return fail(ErrorCode::internal, "flow: the device flagged phi as non-finite, the host did not");
  return fail(ErrorCode::invalid_argument,
              fmt::format("flow: phi must be finite everywhere, but phi[{}, {}] = {} (grid {}x{})", bad / grid.nx,
                          bad % grid.nx, values[bad], grid.ny, grid.nx));
}

std::uint32_t periodic_flag(Boundary b) { return b == Boundary::periodic ? 1u : 0u; }

}  // namespace

std::string_view to_string(Boundary boundary) { return boundary == Boundary::periodic ? "periodic" : "neumann"; }

Expected<Boundary> parse_boundary(std::string_view name) {
  if (name == "periodic") return Boundary::periodic;
  if (name == "neumann") return Boundary::neumann;
  return fail(ErrorCode::invalid_argument, fmt::format("flow: boundary must be 'periodic' or 'neumann', got '{}'", name));
}

double stable_dt(double spacing, double min_phi) { return spacing * spacing * std::exp(2.0 * min_phi) / 4.0; }

Expected<Flow> Flow::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "Flow::create: no context");
  if (context->device().limits.max_workgroup_invocations < kTile * kTile)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' runs at most {} invocations per workgroup; the flow "
                                                    "kernels need {}",
                                                    context->device().name,
                                                    context->device().limits.max_workgroup_invocations, kTile * kTile));
  Flow flow;
  flow.context_ = context;
  const auto make = [&](std::span<const std::uint32_t> words, const char* name) {
    return Kernel::create(context, Spirv(words.begin(), words.end()), name);
  };
  AAT_TRY(flow.prepare_, make(prep::spirv(), "flow.prepare"));
  AAT_TRY(flow.step_, make(step::spirv(), "flow.step"));
  AAT_TRY(flow.finish_, make(fin::spirv(), "flow.finish"));
  AAT_TRY(flow.curvature_, make(curv::spirv(), "flow.curvature"));
  return flow;
}

Expected<FlowResult> Flow::evolve(const Tensor& phi, double spacing, std::uint32_t steps, double dt,
                                  Boundary boundary) const {
  AAT_TRY(const Grid grid, check_phi(phi));
  AAT_CHECK(check_spacing(spacing));
  if (steps == 0) return fail(ErrorCode::invalid_argument, "flow: steps must be at least 1, got 0");
  if (!std::isfinite(dt) || dt <= 0)
    return fail(ErrorCode::invalid_argument, fmt::format("flow: dt must be positive and finite, got {}", dt));

  const std::uint64_t bytes = grid.nodes() * sizeof(float);
  AAT_TRY(const Workgroups tiles, prepare_.workgroups_for({grid.nx, grid.ny, 1}));
  const std::uint64_t tile_count = std::uint64_t{tiles.x} * tiles.y;
  AAT_TRY(Tensor u_a, Tensor::create(context_, DType::f32, phi.shape()));
  AAT_TRY(Tensor u_b, Tensor::create(context_, DType::f32, phi.shape()));
  AAT_TRY(Buffer ranges, Buffer::create(context_, tile_count * 2 * sizeof(float)));
  AAT_TRY(Buffer non_finite, Buffer::create(context_, sizeof(std::uint32_t)));

  // 1. u = e^{2 phi}, the range of phi and a finiteness check, read back for the step size.
  FlowResult result;
  AAT_TRY(Stream stream, Stream::create(context_));
  {
    Bindings b(prepare_);
    AAT_CHECK(b.bind(prep::binding::phi, phi));
    AAT_CHECK(b.bind(prep::binding::u, u_a));
    AAT_CHECK(b.bind(prep::binding::tiles, ranges));
    AAT_CHECK(b.bind(prep::binding::flag, non_finite));
    AAT_CHECK(b.require_bytes(prep::binding::phi, bytes));
    AAT_CHECK(b.require_bytes(prep::binding::u, bytes));
    AAT_CHECK(b.require_bytes(prep::binding::tiles, tile_count * 2 * sizeof(float)));
    AAT_CHECK(b.push_struct(prep::PushConstants{.nx = grid.nx, .ny = grid.ny}));
    AAT_CHECK(stream.fill(non_finite, 0));
    AAT_CHECK(stream.dispatch(b, tiles, "flow.prepare"));
    AAT_CHECK(stream.run());
    result.gpu_ms += stream.total_gpu_ms();
  }
  std::uint32_t flag = 0;
  AAT_CHECK(non_finite.read(std::as_writable_bytes(std::span(&flag, 1))));
  if (flag != 0) return std::unexpected(non_finite_error(phi, grid).error());
  std::vector<float> min_max(tile_count * 2);
  AAT_CHECK(ranges.read(std::as_writable_bytes(std::span(min_max))));
  result.min_phi = min_max[0];
  result.max_phi = min_max[1];
  for (std::size_t t = 0; t < tile_count; ++t) {
    result.min_phi = std::min<double>(result.min_phi, min_max[2 * t]);
    result.max_phi = std::max<double>(result.max_phi, min_max[2 * t + 1]);
  }
  if (result.min_phi < -max_abs_phi || result.max_phi > max_abs_phi)
    return fail(ErrorCode::invalid_argument,
                fmt::format("flow: phi must lie within [-{0}, {0}] so that e^(2 phi) is a finite f32, got [{1}, {2}]",
                            max_abs_phi, result.min_phi, result.max_phi));

  // 2. The step: sub-stepped below the stability bound when dt is above it.
  result.stable_dt = stable_dt(spacing, result.min_phi);
  result.substeps = dt <= result.stable_dt ? 1 : static_cast<std::uint64_t>(std::ceil(dt / result.stable_dt));
  const std::uint64_t total = std::uint64_t{steps} * result.substeps;
  if (result.substeps > max_total_substeps || total > max_total_substeps)
    return fail(ErrorCode::invalid_argument,
                fmt::format("flow: dt = {} is {:.3g} times the stability bound h^2 e^(2 min phi) / 4 = {:.6g} (h = {}, "
                            "min phi = {}); {} steps would need {:.3g} explicit sub-steps, more than the {} allowed",
                            dt, dt / result.stable_dt, result.stable_dt, spacing, result.min_phi, steps,
                            static_cast<double>(steps) * static_cast<double>(result.substeps), max_total_substeps));
  result.dt_substep = dt / static_cast<double>(result.substeps);

  // 3. Ping-pong between u_a and u_b; each submission records up to kDispatchesPerSubmit steps.
  const step::PushConstants push{.nx = grid.nx,
                                 .ny = grid.ny,
                                 .periodic = periodic_flag(boundary),
                                 .rate = static_cast<float>(result.dt_substep / (spacing * spacing))};
  Bindings forward(step_), backward(step_);
  for (auto [b, from, to] : {std::tuple{&forward, &u_a, &u_b}, std::tuple{&backward, &u_b, &u_a}}) {
    AAT_CHECK(b->bind(step::binding::u_in, *from));
    AAT_CHECK(b->bind(step::binding::u_out, *to));
    AAT_CHECK(b->require_bytes(step::binding::u_in, bytes));
    AAT_CHECK(b->require_bytes(step::binding::u_out, bytes));
    AAT_CHECK(b->push_struct(push));
  }
  AAT_TRY(result.phi, Tensor::create(context_, DType::f32, phi.shape()));
  for (std::uint64_t k = 0; k < total; ++k) {
    if (k % kDispatchesPerSubmit == 0) AAT_CHECK(stream.reset());
    AAT_CHECK(stream.dispatch(k % 2 == 0 ? forward : backward, tiles, "flow.step"));
    if ((k + 1) % kDispatchesPerSubmit == 0 && k + 1 < total) {
      AAT_CHECK(stream.run());
      result.gpu_ms += stream.total_gpu_ms();
    }
  }

  // 4. phi = log(u) / 2, in the same submission as the last steps.
  Bindings b(finish_);
  AAT_CHECK(b.bind(fin::binding::u, total % 2 == 0 ? u_a : u_b));
  AAT_CHECK(b.bind(fin::binding::phi, result.phi));
  AAT_CHECK(b.require_bytes(fin::binding::u, bytes));
  AAT_CHECK(b.require_bytes(fin::binding::phi, bytes));
  AAT_CHECK(b.push_struct(fin::PushConstants{.nx = grid.nx, .ny = grid.ny}));
  AAT_CHECK(stream.dispatch(b, tiles, "flow.finish"));
  AAT_CHECK(stream.run());
  result.gpu_ms += stream.total_gpu_ms();
  return result;
}

Expected<Tensor> Flow::curvature(const Tensor& phi, double spacing, Boundary boundary) const {
  AAT_TRY(const Grid grid, check_phi(phi));
  AAT_CHECK(check_spacing(spacing));
  AAT_TRY(Tensor k, Tensor::create(context_, DType::f32, phi.shape()));
  Bindings b(curvature_);
  AAT_CHECK(b.bind(curv::binding::phi, phi));
  AAT_CHECK(b.bind(curv::binding::curvature, k));
  AAT_CHECK(b.require_bytes(curv::binding::phi, grid.nodes() * sizeof(float)));
  AAT_CHECK(b.require_bytes(curv::binding::curvature, grid.nodes() * sizeof(float)));
  AAT_CHECK(b.push_struct(curv::PushConstants{.nx = grid.nx,
                                              .ny = grid.ny,
                                              .periodic = periodic_flag(boundary),
                                              .inv_h2 = static_cast<float>(1.0 / (spacing * spacing))}));
  AAT_TRY(Workgroups tiles, curvature_.workgroups_for({grid.nx, grid.ny, 1}));
  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_CHECK(stream.dispatch(b, tiles, "flow.curvature"));
  AAT_CHECK(stream.run());
  return k;
}

Expected<FlowSummary> Flow::summarize(const Tensor& phi, double spacing, Boundary boundary) const {
  AAT_TRY(const Grid grid, check_phi(phi));
  AAT_TRY(Tensor k, curvature(phi, spacing, boundary));
  AAT_TRY(auto phis, phi.download_values<float>());
  AAT_TRY(auto ks, k.download_values<float>());
  if (!std::all_of(phis.begin(), phis.end(), [](float v) { return std::isfinite(v); }))
    return std::unexpected(non_finite_error(phi, grid).error());
  FlowSummary s;
  for (std::size_t n = 0; n < phis.size(); ++n) {
    if (!std::isfinite(ks[n]))
      return fail(ErrorCode::invalid_argument, fmt::format("flow: the curvature at node [{}, {}] (phi = {}) overflows f32",
                                                           n / grid.nx, n % grid.nx, phis[n]));
    s.area += std::exp(2.0 * static_cast<double>(phis[n]));
    s.max_abs_curvature = std::max(s.max_abs_curvature, std::abs(static_cast<double>(ks[n])));
  }
  s.area *= spacing * spacing;
  return s;
}

}  // namespace aat::flow
