#include "reference.hpp"

#include <algorithm>
#include <cmath>

namespace aat::geodesic::reference {

namespace {

using State = std::array<double, 5>;  // x, y, x', y', length

double derivative(const std::vector<double>& f, std::int64_t at, std::int64_t stride, std::int64_t k, std::int64_t n,
                  double h) {
  const auto v = [&](std::int64_t offset) { return f[static_cast<std::size_t>(at + offset * stride)]; };
  if (n == 2) return k == 0 ? (v(1) - v(0)) / h : (v(0) - v(-1)) / h;
  if (k == 0) return (-3 * v(0) + 4 * v(1) - v(2)) / (2 * h);
  if (k == n - 1) return (3 * v(0) - 4 * v(-1) + v(-2)) / (2 * h);
  return (v(1) - v(-1)) / (2 * h);
}

State rate(const Field& field, const State& s) {
  const auto [phi, gx, gy] = field.sample(s[0], s[1]);
  const double vx = s[2], vy = s[3];
  const double gv = gx * vx + gy * vy, v2 = vx * vx + vy * vy;
  return {vx, vy, -2 * gv * vx + v2 * gx, -2 * gv * vy + v2 * gy, std::exp(phi) * std::sqrt(v2)};
}

State rk4(const Field& field, const State& s, double h) {
  const auto axpy = [](const State& a, double t, const State& b) {
    State r;
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = a[i] + t * b[i];
    return r;
  };
  const State k1 = rate(field, s);
  const State k2 = rate(field, axpy(s, h / 2, k1));
  const State k3 = rate(field, axpy(s, h / 2, k2));
  const State k4 = rate(field, axpy(s, h, k3));
  State r;
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = s[i] + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  return r;
}

bool inside(const Rect& r, double x, double y) { return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1; }

}  // namespace

std::array<double, 3> Field::sample(double x, double y) const {
  const double cx = std::clamp(x, rect.x0, rect.x1), cy = std::clamp(y, rect.y0, rect.y1);
  const double u = (cx - rect.x0) / hx(), w = (cy - rect.y0) / hy();
  const std::int64_t j = std::min<std::int64_t>(static_cast<std::int64_t>(u), nx - 2);
  const std::int64_t i = std::min<std::int64_t>(static_cast<std::int64_t>(w), ny - 2);
  const double a = u - static_cast<double>(j), b = w - static_cast<double>(i);
  const auto lerp2 = [&](const std::vector<double>& f) {
    const auto at = [&](std::int64_t r, std::int64_t c) { return f[static_cast<std::size_t>(r * nx + c)]; };
    return (1 - b) * ((1 - a) * at(i, j) + a * at(i, j + 1)) + b * ((1 - a) * at(i + 1, j) + a * at(i + 1, j + 1));
  };
  return {lerp2(phi), lerp2(phi_x), lerp2(phi_y)};
}

Field make_field(const std::vector<float>& phi, std::int64_t ny, std::int64_t nx, const Rect& rect) {
  Field f;
  f.nx = nx;
  f.ny = ny;
  f.rect = rect;
  f.phi.assign(phi.begin(), phi.end());
  f.phi_x.resize(phi.size());
  f.phi_y.resize(phi.size());
  for (std::int64_t i = 0; i < ny; ++i)
    for (std::int64_t j = 0; j < nx; ++j) {
      const std::int64_t at = i * nx + j;
      f.phi_x[static_cast<std::size_t>(at)] = derivative(f.phi, at, 1, j, nx, f.hx());
      f.phi_y[static_cast<std::size_t>(at)] = derivative(f.phi, at, nx, i, ny, f.hy());
    }
  return f;
}

std::array<double, 6> integrate(const Field& field, const std::array<double, 4>& state, std::uint32_t steps, double dt) {
  State s{state[0], state[1], state[2], state[3], 0.0};
  double status = inside(field.rect, s[0], s[1]) ? 0.0 : 1.0;
  for (std::uint32_t k = 0; k < steps && status == 0.0; ++k) {
    const State next = rk4(field, s, dt);
    if (inside(field.rect, next[0], next[1])) {
      s = next;
      continue;
    }
    double lo = 0, hi = 1;  // the fraction of the step where the path reaches the edge
    for (int b = 0; b < 60; ++b) {
      const double mid = (lo + hi) / 2;
      const State t = rk4(field, s, mid * dt);
      (inside(field.rect, t[0], t[1]) ? lo : hi) = mid;
    }
    s = rk4(field, s, lo * dt);
    status = 1.0;
  }
  return {s[0], s[1], s[2], s[3], s[4], status};
}

double metric_speed2(const Field& field, const std::array<double, 4>& s) {
  const double phi = field.sample(s[0], s[1])[0];
  return std::exp(2 * phi) * (s[2] * s[2] + s[3] * s[3]);
}

Semicircle semicircle(const std::array<double, 4>& s) {
  // The centre lies on the x-axis, on the normal to the velocity through the point.
  const double centre = s[0] + s[1] * s[3] / s[2];
  return {centre, std::hypot(s[0] - centre, s[1])};
}

std::array<double, 3> half_plane_exact(const std::array<double, 4>& s, double t) {
  // On the semicircle, x = c + r tanh(w), y = r / cosh(w), and w advances at the hyperbolic speed.
  const auto [c, r] = semicircle(s);
  const double speed = std::hypot(s[2], s[3]) / s[1];
  const double w = std::atanh((s[0] - c) / r) + (s[2] > 0 ? 1.0 : -1.0) * speed * t;
  return {c + r * std::tanh(w), r / std::cosh(w), speed * t};
}

}  // namespace aat::geodesic::reference
