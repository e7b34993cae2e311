#include "aat/geodesic/geodesic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "aat/bindings.hpp"
#include "aat/stream.hpp"
#include "geodesic/connection.bindings.hpp"
#include "geodesic/integrate.bindings.hpp"

namespace aat::geodesic {

namespace {

namespace conn = plugin_gen::geodesic::connection;
namespace integ = plugin_gen::geodesic::integrate;

constexpr std::uint32_t kTile = 16;           // connection.comp's workgroup tile (fixed in the shader)
constexpr std::int64_t kIntegrateGroup = 64;  // geodesics per workgroup

struct Grid {
  std::uint32_t nx = 0, ny = 0;
};

Expected<Grid> check_phi(const Tensor& phi) {
  if (!phi) return fail(ErrorCode::invalid_argument, "geodesic: phi is an empty tensor handle");
  if (phi.dtype() != DType::f32)
    return fail(ErrorCode::type_mismatch, fmt::format("geodesic: phi must be f32 [ny, nx], got {}", phi.describe()));
  if (phi.rank() != 2)
    return fail(ErrorCode::invalid_argument,
                fmt::format("geodesic: phi must be a 2-D grid [ny, nx], got rank {} ({})", phi.rank(), phi.describe()));
  if (phi.dim(0) < 2 || phi.dim(1) < 2)
    return fail(ErrorCode::invalid_argument,
                fmt::format("geodesic: the phi grid must be at least 2x2 nodes, got {}", phi.describe()));
  if (phi.element_count() >= (std::int64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("geodesic: phi {} has 2^31 or more nodes", phi.describe()));
  return Grid{static_cast<std::uint32_t>(phi.dim(1)), static_cast<std::uint32_t>(phi.dim(0))};
}

Expected<void> check_extent(const Extent& e) {
  if (!std::isfinite(e.x0) || !std::isfinite(e.y0) || !std::isfinite(e.x1) || !std::isfinite(e.y1))
    return fail(ErrorCode::invalid_argument,
                fmt::format("geodesic: extent ({}, {}, {}, {}) is not finite", e.x0, e.y0, e.x1, e.y1));
  if (!(e.x0 < e.x1))
    return fail(ErrorCode::invalid_argument, fmt::format("geodesic: extent needs x0 < x1, got x0 = {}, x1 = {}", e.x0, e.x1));
  if (!(e.y0 < e.y1))
    return fail(ErrorCode::invalid_argument, fmt::format("geodesic: extent needs y0 < y1, got y0 = {}, y1 = {}", e.y0, e.y1));
  return {};
}

Expected<std::int64_t> check_states(const Tensor& states) {
  if (!states) return fail(ErrorCode::invalid_argument, "geodesic: states is an empty tensor handle");
  if (states.dtype() != DType::f32)
    return fail(ErrorCode::type_mismatch,
                fmt::format("geodesic: states must be f32 [M, 4] = (x, y, x', y'), got {}", states.describe()));
  if (states.rank() != 2 || states.dim(1) != 4)
    return fail(ErrorCode::invalid_argument,
                fmt::format("geodesic: states must be [M, 4] = (x, y, x', y'), got {}", states.describe()));
  if (states.dim(0) > std::int64_t{65535} * kIntegrateGroup)
    return fail(ErrorCode::unsupported, fmt::format("geodesic: {} geodesics exceed the {} one dispatch takes",
                                                    states.dim(0), std::int64_t{65535} * kIntegrateGroup));
  return states.dim(0);
}

// The connection dispatch, recorded into `stream`.
struct Connection {
  Tensor field;      // f32 [ny, nx, 4]
  Buffer non_finite; // one uint: 1 when some value of phi is not finite
};

Expected<Connection> record_connection(const std::shared_ptr<Context>& context, const Kernel& kernel,
                                       const Tensor& phi, const Grid& grid, const Extent& extent, Stream& stream) {
  Connection c;
  AAT_TRY(c.field, Tensor::create(context, DType::f32, {grid.ny, grid.nx, 4}));
  AAT_TRY(c.non_finite, Buffer::create(context, sizeof(std::uint32_t)));
  AAT_CHECK(stream.fill(c.non_finite, 0));

  const double hx = (extent.x1 - extent.x0) / (grid.nx - 1);
  const double hy = (extent.y1 - extent.y0) / (grid.ny - 1);
  Bindings b(kernel);
  AAT_CHECK(b.bind(conn::binding::phi, phi));
  AAT_CHECK(b.bind(conn::binding::field, c.field));
  AAT_CHECK(b.bind(conn::binding::flag, c.non_finite));
  const std::uint64_t nodes = std::uint64_t{grid.nx} * grid.ny;
  AAT_CHECK(b.require_bytes(conn::binding::phi, nodes * sizeof(float)));
  AAT_CHECK(b.require_bytes(conn::binding::field, nodes * 4 * sizeof(float)));
  AAT_CHECK(b.push_struct(conn::PushConstants{.nx = grid.nx,
                                              .ny = grid.ny,
                                              .inv_2hx = static_cast<float>(0.5 / hx),
                                              .inv_2hy = static_cast<float>(0.5 / hy)}));
  AAT_TRY(Workgroups groups, kernel.workgroups_for({grid.nx, grid.ny, 1}));
  AAT_CHECK(stream.dispatch(b, groups, "geodesic.connection"));
  return c;
}

// After the stream ran: an error naming the first non-finite node of phi, if any.
Expected<void> check_finite(const Buffer& non_finite, const Tensor& phi, const Grid& grid) {
  std::uint32_t flag = 0;
  AAT_CHECK(non_finite.read(std::as_writable_bytes(std::span(&flag, 1))));
  if (flag == 0) return {};
  AAT_TRY(auto values, phi.download_values<float>());
  const auto bad = static_cast<std::size_t>(
      std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }) - values.begin());
  if (bad == values.size()) return fail(ErrorCode::internal, "geodesic: the device flagged phi as non-finite, the host did not");
  return fail(ErrorCode::invalid_argument,
              fmt::format("geodesic: phi must be finite everywhere, but phi[{}, {}] = {} (grid {}x{})", bad / grid.nx,
                          bad % grid.nx, values[bad], grid.ny, grid.nx));
}

}  // namespace

