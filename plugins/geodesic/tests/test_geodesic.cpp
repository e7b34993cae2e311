// The geodesic plugin's suite: each test one behaviour, its tolerance stated and justified.
#include "aat/geodesic/geodesic.hpp"

#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>

#include "aat/plugin.hpp"
#include "device_test.hpp"
#include "geodesic/connection.bindings.hpp"
#include "geodesic/integrate.bindings.hpp"
#include "reference.hpp"

extern "C" const aat_plugin_descriptor* aat_plugin_geodesic_entry(void);

namespace aat::geodesic {
namespace {

using testing::unwrap;
using State4 = std::array<double, 4>;
using Out = std::array<double, 6>;

struct Grid {
  std::int64_t ny, nx;
  Extent extent;
  std::vector<float> phi;
  reference::Rect rect() const { return {extent.x0, extent.y0, extent.x1, extent.y1}; }
  reference::Field field() const { return reference::make_field(phi, ny, nx, rect()); }
  double hx() const { return (extent.x1 - extent.x0) / static_cast<double>(nx - 1); }
  double hy() const { return (extent.y1 - extent.y0) / static_cast<double>(ny - 1); }
};

Grid sample_grid(std::int64_t ny, std::int64_t nx, Extent e, const std::function<double(double, double)>& f) {
  Grid g{ny, nx, e, std::vector<float>(static_cast<std::size_t>(ny * nx))};
  for (std::int64_t i = 0; i < ny; ++i)
    for (std::int64_t j = 0; j < nx; ++j)
      g.phi[static_cast<std::size_t>(i * nx + j)] = static_cast<float>(f(e.x0 + static_cast<double>(j) * g.hx(), e.y0 + static_cast<double>(i) * g.hy()));
  return g;
}

// The hyperbolic half-plane: phi = -ln y on [-2, 2] x [0.25, 2.25]. phi does not depend on x,
// so bilinear interpolation is exact along x and only the spacing in y matters.
Grid half_plane(std::int64_t ny) {
  return sample_grid(ny, 65, Extent{-2.0, 0.25, 2.0, 2.25}, [](double, double y) { return -std::log(y); });
}

// Four paths of hyperbolic speed about 2 that stay inside the half-plane domain for t <= 1.
const std::vector<State4> kHalfPlanePaths = {
    {-0.5, 1.0, 2.0, 1.0}, {0.3, 1.2, -2.4, 0.6}, {-1.0, 0.9, 1.6, 0.3}, {0.8, 0.7, -1.2, 1.0}};

class Geodesics : public testing::DeviceTest {
 protected:
  std::vector<Out> run(const Grid& grid, const std::vector<State4>& states, std::uint32_t steps, double dt) {
    auto phi = unwrap(Tensor::from_values<float>(context(), DType::f32, {grid.ny, grid.nx}, grid.phi));
    std::vector<float> flat;
    for (const auto& s : states)
      for (double v : s) flat.push_back(static_cast<float>(v));
    auto in = unwrap(Tensor::from_values<float>(context(), DType::f32, {static_cast<std::int64_t>(states.size()), 4}, flat));
    auto result = unwrap(geodesic().integrate(phi, grid.extent, in, steps, dt));
    EXPECT_EQ(result.out.shape(), (std::vector<std::int64_t>{static_cast<std::int64_t>(states.size()), 6}));
    const auto values = unwrap(result.out.download_values<float>());
    std::vector<Out> out(states.size());
    for (std::size_t m = 0; m < states.size(); ++m)
      for (std::size_t c = 0; c < 6; ++c) out[m][c] = values[m * 6 + c];
    return out;
  }
  Geodesic& geodesic() {
    if (!geodesic_) geodesic_ = unwrap(Geodesic::create(context()));
    return *geodesic_;
  }

