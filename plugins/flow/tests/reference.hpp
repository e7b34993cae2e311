// Independent double-precision CPU reference for the flow plugin, written from the math in
// README.md: the whole grid as one piece (no tiles), u = e^{2 phi}, explicit Euler on
// du/dt = Laplacian(log u) with the 5-point Laplacian; periodic wraps, Neumann mirrors the
// edge node into the ghost node past it (zero flux).
#pragma once

#include <cstdint>
#include <vector>

namespace aat::flow::reference {

struct Grid {
  std::int64_t ny = 0, nx = 0;
  double h = 1;
  bool periodic = true;
};

// The 5-point Laplacian of f (row-major [ny, nx]).
std::vector<double> laplacian(const std::vector<double>& f, const Grid& grid);
// phi after `steps` explicit steps of dt (no sub-stepping: the caller picks dt).
std::vector<double> evolve(const std::vector<double>& phi, const Grid& grid, std::uint32_t steps, double dt);
// K = -e^{-2 phi} Laplacian(phi).
std::vector<double> curvature(const std::vector<double>& phi, const Grid& grid);
// sum of e^{2 phi} h^2.
double area(const std::vector<double>& phi, const Grid& grid);

}  // namespace aat::flow::reference
