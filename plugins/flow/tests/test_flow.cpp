// The flow plugin's suite: each test one behaviour, its tolerance stated and justified.
#include "aat/flow/flow.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>

#include "aat/plugin.hpp"
#include "device_test.hpp"
#include "flow/curvature.bindings.hpp"
#include "flow/flow_step.bindings.hpp"
#include "reference.hpp"

extern "C" const aat_plugin_descriptor* aat_plugin_flow_entry(void);

namespace aat::flow {
namespace {

using testing::unwrap;
constexpr double kPi = std::numbers::pi;

struct Field {
  std::int64_t ny, nx;
  double h;
  std::vector<double> phi;  // what the device gets, rounded to f32
  reference::Grid grid(Boundary b) const { return {ny, nx, h, b == Boundary::periodic}; }
  std::vector<float> f32() const { return {phi.begin(), phi.end()}; }
};

// phi(i, j) sampled from a function of the node's indices, stored rounded to f32.
Field make_field(std::int64_t ny, std::int64_t nx, double h, const std::function<double(double, double)>& f) {
  Field field{ny, nx, h, {}};
  for (std::int64_t i = 0; i < ny; ++i)
    for (std::int64_t j = 0; j < nx; ++j)
      field.phi.push_back(static_cast<float>(f(static_cast<double>(i), static_cast<double>(j))));
  return field;
}

// A smooth bump pattern, periodic on the ny x nx torus, phi within about [-0.45, 0.45].
Field wavy(std::int64_t ny, std::int64_t nx, double h) {
  return make_field(ny, nx, h, [=](double i, double j) {
    const double x = 2 * kPi * j / static_cast<double>(nx), y = 2 * kPi * i / static_cast<double>(ny);
    return 0.3 * std::sin(x) * std::cos(y) + 0.15 * std::sin(2 * x + 1.0) - 0.1 * std::cos(3 * y);
  });
}

double variance(const std::vector<double>& v) {
  double mean = 0, sq = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return sq / static_cast<double>(v.size());
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t n = 0; n < a.size(); ++n) m = std::max(m, std::abs(a[n] - b[n]));
  return m;
}

class RicciFlow : public testing::DeviceTest {
 protected:
  Flow& flow() {
    if (!flow_) flow_ = unwrap(Flow::create(context()));
    return *flow_;
  }
  Tensor upload(const Field& f) {
    return unwrap(Tensor::from_values<float>(context(), DType::f32, {f.ny, f.nx}, f.f32()));
  }
  static std::vector<double> download(const Tensor& t) {
    const auto v = unwrap(t.download_values<float>());
    return {v.begin(), v.end()};
  }
  // Evolves and returns phi; `result` receives the rest.
  std::vector<double> evolve(const Field& f, std::uint32_t steps, double dt, Boundary b, FlowResult* result = nullptr) {
    auto r = unwrap(flow().evolve(upload(f), f.h, steps, dt, b));
    auto phi = download(r.phi);
    if (result) *result = std::move(r);
    return phi;
  }
  double stable(const Field& f) {
    double lo = f.phi[0];
    for (double p : f.phi) lo = std::min(lo, p);
    return stable_dt(f.h, lo);
  }