 private:
  std::optional<Geodesic> geodesic_;
};

// --- the connection -------------------------------------------------------------------------

// Against reference::make_field on a grid of 3x4 tiles with partial tiles on the far edges.
// Tolerance: the GPU rounds phi differences and 1/(2h) in f32, ~1e-7 relative of |phi| / h.
TEST_F(Geodesics, ConnectionIsCentralDifferencesInsideAndOneSidedOnTheEdges) {
  const Grid g = sample_grid(37, 53, Extent{-1.0, 0.0, 2.0, 1.5},
                             [](double x, double y) { return 0.4 * std::sin(2 * x + y) + 0.1 * x * y * y; });
  auto phi = unwrap(Tensor::from_values<float>(context(), DType::f32, {g.ny, g.nx}, g.phi));
  auto field = unwrap(geodesic().connection(phi, g.extent));
  ASSERT_EQ(field.shape(), (std::vector<std::int64_t>{37, 53, 4}));
  const auto gpu = unwrap(field.download_values<float>());
  const auto ref = g.field();
  for (std::size_t n = 0; n < g.phi.size(); ++n) {
    EXPECT_EQ(gpu[4 * n], g.phi[n]) << "node " << n;
    EXPECT_NEAR(gpu[4 * n + 1], ref.phi_x[n], 2e-5) << "node " << n;
    EXPECT_NEAR(gpu[4 * n + 2], ref.phi_y[n], 2e-5) << "node " << n;
    EXPECT_EQ(gpu[4 * n + 3], 0.0f);
  }
}

// A linear phi is differentiated exactly, edges included, even on a 2x2 grid.
TEST_F(Geodesics, ConnectionOfALinearPhiIsItsSlopeEverywhere) {
  for (const auto& [ny, nx] : {std::pair<std::int64_t, std::int64_t>{2, 2}, {3, 2}, {20, 35}}) {
    const Grid g = sample_grid(ny, nx, Extent{0, 0, 1, 2}, [](double x, double y) { return 0.75 * x - 0.5 * y; });
    auto phi = unwrap(Tensor::from_values<float>(context(), DType::f32, {ny, nx}, g.phi));
    const auto field = unwrap(unwrap(geodesic().connection(phi, g.extent)).download_values<float>());
    for (std::size_t n = 0; n < g.phi.size(); ++n) {
      EXPECT_NEAR(field[4 * n + 1], 0.75, 1e-5) << ny << "x" << nx << " node " << n;
      EXPECT_NEAR(field[4 * n + 2], -0.5, 1e-5) << ny << "x" << nx << " node " << n;
    }
  }
}

// --- flat metric ------------------------------------------------------------------------------

// phi = 0: x(t) = x0 + v t, the velocity unchanged, length |v| t. Tolerance: f32 sums of
// 100 steps of positions of size ~3, a few ulp each.
TEST_F(Geodesics, FlatMetricGivesStraightLinesAndEuclideanLength) {
  const Grid g = sample_grid(40, 50, Extent{-5, -5, 5, 5}, [](double, double) { return 0.0; });
  const std::vector<State4> states = {{0, 0, 1, 0}, {-1, 2, 0.3, -0.7}, {2, -3, -1.5, 2.0}, {-4, -4, 0, 0}};
  const double dt = 0.02;
  const auto out = run(g, states, 100, dt);
  for (std::size_t m = 0; m < states.size(); ++m) {
    const auto& s = states[m];
    const double t = 100 * dt;
    EXPECT_NEAR(out[m][0], s[0] + s[2] * t, 2e-5) << "path " << m;
    EXPECT_NEAR(out[m][1], s[1] + s[3] * t, 2e-5) << "path " << m;
    EXPECT_NEAR(out[m][2], s[2], 1e-6) << "path " << m;
    EXPECT_NEAR(out[m][3], s[3], 1e-6) << "path " << m;
    EXPECT_NEAR(out[m][4], std::hypot(s[2], s[3]) * t, 2e-5) << "path " << m;
    EXPECT_EQ(out[m][5], 0.0) << "path " << m;
  }
}

// A path that reaches the edge stops on it (status 1), its length the distance travelled.
TEST_F(Geodesics, PathLeavingTheDomainStopsOnTheEdgeWithStatusOne) {
  const Grid g = sample_grid(11, 11, Extent{0, 0, 1, 1}, [](double, double) { return 0.0; });
  // Leaves through x = 1 at t = 0.8 (y = 0.5 + 0.8 * 0.25 = 0.7), and through y = 0 at t = 0.5.
  const std::vector<State4> states = {{0.2, 0.5, 1.0, 0.25}, {0.5, 0.5, 0.3, -1.0}};
  const auto out = run(g, states, 100, 0.03);  // would run to t = 3
  EXPECT_EQ(out[0][5], 1.0);
  EXPECT_NEAR(out[0][0], 1.0, 1e-6);
  EXPECT_NEAR(out[0][1], 0.7, 1e-6);
  EXPECT_NEAR(out[0][4], 0.8 * std::hypot(1.0, 0.25), 1e-6);
  EXPECT_EQ(out[1][5], 1.0);
  EXPECT_NEAR(out[1][0], 0.65, 1e-6);
  EXPECT_NEAR(out[1][1], 0.0, 1e-6);
  EXPECT_NEAR(out[1][4], 0.5 * std::hypot(0.3, 1.0), 1e-6);
  EXPECT_EQ(out[1][2], 0.3f);  // the velocity at the exit
}

TEST_F(Geodesics, StartOutsideTheDomainIsReturnedUnchangedWithStatusOne) {
  const Grid g = sample_grid(5, 5, Extent{0, 0, 1, 1}, [](double, double) { return 0.0; });
  const auto out = run(g, {{1.5, 0.5, 1, 0}, {0.5, -0.1, 0, 1}}, 10, 0.01);
  EXPECT_EQ(out[0], (Out{1.5, 0.5, 1, 0, 0, 1}));
  EXPECT_EQ(out[1][1], static_cast<float>(-0.1));
  EXPECT_EQ(out[1][4], 0.0);
  EXPECT_EQ(out[1][5], 1.0);
}

// --- the hyperbolic half-plane -------------------------------------------------------------

// Against the analytic geodesics: end point on the semicircle centred on the x-axis, at the
// analytic position, length = hyperbolic speed * t. The grid is the only error left (dt is
// small enough that RK4's is ~1e-8): central differences and bilinear interpolation are
// second order, with constants set by phi''' = 2/y^3 and (phi_y)'' = -6/y^4, O(1) for y ~ 1 and
// a path time of 1, so the error is about hy^2 (measured: 1.0 hy^2 for position, 1.1 hy^2 for
// the radius, 0.15 hy^2 for the length). Tolerances: 2 hy^2, 2 hy^2, 0.5 hy^2 (+ f32 rounding).
TEST_F(Geodesics, HalfPlaneEndPointsLieOnTheAnalyticSemicircleWithTheHyperbolicLength) {
  const Grid g = half_plane(257);
  const double h2 = g.hy() * g.hy();
  const double t = 1.0;
  const auto out = run(g, kHalfPlanePaths, 128, t / 128);
  double worst_radius = 0, worst_position = 0, worst_length = 0;
  for (std::size_t m = 0; m < kHalfPlanePaths.size(); ++m) {
    const auto& s = kHalfPlanePaths[m];
    const auto circle = reference::semicircle(s);
    const auto exact = reference::half_plane_exact(s, t);
    ASSERT_EQ(out[m][5], 0.0) << "path " << m << " left the domain";
    const double radius = std::hypot(out[m][0] - circle.centre, out[m][1]);
    EXPECT_LE(std::abs(radius - circle.radius) / circle.radius, 2 * h2 + 1e-6) << "path " << m;
    EXPECT_LE(std::hypot(out[m][0] - exact[0], out[m][1] - exact[1]), 2 * h2 + 1e-6) << "path " << m;
    EXPECT_LE(std::abs(out[m][4] - exact[2]) / exact[2], 0.5 * h2 + 1e-6) << "path " << m;
    worst_radius = std::max(worst_radius, std::abs(radius - circle.radius) / circle.radius);
    worst_position = std::max(worst_position, std::hypot(out[m][0] - exact[0], out[m][1] - exact[1]));
    worst_length = std::max(worst_length, std::abs(out[m][4] - exact[2]) / exact[2]);
  }
  std::printf("half-plane, hy = 1/128: radius %.2e (rel), position %.2e, length %.2e (rel); hy^2 = %.2e\n",
              worst_radius, worst_position, worst_length, h2);
}

// The tolerance above rests on the grid error being second order: halving hy quarters it.
TEST_F(Geodesics, HalfPlaneGridErrorShrinksAtSecondOrderInTheSpacing) {
  std::vector<double> errors;
  for (const std::int64_t ny : {65, 129, 257}) {
    const auto out = run(half_plane(ny), kHalfPlanePaths, 128, 1.0 / 128);
    double worst = 0;
    for (std::size_t m = 0; m < kHalfPlanePaths.size(); ++m) {
      const auto exact = reference::half_plane_exact(kHalfPlanePaths[m], 1.0);
      worst = std::max(worst, std::hypot(out[m][0] - exact[0], out[m][1] - exact[1]));
    }
    errors.push_back(worst);
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double order = std::log2(errors[k - 1] / errors[k]);
    std::printf("half-plane grid error %.3e -> %.3e: order %.2f in hy\n", errors[k - 1], errors[k], order);
    EXPECT_GT(order, 1.8);
    EXPECT_LT(order, 2.2);
  }
}

// RK4 is fourth order: with dt halved the error (against a converged double-precision
// integration of the same bilinear field, so the grid error cancels) falls 16-fold. Measured
// where RK4's truncation error dominates: dt = 1/4, 1/8, 1/16 (errors ~4e-3 .. 1e-5). At much
// smaller dt the kinks of the bilinear field (grad phi is only continuous across cell edges)
// and f32 rounding (~1e-6) take over. Bounds on each measured order: 3.5 .. 4.7.
TEST_F(Geodesics, HalfPlaneErrorShrinksAtFourthOrderAsDtHalves) {
  const Grid g = half_plane(513);
  const auto field = g.field();
  std::vector<Out> converged;
  for (const auto& s : kHalfPlanePaths) converged.push_back(reference::integrate(field, s, 4096, 1.0 / 4096));
  std::vector<double> errors;
  for (const std::uint32_t steps : {4u, 8u, 16u}) {
    const auto out = run(g, kHalfPlanePaths, steps, 1.0 / steps);
    double worst = 0;
    for (std::size_t m = 0; m < out.size(); ++m)
      for (std::size_t c = 0; c < 5; ++c) worst = std::max(worst, std::abs(out[m][c] - converged[m][c]));
    errors.push_back(worst);
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double order = std::log2(errors[k - 1] / errors[k]);
    std::printf("half-plane dt error %.3e -> %.3e: order %.2f in dt\n", errors[k - 1], errors[k], order);
    EXPECT_GT(order, 3.5);
    EXPECT_LT(order, 4.7);
  }
}

// --- conservation --------------------------------------------------------------------------

// e^{2 phi} |x'|^2 = g(x', x') is constant along an exact geodesic. The kernel interpolates phi
// and grad phi separately, so grad phi is not exactly the gradient of the interpolated phi
// (they differ by O(h) inside a cell, with zero mean over it): the invariant drifts by O(h^2),
// plus RK4's O(dt^4). Checked on a 2-D field at two spacings: relative drift <= 2 h^2 and
// shrinking about 4-fold as h halves.
TEST_F(Geodesics, MetricSpeedIsConservedToTheDiscretisationTolerance) {
  const auto phi = [](double x, double y) { return 0.3 * std::sin(1.5 * x) * std::cos(y) + 0.1 * y; };
  std::vector<State4> states;
  for (int k = 0; k < 16; ++k) {
    const double angle = 0.39 * k;
    states.push_back({1.5 + 0.1 * k, 1.2 + 0.05 * k, 0.8 * std::cos(angle), 0.8 * std::sin(angle)});
  }
  std::vector<double> drifts;
  for (const std::int64_t n : {65, 129}) {
    const Grid g = sample_grid(n, n, Extent{0, 0, 4, 4}, phi);
    const auto field = g.field();
    const auto out = run(g, states, 200, 0.01);
    double worst = 0;
    for (std::size_t m = 0; m < states.size(); ++m) {
      const double before = reference::metric_speed2(field, states[m]);
      const double after = reference::metric_speed2(field, {out[m][0], out[m][1], out[m][2], out[m][3]});
      worst = std::max(worst, std::abs(after - before) / before);
    }
    const double h = g.hx();
    std::printf("e^{2 phi}|v|^2 relative drift %.3e at h = %.4f (%.2f h^2)\n", worst, h, worst / (h * h));
    EXPECT_LE(worst, 2 * h * h);
    drifts.push_back(worst);
  }
  EXPECT_GT(drifts[0] / drifts[1], 3.0);
}

// --- many tiles ----------------------------------------------------------------------------

// Paths several tiles long (the grid is 7x5 tiles of 16x16 nodes), some leaving the domain,
// against the CPU double-precision integrator with the same dt. The difference is f32 rounding
// (6e-8 relative) of ~250 steps, ~1.5e-5 if every rounding added up, amplified at most a
// few-fold by the spreading of nearby geodesics over this short time: tolerance 5e-5 on
// positions and velocities, 2e-5 relative on the length (measured: 2.4e-6 and 2.2e-6).
TEST_F(Geodesics, PathsAcrossManyTilesAgreeWithACpuDoubleIntegrator) {
  const Grid g = sample_grid(77, 101, Extent{0, 0, 4, 3}, [](double x, double y) {
    return 0.25 * std::sin(1.3 * x + 0.4) * std::cos(1.7 * y) + 0.15 * std::cos(0.7 * x * y) - 0.05 * x;
  });
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> ux(0.3, 3.7), uy(0.3, 2.7), angle(0, 6.283185307179586), speed(0.5, 1.2);
  std::vector<State4> states;
  for (int m = 0; m < 48; ++m) {
    const double a = angle(rng), v = speed(rng);
    states.push_back({ux(rng), uy(rng), v * std::cos(a), v * std::sin(a)});
  }
  const auto field = g.field();
  const std::uint32_t steps = 250;
  const double dt = 0.01;
  const auto out = run(g, states, steps, dt);
  int left = 0, tiles_crossed = 0;
  double worst_state = 0, worst_length = 0;
  for (std::size_t m = 0; m < states.size(); ++m) {
    const auto ref = reference::integrate(field, states[m], steps, dt);
    ASSERT_EQ(out[m][5], ref[5]) << "path " << m;
    left += ref[5] == 1.0;
    for (std::size_t c = 0; c < 4; ++c) EXPECT_NEAR(out[m][c], ref[c], 5e-5) << "path " << m << " column " << c;
    EXPECT_NEAR(out[m][4], ref[4], 2e-5 * ref[4]) << "path " << m;
    for (std::size_t c = 0; c < 4; ++c) worst_state = std::max(worst_state, std::abs(out[m][c] - ref[c]));
    worst_length = std::max(worst_length, std::abs(out[m][4] - ref[4]) / ref[4]);
    const auto tile = [&](double x, double y) {
      return std::pair{static_cast<int>(x / g.hx()) / 16, static_cast<int>(y / g.hy()) / 16};
    };
    tiles_crossed += tile(states[m][0], states[m][1]) != tile(ref[0], ref[1]);
  }
  std::printf("GPU vs CPU double: state %.2e, length %.2e (rel); %d of %zu left, %d changed tile\n", worst_state,
              worst_length, left, states.size(), tiles_crossed);
  EXPECT_GT(left, 5);            // the exit path is exercised
  EXPECT_LT(left, 40);           // and so is the full run
  EXPECT_GT(tiles_crossed, 30);  // and most paths end in another tile than they started
}

// --- errors --------------------------------------------------------------------------------

class GeodesicErrors : public Geodesics {
 protected:
  Tensor f32(std::vector<std::int64_t> shape, float value = 0.0f) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return unwrap(Tensor::from_values<float>(context(), DType::f32, shape,
                                             std::vector<float>(static_cast<std::size_t>(n), value)));
  }
  Error integrate_error(const Tensor& phi, const Extent& e, const Tensor& states, std::uint32_t steps, double dt) {
    auto r = geodesic().integrate(phi, e, states, steps, dt);
    EXPECT_FALSE(r.has_value());
    return r ? Error(ErrorCode::internal, "no error") : r.error();
  }
};

TEST_F(GeodesicErrors, PhiThatIsNotF32IsRefused) {
  auto phi = unwrap(Tensor::create(context(), DType::f16, {4, 4}));
  const Error e = integrate_error(phi, {}, f32({1, 4}), 1, 0.1);
  EXPECT_EQ(e.code(), ErrorCode::type_mismatch);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("phi must be f32"));
}

