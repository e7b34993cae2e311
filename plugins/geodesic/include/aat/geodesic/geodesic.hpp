// Geodesics of a conformal metric g = e^{2 phi} (dx^2 + dy^2) on a rectangle, phi sampled on
// an [ny, nx] grid of nodes: node (i, j) sits at (x0 + j hx, y0 + i hy) with
// hx = (x1 - x0) / (nx - 1), hy = (y1 - y0) / (ny - 1), so the grid spans the rectangle.
//
// The connection (grad phi per node) is computed on the device from phi, in 16x16 tiles;
// phi and grad phi are bilinear inside each cell. Every geodesic (x, y, x', y') is integrated
// with RK4 for `steps` steps of `dt`:
//   x'' = -2 (grad phi . x') x' + |x'|^2 grad phi,   length L = integral of e^{phi} |x'| dt,
// stopping where it leaves the rectangle (status 1, state on the edge). See README.md.
#pragma once

#include <cstdint>
#include <memory>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/stream.hpp"
#include "aat/tensor.hpp"

namespace aat::geodesic {

// The rectangle [x0, x1] x [y0, y1] the grid spans; x0 < x1 and y0 < y1.
struct Extent {
  double x0 = 0, y0 = 0, x1 = 1, y1 = 1;
};

// Columns of the integrate() output.
enum Column : std::int64_t { col_x = 0, col_y, col_vx, col_vy, col_length, col_status, column_count };
inline constexpr float status_inside = 0.0f;  // every step taken, still inside
inline constexpr float status_left = 1.0f;    // left the rectangle: the state is the one at the exit

struct GeodesicResult {
  Tensor out;         // f32 [M, 6]: (x, y, x', y', length, status)
  double gpu_ms = 0;  // connection + integration (0 when the device has no timestamps)
};

// An integration recorded into a stream: what check() needs once the stream ran.
struct RecordedIntegration {
  Tensor phi;
  Tensor field;       // f32 [ny, nx, 4], the connection
  Buffer non_finite;  // one uint the connection kernel sets where phi is not finite
};

// Kernels prepared once per context; integrate() as often as you like, from any thread.
class Geodesic {
 public:
  static Expected<Geodesic> create(const std::shared_ptr<Context>& context);

  // phi: f32 [ny, nx], ny, nx >= 2, every value finite. states: f32 [M, 4] = (x, y, x', y').
  // steps >= 1, dt > 0 (finite).
  Expected<GeodesicResult> integrate(const Tensor& phi, const Extent& extent, const Tensor& states,
                                     std::uint32_t steps, double dt) const;
  // Records what integrate() runs into `stream`, writing out (f32 [M, 6]); nothing is submitted.
  // Once the stream ran, check() the returned record: phi's finiteness is known only then.
  Expected<RecordedIntegration> record(Stream& stream, const Tensor& phi, const Extent& extent, const Tensor& states,
                                       std::uint32_t steps, double dt, const Tensor& out) const;
  // After the stream that recorded `recorded` ran: an error naming the first non-finite node of phi.
  Expected<void> check(const RecordedIntegration& recorded) const;

  // The field integrate() interpolates: f32 [ny, nx, 4] = (phi, d phi/dx, d phi/dy, 0) per node
  // (central differences inside, second-order one-sided on the edges).
  Expected<Tensor> connection(const Tensor& phi, const Extent& extent) const;

 private:
  std::shared_ptr<Context> context_;
  Kernel connection_;
  Kernel integrate_;
};

}  // namespace aat::geodesic