 private:
  std::optional<Flow> flow_;
};

// --- fixed points and conservation ----------------------------------------------------------

// The Laplacian of a constant is exactly 0, so u never changes; phi comes back through
// e^{2 phi} and log(u) / 2 in f32: within 2 ulp of |phi| <= 2 (5e-7).
TEST_F(RicciFlow, ConstantPhiIsAFixedPointOnBothBoundaries) {
  for (const double c : {0.0, 0.7, -1.3})
    for (const Boundary b : {Boundary::periodic, Boundary::neumann}) {
      const Field f = make_field(20, 33, 0.1, [=](double, double) { return c; });
      const auto out = evolve(f, 50, stable(f), b);
      for (double p : out) ASSERT_NEAR(p, c, 5e-7) << "c = " << c << ", " << to_string(b);
    }
}

// sum(u) h^2 is conserved exactly in exact arithmetic: every difference u_j - u_i leaves one
// node and enters its neighbour (on the torus, and through no edge with zero flux). What is
// left is f32 rounding: ~6e-8 relative per node and step with random sign, plus the
// e^{2 phi} / log round trips. Tolerance 1e-6 relative after 1000 steps.
TEST_F(RicciFlow, AreaIsConservedToRoundingOnTheTorusAndWithNeumannEdges) {
  const Field f = wavy(40, 36, 0.05);
  for (const Boundary b : {Boundary::periodic, Boundary::neumann}) {
    const double before = reference::area(f.phi, f.grid(b));
    const auto out = evolve(f, 1000, stable(f), b);
    const double after = reference::area(out, f.grid(b));
    const double change = std::abs(after - before) / before;
    std::printf("%s: area %.9f -> %.9f, relative change %.2e after 1000 steps\n", std::string(to_string(b)).c_str(),
                before, after, change);
    EXPECT_LE(change, 1e-6) << to_string(b);
  }
}

// On the torus the flow tends to a flat metric: phi tends to a constant. The variance of phi
// falls at every checkpoint and, by t = 2000 bound-sized steps (~0.46), below 1% of the start.
TEST_F(RicciFlow, OnTheTorusTheVarianceOfPhiDecreasesTowardZero) {
  Field f = wavy(40, 36, 0.05);
  const double dt = stable(f);
  const double start = variance(f.phi);
  double previous = start;
  for (int checkpoint = 0; checkpoint < 8; ++checkpoint) {
    f.phi = evolve(f, 250, dt, Boundary::periodic);
    const double now = variance(f.phi);
    EXPECT_LT(now, previous) << "checkpoint " << checkpoint;
    previous = now;
  }
  std::printf("variance of phi %.3e -> %.3e (ratio %.2e)\n", start, previous, previous / start);
  EXPECT_LT(previous, 0.01 * start);
}

// max |K| is checked every 100 steps (continuing from the f32 output each time) and may not
// exceed the previous value by more than f32 noise in K (1e-5 relative: K is a second
// difference of phi over h^2).
TEST_F(RicciFlow, MaxCurvatureDoesNotGrow) {
  for (const Boundary b : {Boundary::periodic, Boundary::neumann}) {
    Field f = wavy(40, 36, 0.05);
    const double dt = stable(f);
    double previous = max_abs(download(unwrap(flow().curvature(upload(f), f.h, b))));
    const double start = previous;
    for (int checkpoint = 0; checkpoint < 6; ++checkpoint) {
      f.phi = evolve(f, 100, dt, b);
      const double now = max_abs(download(unwrap(flow().curvature(upload(f), f.h, b))));
      EXPECT_LE(now, previous * (1 + 1e-5)) << to_string(b) << " checkpoint " << checkpoint;
      previous = now;
    }
    std::printf("%s: max|K| %.4f -> %.4f over 600 steps\n", std::string(to_string(b)).c_str(), start, previous);
  }
}

// --- tiles against the single-piece reference ------------------------------------------------

// A 45 x 70 grid is 3 x 5 tiles, the last row and column partial; 300 steps cross a
// submission boundary (256 steps each). Against the CPU reference on the whole grid at once,
// in double: f32 rounding of u (~6e-8 per step, damped by the diffusion) and of the final log
// keep phi within 2e-6 (measured 1.4e-7).
TEST_F(RicciFlow, MultiTileResultEqualsASingleTileCpuReference) {
  const Field f = wavy(45, 70, 0.04);
  const double dt = 0.9 * stable(f);
  for (const Boundary b : {Boundary::periodic, Boundary::neumann}) {
    const auto gpu = evolve(f, 300, dt, b);
    const auto ref = reference::evolve(f.phi, f.grid(b), 300, dt);
    const double diff = max_diff(gpu, ref);
    std::printf("%s: multi-tile vs CPU reference, max |phi difference| %.2e\n", std::string(to_string(b)).c_str(), diff);
    EXPECT_LE(diff, 2e-6) << to_string(b);
    EXPECT_GT(max_diff(ref, f.phi), 1e-2);  // and the flow did move phi
  }
}

// K against the reference on a multi-tile grid. K is a second difference over h^2 of f32 phi:
// rounding of ~1 ulp of phi (6e-8) over h^2 = 1.6e-3, times 8 terms: tolerance 5e-4.
TEST_F(RicciFlow, CurvatureMatchesTheCpuReferenceOnEveryTile) {
  const Field f = wavy(45, 70, 0.04);
  for (const Boundary b : {Boundary::periodic, Boundary::neumann}) {
    const auto gpu = download(unwrap(flow().curvature(upload(f), f.h, b)));
    const auto ref = reference::curvature(f.phi, f.grid(b));
    EXPECT_LE(max_diff(gpu, ref), 5e-4) << to_string(b);
    EXPECT_GT(max_abs(ref), 1.0);
  }
}

// The round sphere seen through stereographic projection: phi = ln(2 / (1 + |x|^2)) has
// K = 1. The 5-point Laplacian errs by (h^2 / 12)(phi_xxxx + phi_yyyy) ~ 2 h^2 (times
// e^{-2 phi} <= 1 on the unit square), so on interior nodes |K - 1| <= 4 h^2 + f32 rounding
// (1e-4); the edge nodes see the Neumann ghost, not the sphere, and are skipped.
TEST_F(RicciFlow, CurvatureOfTheStereographicSphereIsOne) {
  const std::int64_t n = 65;
  const double h = 2.0 / static_cast<double>(n - 1);
  const Field f = make_field(n, n, h, [=](double i, double j) {
    const double x = -1 + j * h, y = -1 + i * h;
    return std::log(2 / (1 + x * x + y * y));
  });
  const auto k = download(unwrap(flow().curvature(upload(f), h, Boundary::neumann)));
  double worst = 0;
  for (std::int64_t i = 1; i + 1 < n; ++i)
    for (std::int64_t j = 1; j + 1 < n; ++j) worst = std::max(worst, std::abs(k[static_cast<std::size_t>(i * n + j)] - 1));
  std::printf("stereographic sphere: max |K - 1| = %.2e on interior nodes (h^2 = %.2e)\n", worst, h * h);
  EXPECT_LE(worst, 4 * h * h + 1e-4);
}

// --- the stability bound ---------------------------------------------------------------------

// dt = 3.5 x the bound: taken as 4 sub-steps of dt / 4, exactly what 4x the steps of dt / 4
// give, and matching the reference. The same dt without sub-steps makes the explicit scheme
// blow up within 100 steps (shown on the reference), which is why the bound is enforced.
TEST_F(RicciFlow, DtAboveTheStabilityBoundIsSplitIntoSubSteps) {
  const Field f = wavy(40, 36, 0.05);
  const double bound = stable(f);
  FlowResult big, small;
  const auto stepped = evolve(f, 30, 3.5 * bound, Boundary::periodic, &big);
  EXPECT_EQ(big.substeps, 4u);
  EXPECT_DOUBLE_EQ(big.dt_substep, 3.5 * bound / 4);
  EXPECT_NEAR(big.stable_dt, bound, 1e-12);
  const auto fine = evolve(f, 120, 3.5 * bound / 4, Boundary::periodic, &small);
  EXPECT_EQ(small.substeps, 1u);
  EXPECT_EQ(stepped, fine);
  EXPECT_LE(max_diff(stepped, reference::evolve(f.phi, f.grid(Boundary::periodic), 120, 3.5 * bound / 4)), 1e-5);
  const auto unstable = reference::evolve(f.phi, f.grid(Boundary::periodic), 100, 3.5 * bound);
  const bool blew_up = std::any_of(unstable.begin(), unstable.end(), [&](double p) {
    return !std::isfinite(p) || std::abs(p) > 10 * max_abs(f.phi);
  });
  EXPECT_TRUE(blew_up);
}

TEST_F(RicciFlow, DtAtTheStabilityBoundTakesNoSubSteps) {
  const Field f = wavy(20, 20, 0.1);
  FlowResult r;
  evolve(f, 3, stable(f), Boundary::neumann, &r);
  EXPECT_EQ(r.substeps, 1u);
  evolve(f, 3, 1.01 * stable(f), Boundary::neumann, &r);
  EXPECT_EQ(r.substeps, 2u);
}

TEST_F(RicciFlow, SummaryGivesAreaAndMaxCurvature) {
  const Field f = wavy(45, 70, 0.04);
  const auto s = unwrap(flow().summarize(upload(f), f.h, Boundary::periodic));
  EXPECT_NEAR(s.area, reference::area(f.phi, f.grid(Boundary::periodic)), 1e-9 * s.area);
  EXPECT_NEAR(s.max_abs_curvature, max_abs(reference::curvature(f.phi, f.grid(Boundary::periodic))), 5e-4);
}

// --- errors ----------------------------------------------------------------------------------

class FlowErrors : public RicciFlow {
 protected:
  Tensor constant(std::vector<std::int64_t> shape, float value = 0.0f) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return unwrap(Tensor::from_values<float>(context(), DType::f32, shape,
                                             std::vector<float>(static_cast<std::size_t>(n), value)));
  }
  std::string evolve_error(const Tensor& phi, double h, std::uint32_t steps, double dt,
                           Boundary b = Boundary::periodic) {
    auto r = flow().evolve(phi, h, steps, dt, b);
    EXPECT_FALSE(r.has_value());
    return r ? "no error" : r.error().what();
  }
};