TEST_F(GeodesicErrors, PhiThatIsNotTwoDimensionalIsRefused) {
  const Error e = integrate_error(f32({4, 4, 2}), {}, f32({1, 4}), 1, 0.1);
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("2-D grid [ny, nx], got rank 3"));
}

TEST_F(GeodesicErrors, GridSmallerThanTwoByTwoIsRefused) {
  const Error e = integrate_error(f32({1, 8}), {}, f32({1, 4}), 1, 0.1);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("at least 2x2"));
}

TEST_F(GeodesicErrors, StatesThatAreNotMByFourAreRefused) {
  EXPECT_THAT(integrate_error(f32({4, 4}), {}, f32({3, 5}), 1, 0.1).what(), ::testing::HasSubstr("[M, 4]"));
  auto ints = unwrap(Tensor::create(context(), DType::i32, {3, 4}));
  const Error e = integrate_error(f32({4, 4}), {}, ints, 1, 0.1);
  EXPECT_EQ(e.code(), ErrorCode::type_mismatch);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("states must be f32"));
}

TEST_F(GeodesicErrors, ZeroStepsAreRefused) {
  EXPECT_THAT(integrate_error(f32({4, 4}), {}, f32({1, 4}), 0, 0.1).what(),
              ::testing::HasSubstr("steps must be at least 1"));
}

