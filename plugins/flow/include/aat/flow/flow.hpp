// Ricci flow of a conformal metric g = e^{2 phi} (dx^2 + dy^2) on a grid:
//   d phi / dt = e^{-2 phi} Laplacian(phi) = -K,   K = -e^{-2 phi} Laplacian(phi) the Gauss curvature,
// evolved as u = e^{2 phi}, du/dt = Laplacian(log u), with explicit Euler steps of the 5-point
// Laplacian on an [ny, nx] grid of spacing h (nodes are cell centres), periodic (a torus) or
// Neumann (zero flux through the edges). Both conserve the area sum(u) h^2 up to rounding.
//
// Stability: the step is stable (and monotone) for dt <= h^2 min(e^{2 phi}) / 4, a bound the
// flow keeps (min u never decreases). A larger dt is split into equal sub-steps below the
// bound; FlowResult says how many. See README.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "aat/context.hpp"
#include "aat/kernel.hpp"
#include "aat/tensor.hpp"

namespace aat::flow {

enum class Boundary { periodic, neumann };
std::string_view to_string(Boundary boundary);
Expected<Boundary> parse_boundary(std::string_view name);  // "periodic" or "neumann"

// The largest stable explicit step for a grid whose smallest phi is min_phi: h^2 e^{2 min_phi} / 4.
double stable_dt(double spacing, double min_phi);

struct FlowResult {
  Tensor phi;                  // f32 [ny, nx], phi after steps * dt
  std::uint64_t substeps = 1;  // sub-steps per requested step (1: dt was within the bound)
  double dt_substep = 0;       // dt / substeps, the step actually taken
  double stable_dt = 0;        // the bound, from the input's smallest phi
  double min_phi = 0, max_phi = 0;  // of the input
  double gpu_ms = 0;           // every dispatch (0 when the device has no timestamps)
};

struct FlowSummary {
  double area = 0;               // sum of e^{2 phi} h^2
  double max_abs_curvature = 0;  // max |K| over the nodes
};

// The most explicit steps (steps * substeps) one evolve() takes before refusing.
inline constexpr std::uint64_t max_total_substeps = 10'000'000;
// |phi| must stay below this so that e^{2 phi} is a finite f32.
inline constexpr double max_abs_phi = 40.0;

// Pipelines prepared once per context. Not thread-safe.
class Flow {
 public:
  static Expected<Flow> create(const std::shared_ptr<Context>& context);

  // phi: f32 [ny, nx], ny, nx >= 2, finite, |phi| <= 40. spacing h > 0, steps >= 1, dt > 0.
  Expected<FlowResult> evolve(const Tensor& phi, double spacing, std::uint32_t steps, double dt,
                              Boundary boundary) const;

  // K = -e^{-2 phi} Laplacian(phi), f32 [ny, nx], with the flow's Laplacian and boundary.
  Expected<Tensor> curvature(const Tensor& phi, double spacing, Boundary boundary) const;

  // Area and max |K| (curvature on the device, the sums on the host in double).
  Expected<FlowSummary> summarize(const Tensor& phi, double spacing, Boundary boundary) const;

 private:
  std::shared_ptr<Context> context_;
  Kernel prepare_, step_, finish_, curvature_;
};

}  // namespace aat::flow