TEST_F(FlowErrors, PhiThatIsNotF32IsRefused) {
  auto phi = unwrap(Tensor::create(context(), DType::i32, {4, 4}));
  auto r = flow().evolve(phi, 0.1, 1, 1e-3, Boundary::periodic);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::type_mismatch);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("phi must be f32"));
}

TEST_F(FlowErrors, PhiThatIsNotTwoDimensionalIsRefused) {
  EXPECT_THAT(evolve_error(constant({16}), 0.1, 1, 1e-3), ::testing::HasSubstr("2-D grid [ny, nx], got rank 1"));
  EXPECT_THAT(flow().curvature(constant({2, 3, 4}), 0.1, Boundary::periodic).error().what(),
              ::testing::HasSubstr("got rank 3"));
}

TEST_F(FlowErrors, GridSmallerThanTwoByTwoIsRefused) {
  EXPECT_THAT(evolve_error(constant({5, 1}), 0.1, 1, 1e-3), ::testing::HasSubstr("at least 2x2"));
}

TEST_F(FlowErrors, NonPositiveSpacingIsRefused) {
  for (const double h : {0.0, -1.0, std::nan("")})
    EXPECT_THAT(evolve_error(constant({4, 4}), h, 1, 1e-3), ::testing::HasSubstr("spacing must be positive")) << h;
}