TEST_F(GeodesicErrors, NonPositiveOrNonFiniteDtIsRefused) {
  for (const double dt : {0.0, -0.1, std::nan("")})
    EXPECT_THAT(integrate_error(f32({4, 4}), {}, f32({1, 4}), 1, dt).what(),
                ::testing::HasSubstr("dt must be positive and finite")) << dt;
}

TEST_F(GeodesicErrors, EmptyOrInvertedExtentIsRefused) {
  EXPECT_THAT(integrate_error(f32({4, 4}), Extent{1, 0, 1, 1}, f32({1, 4}), 1, 0.1).what(),
              ::testing::HasSubstr("x0 < x1, got x0 = 1, x1 = 1"));
  EXPECT_THAT(integrate_error(f32({4, 4}), Extent{0, 2, 1, 1}, f32({1, 4}), 1, 0.1).what(),
              ::testing::HasSubstr("y0 < y1, got y0 = 2, y1 = 1"));
  EXPECT_THAT(integrate_error(f32({4, 4}), Extent{0, 0, INFINITY, 1}, f32({1, 4}), 1, 0.1).what(),
              ::testing::HasSubstr("not finite"));
}

TEST_F(GeodesicErrors, NanInPhiIsRefusedNamingTheNode) {
  std::vector<float> values(6 * 40, 0.5f);
  values[3 * 40 + 17] = std::nanf("");
  values[5 * 40 + 2] = INFINITY;
  auto phi = unwrap(Tensor::from_values<float>(context(), DType::f32, {6, 40}, values));
  const Error e = integrate_error(phi, {}, f32({2, 4}, 0.5f), 1, 0.1);
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("phi must be finite everywhere, but phi[3, 17] = nan"));
  auto c = geodesic().connection(phi, {});
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().what(), ::testing::HasSubstr("phi[3, 17]"));
}

