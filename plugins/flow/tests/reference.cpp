#include "reference.hpp"

#include <algorithm>
#include <cmath>

namespace aat::flow::reference {

std::vector<double> laplacian(const std::vector<double>& f, const Grid& g) {
  const auto at = [&](std::int64_t i, std::int64_t j) {
    if (g.periodic) {
      i = (i + g.ny) % g.ny;
      j = (j + g.nx) % g.nx;
    } else {  // the ghost node past an edge mirrors the edge node
      i = std::clamp<std::int64_t>(i, 0, g.ny - 1);
      j = std::clamp<std::int64_t>(j, 0, g.nx - 1);
    }
    return f[static_cast<std::size_t>(i * g.nx + j)];
  };
  std::vector<double> out(f.size());
  for (std::int64_t i = 0; i < g.ny; ++i)
    for (std::int64_t j = 0; j < g.nx; ++j)
      out[static_cast<std::size_t>(i * g.nx + j)] =
          (at(i + 1, j) + at(i - 1, j) + at(i, j + 1) + at(i, j - 1) - 4 * at(i, j)) / (g.h * g.h);
  return out;
}

std::vector<double> evolve(const std::vector<double>& phi, const Grid& g, std::uint32_t steps, double dt) {
  std::vector<double> u(phi.size()), log_u(phi.size());
  for (std::size_t n = 0; n < phi.size(); ++n) u[n] = std::exp(2 * phi[n]);
  for (std::uint32_t s = 0; s < steps; ++s) {
    for (std::size_t n = 0; n < u.size(); ++n) log_u[n] = std::log(u[n]);
    const auto lap = laplacian(log_u, g);
    for (std::size_t n = 0; n < u.size(); ++n) u[n] += dt * lap[n];
  }
  std::vector<double> out(u.size());
  for (std::size_t n = 0; n < u.size(); ++n) out[n] = std::log(u[n]) / 2;
  return out;
}

std::vector<double> curvature(const std::vector<double>& phi, const Grid& g) {
  auto k = laplacian(phi, g);
  for (std::size_t n = 0; n < k.size(); ++n) k[n] *= -std::exp(-2 * phi[n]);
  return k;
}

double area(const std::vector<double>& phi, const Grid& g) {
  double sum = 0;
  for (double p : phi) sum += std::exp(2 * p);
  return sum * g.h * g.h;
}

}  // namespace aat::flow::reference