TEST_F(FlowErrors, ZeroStepsAreRefused) {
  EXPECT_THAT(evolve_error(constant({4, 4}), 0.1, 0, 1e-3), ::testing::HasSubstr("steps must be at least 1"));
}

TEST_F(FlowErrors, NonPositiveDtIsRefused) {
  for (const double dt : {0.0, -1e-3, std::numeric_limits<double>::infinity()})
    EXPECT_THAT(evolve_error(constant({4, 4}), 0.1, 1, dt), ::testing::HasSubstr("dt must be positive")) << dt;
}

TEST_F(FlowErrors, NanInPhiIsRefusedNamingTheNode) {
  std::vector<float> values(20 * 30, 0.1f);
  values[17 * 30 + 21] = std::nanf("");
  auto phi = unwrap(Tensor::from_values<float>(context(), DType::f32, {20, 30}, values));
  auto r = flow().evolve(phi, 0.1, 1, 1e-3, Boundary::neumann);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::invalid_argument);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("phi must be finite everywhere, but phi[17, 21] = nan"));
  EXPECT_THAT(flow().summarize(phi, 0.1, Boundary::neumann).error().what(), ::testing::HasSubstr("phi[17, 21]"));
}

TEST_F(FlowErrors, PhiWhoseExponentialOverflowsIsRefused) {
  EXPECT_THAT(evolve_error(constant({4, 4}, 45.0f), 0.1, 1, 1e-3), ::testing::HasSubstr("within [-40, 40]"));
}

TEST_F(FlowErrors, DtNeedingTooManySubStepsIsRefused) {
  // h = 1e-3, phi = -5: the bound is 1e-6 e^-10 / 4 ~ 1.1e-11; dt = 1 would need ~1e11 sub-steps.
  EXPECT_THAT(evolve_error(constant({4, 4}, -5.0f), 1e-3, 1, 1.0), ::testing::HasSubstr("explicit sub-steps"));
}

TEST(FlowBoundary, ParsesPeriodicAndNeumannAndNamesAnythingElse) {
  EXPECT_EQ(parse_boundary("periodic").value(), Boundary::periodic);
  EXPECT_EQ(parse_boundary("neumann").value(), Boundary::neumann);
  auto r = parse_boundary("dirichlet");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("'periodic' or 'neumann', got 'dirichlet'"));
}

// --- plumbing --------------------------------------------------------------------------------

TEST(FlowBindgen, GeneratedLayoutsMatchTheReflection) {
  namespace step = plugin_gen::flow::flow_step;
  namespace curv = plugin_gen::flow::curvature;
  auto s = unwrap(reflect(step::spirv()));
  ASSERT_TRUE(s.push_constants);
  EXPECT_EQ(sizeof(step::PushConstants), s.push_constants->size);
  EXPECT_EQ(offsetof(step::PushConstants, rate), s.push_constants->find("rate")->offset);
  auto c = unwrap(reflect(curv::spirv()));
  ASSERT_TRUE(c.push_constants);
  EXPECT_EQ(sizeof(curv::PushConstants), c.push_constants->size);
}

TEST(FlowPlugin, RegistersTheFlowOpAndItsKernels) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_flow_entry()).has_value());
  const Plugin* plugin = registry.find("flow");
  ASSERT_NE(plugin, nullptr);
  for (const char* kernel : {"prepare", "flow_step", "finish", "curvature"})
    EXPECT_NE(plugin->find_kernel(kernel), nullptr) << kernel;
  EXPECT_NE(registry.find_op("flow"), nullptr);
}

}  // namespace
}  // namespace aat::flow