TEST_F(Geodesics, NoStatesGiveAnEmptyResult) {
  const Grid g = sample_grid(4, 4, Extent{}, [](double, double) { return 0.0; });
  auto phi = unwrap(Tensor::from_values<float>(context(), DType::f32, {4, 4}, g.phi));
  auto states = unwrap(Tensor::create(context(), DType::f32, {0, 4}));
  auto result = unwrap(geodesic().integrate(phi, g.extent, states, 5, 0.1));
  EXPECT_EQ(result.out.shape(), (std::vector<std::int64_t>{0, 6}));
}

// --- plumbing ------------------------------------------------------------------------------

TEST(GeodesicBindgen, GeneratedLayoutsMatchTheReflection) {
  namespace conn = plugin_gen::geodesic::connection;
  namespace integ = plugin_gen::geodesic::integrate;
  auto c = unwrap(reflect(conn::spirv()));
  ASSERT_TRUE(c.push_constants);
  EXPECT_EQ(sizeof(conn::PushConstants), c.push_constants->size);
  auto i = unwrap(reflect(integ::spirv()));
  ASSERT_TRUE(i.push_constants);
  EXPECT_EQ(sizeof(integ::PushConstants), i.push_constants->size);
  EXPECT_EQ(offsetof(integ::PushConstants, dt), i.push_constants->find("dt")->offset);
  EXPECT_EQ(i.bindings.size(), 3u);
}

TEST(GeodesicPlugin, RegistersTheGeodesicOpAndBothKernels) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_geodesic_entry()).has_value());
  const Plugin* plugin = registry.find("geodesic");
  ASSERT_NE(plugin, nullptr);
  EXPECT_NE(plugin->find_kernel("connection"), nullptr);
  EXPECT_NE(plugin->find_kernel("integrate"), nullptr);
  EXPECT_NE(registry.find_op("geodesic"), nullptr);
}

}  // namespace
}  // namespace aat::geodesic
