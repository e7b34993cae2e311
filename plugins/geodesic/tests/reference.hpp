// Independent double-precision CPU reference for the geodesic plugin, written from the math
// in README.md: the same grid convention, differences and bilinear interpolation, RK4 in
// double, the exit found by bisection to double precision; and the analytic geodesics of the
// hyperbolic half-plane (phi = -ln y).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace aat::geodesic::reference {

struct Rect {
  double x0, y0, x1, y1;
};

// phi on [ny, nx] nodes spanning `rect`, and its gradient per node: central differences
// inside, (-3 f0 + 4 f1 - f2) / 2h on the edges (f1 - f0) / h when only two nodes.
struct Field {
  std::int64_t nx = 0, ny = 0;
  Rect rect{};
  std::vector<double> phi, phi_x, phi_y;  // row-major [ny, nx]

  double hx() const { return (rect.x1 - rect.x0) / static_cast<double>(nx - 1); }
  double hy() const { return (rect.y1 - rect.y0) / static_cast<double>(ny - 1); }
  // (phi, phi_x, phi_y) bilinear at (x, y), the point clamped to the rectangle.
  std::array<double, 3> sample(double x, double y) const;
};

Field make_field(const std::vector<float>& phi, std::int64_t ny, std::int64_t nx, const Rect& rect);

// (x, y, x', y', length, status) after `steps` RK4 steps of dt from (x, y, x', y').
std::array<double, 6> integrate(const Field& field, const std::array<double, 4>& state, std::uint32_t steps, double dt);

// e^{2 phi} |x'|^2 at a state, phi bilinear.
double metric_speed2(const Field& field, const std::array<double, 4>& state);

// The hyperbolic half-plane, metric (dx^2 + dy^2) / y^2: the geodesic through (x, y) with
// velocity (x', y') (x' != 0) is the semicircle of centre (c, 0) and radius r.
struct Semicircle {
  double centre, radius;
};
Semicircle semicircle(const std::array<double, 4>& state);
// Position after time t (the hyperbolic speed |v| / y is constant) and the length speed * t.
std::array<double, 3> half_plane_exact(const std::array<double, 4>& state, double t);

}  // namespace aat::geodesic::reference