Expected<Geodesic> Geodesic::create(const std::shared_ptr<Context>& context) {
  if (!context) return fail(ErrorCode::invalid_argument, "Geodesic::create: no context");
  const auto& limits = context->device().limits;
  if (limits.max_workgroup_invocations < kTile * kTile)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' runs at most {} invocations per workgroup; the "
                                                    "geodesic connection kernel needs {}",
                                                    context->device().name, limits.max_workgroup_invocations,
                                                    kTile * kTile));
  Geodesic g;
  g.context_ = context;
  AAT_TRY(g.connection_, Kernel::create(context, conn::spirv(), "geodesic.connection"));
  const KernelOptions options{.spec = integ::Specialization{.local_size_x = kIntegrateGroup}.entries()};
  AAT_TRY(g.integrate_, Kernel::create(context, integ::spirv(), "geodesic.integrate", options));
  return g;
}

Expected<Tensor> Geodesic::connection(const Tensor& phi, const Extent& extent) const {
  AAT_TRY(const Grid grid, check_phi(phi));
  AAT_CHECK(check_extent(extent));
  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_TRY(Connection c, record_connection(context_, connection_, phi, grid, extent, stream));
  AAT_CHECK(stream.run());
  AAT_CHECK(check_finite(c.non_finite, phi, grid));
  return c.field;
}

Expected<GeodesicResult> Geodesic::integrate(const Tensor& phi, const Extent& extent, const Tensor& states,
                                             std::uint32_t steps, double dt) const {
  // The checks in record()'s order, before out is made from the states' count.
  AAT_CHECK(check_phi(phi));
  AAT_CHECK(check_extent(extent));
  AAT_TRY(const std::int64_t count, check_states(states));
  GeodesicResult result;
  AAT_TRY(result.out, Tensor::create(context_, DType::f32, {count, column_count}));
  AAT_TRY(Stream stream, Stream::create(context_));
  AAT_TRY(const RecordedIntegration recorded, record(stream, phi, extent, states, steps, dt, result.out));
  AAT_CHECK(stream.run());
  AAT_CHECK(check(recorded));
  result.gpu_ms = stream.total_gpu_ms();
  return result;
}

Expected<RecordedIntegration> Geodesic::record(Stream& stream, const Tensor& phi, const Extent& extent,
                                               const Tensor& states, std::uint32_t steps, double dt,
                                               const Tensor& out) const {
  AAT_TRY(const Grid grid, check_phi(phi));
  AAT_CHECK(check_extent(extent));
  AAT_TRY(const std::int64_t count, check_states(states));
  if (steps == 0) return fail(ErrorCode::invalid_argument, "geodesic: steps must be at least 1, got 0");
  if (!std::isfinite(dt) || dt <= 0)
    return fail(ErrorCode::invalid_argument, fmt::format("geodesic: dt must be positive and finite, got {}", dt));
  if (!out || out.dtype() != DType::f32 || out.shape() != std::vector<std::int64_t>{count, column_count})
    return fail(ErrorCode::invalid_argument, fmt::format("geodesic: out must be f32[{}x{}], got {}", count,
                                                         column_count, out ? out.describe() : "none"));

  AAT_TRY(Connection c, record_connection(context_, connection_, phi, grid, extent, stream));
  if (count > 0) {
    Bindings b(integrate_);
    AAT_CHECK(b.bind(integ::binding::field, c.field));
    AAT_CHECK(b.bind(integ::binding::states, states));
    AAT_CHECK(b.bind(integ::binding::result, out));
    const auto m = static_cast<std::uint64_t>(count);
    AAT_CHECK(b.require_bytes(integ::binding::field, std::uint64_t{grid.nx} * grid.ny * 4 * sizeof(float)));
    AAT_CHECK(b.require_bytes(integ::binding::states, m * 4 * sizeof(float)));
    AAT_CHECK(b.require_bytes(integ::binding::result, m * column_count * sizeof(float)));
    AAT_CHECK(b.push_struct(integ::PushConstants{
        .x0 = static_cast<float>(extent.x0),
        .y0 = static_cast<float>(extent.y0),
        .x1 = static_cast<float>(extent.x1),
        .y1 = static_cast<float>(extent.y1),
        .inv_hx = static_cast<float>((grid.nx - 1) / (extent.x1 - extent.x0)),
        .inv_hy = static_cast<float>((grid.ny - 1) / (extent.y1 - extent.y0)),
        .nx = grid.nx,
        .ny = grid.ny,
        .count = static_cast<std::uint32_t>(count),
        .steps = steps,
        .dt = static_cast<float>(dt),
    }));
    AAT_TRY(Workgroups groups, integrate_.workgroups_for({m, 1, 1}));
    AAT_CHECK(stream.dispatch(b, groups, "geodesic.integrate"));
  }
  return RecordedIntegration{phi, c.field, c.non_finite};
}

Expected<void> Geodesic::check(const RecordedIntegration& recorded) const {
  AAT_TRY(const Grid grid, check_phi(recorded.phi));
  return check_finite(recorded.non_finite, recorded.phi, grid);
}

}  // namespace aat::geodesic
