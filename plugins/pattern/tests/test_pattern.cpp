// The pattern kernels against the double-precision reference (reference.hpp), the reference
// against facts from the definition, and the map's contracts: masks, forced blocks, mass kept,
// monotonicity in `mass`, cost.
//
// Tolerances: densities are softmax weights (0..1) computed in f32 from f32 tile means of
// D <= 128 products: abs 2e-5 + rel 1e-4 (a few hundred f32 roundings at most; a wrong mask,
// mean or log n gives errors of order 1e-2 and more). Levels are compared exactly with the
// reference's levels computed from the GPU's own densities, except where the ranked mass
// before a block lies within 1e-5 of a threshold (the GPU sums it in f32); against the
// reference's levels from scratch a block may differ only where the reference's ranked mass
// lies within 1e-3 of a threshold (density errors shift the ranking sums).
#include "aat/pattern/pattern.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <limits>
#include <random>
#include <sstream>

#include "aat/pattern/synthetic.hpp"
#include "aat/plugin.hpp"
#include "device_test.hpp"
#include "pattern/pattern_map.bindings.hpp"
#include "map_case.hpp"
#include "reference.hpp"

extern "C" const aat_plugin_descriptor* aat_plugin_pattern_entry(void);

namespace aat::pattern {
namespace {

using aat::testing::unwrap;
namespace ref = reference;

constexpr double kDensityAbs = 2e-5, kDensityRel = 1e-4;

PatternOptions mass_rule() {
  PatternOptions o;
  o.mode = Mode::mass;
  return o;
}

struct Case : testing::MapCase {
  // The mass rule (the bound rule: test_pattern_bound.cpp).
  explicit Case(MapShape shape = {}) : MapCase(std::move(shape), mass_rule()) {}
  std::string name() const {
    std::ostringstream s;
    s << "B" << B << " Hq" << Hq << " Hkv" << Hkv << " Nq" << Nq << " Nk" << Nk << " D" << D << ' '
      << to_string(dtype) << (causal ? " causal" : "") << " Br" << options.block_q << " Bc" << options.block_k
      << " mass " << options.mass << " halo " << options.halo << ' ' << to_string(options.estimator);
    if (!lengths.empty()) {
      s << " len[";
      for (auto l : lengths) s << l << ',';
      s << ']';
    }
    return s.str();
  }
};

struct Inputs {
  std::vector<float> q, k;
};

// Gaussian inputs with a per-tile offset so block densities differ clearly (no near-ties).
Inputs make_inputs(const Case& c) {
  std::mt19937 rng(c.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Inputs in;
  in.q.resize(static_cast<std::size_t>(c.B * c.Hq * c.Nq * c.D));
  in.k.resize(static_cast<std::size_t>(c.B * c.Hkv * c.Nk * c.D));
  for (auto& x : in.q) x = normal(rng);
  std::vector<float> tile_bias(static_cast<std::size_t>((c.Nk / 4 + 1) * c.D));
  for (auto& x : tile_bias) x = 2.0f * normal(rng);
  for (std::size_t idx = 0; idx < in.k.size(); ++idx) {
    const auto row = static_cast<std::int64_t>(idx) / c.D % c.Nk;
    const auto d = static_cast<std::int64_t>(idx) % c.D;
    in.k[idx] = normal(rng) + tile_bias[static_cast<std::size_t>((row / c.options.block_k) * c.D + d)];
  }
  if (c.dtype == DType::f16) {
    in.q = from_half(to_half(in.q));
    in.k = from_half(to_half(in.k));
  }
  return in;
}

ref::Problem problem_for(const Case& c) {
  ref::Problem p = testing::problem_of(c);
  const auto t = thresholds(c.options);
  // The GPU compares against f32 thresholds.
  p.threshold_full = static_cast<float>(t.full);
  p.threshold_pool2 = static_cast<float>(t.pool2);
  p.threshold_pool4 = static_cast<float>(t.pool4);
  p.row_estimate = c.options.estimator == Estimator::row;
  p.variance = c.options.variance;
  p.variance_cap = static_cast<float>(c.options.variance_cap);
  return p;
}


struct GpuMap {
  std::vector<double> density;
  std::vector<std::uint8_t> levels;
  std::vector<std::int64_t> shape;
  MapCost cost;
  BlockGrid grid;
};

bool near_threshold(const ref::Problem& p, double before, double margin) {
  return std::abs(before - p.threshold_full) < margin || std::abs(before - p.threshold_pool2) < margin ||
         std::abs(before - p.threshold_pool4) < margin;
}

class PatternKernel : public testing::PatternTest {
 protected:

  GpuMap run(const Case& c, const Inputs& in) {
    const PatternResult result = testing::run_map(pattern(), context(), c, in.q, in.k, c.name());
    GpuMap m;
    const auto density = unwrap(result.map.density.download_values<float>());
    m.density.assign(density.begin(), density.end());
    m.levels = unwrap(result.map.levels.download_values<std::uint8_t>());
    m.shape = result.map.levels.shape();
    m.cost = result.cost;
    m.grid = result.map.grid;
    return m;
  }

  // Runs the case and checks densities and levels against the reference; returns the GPU map.
  GpuMap expect_matches_reference(const Case& c) {
    SCOPED_TRACE(c.name());
    const Inputs in = make_inputs(c);
    GpuMap gpu = run(c, in);
    const ref::Problem p = problem_for(c);
    const ref::Map want = ref::block_map(p, in.q, in.k);
    EXPECT_EQ(gpu.shape, (std::vector<std::int64_t>{c.B, c.Hq, p.tiles_q(), p.tiles_k()}));
    if (gpu.density.size() != want.density.size()) return gpu;
    std::size_t density_failures = 0, level_failures = 0, scratch_failures = 0;
    std::string first;
    const ref::Map from_gpu = ref::levels_from_density(p, gpu.density);
    for (std::size_t i = 0; i < want.density.size(); ++i) {
      const double err = std::abs(gpu.density[i] - want.density[i]);
      if (!(err <= kDensityAbs + kDensityRel * std::abs(want.density[i]))) {
        if (density_failures++ == 0)
          first = "density[" + std::to_string(i) + "] got " + std::to_string(gpu.density[i]) + " want " +
                  std::to_string(want.density[i]);
      }
      if (gpu.levels[i] != from_gpu.levels[i] && !near_threshold(p, from_gpu.before[i], 1e-5)) {
        if (level_failures++ == 0)
          first += " level[" + std::to_string(i) + "] got " + std::to_string(gpu.levels[i]) + " want " +
                   std::to_string(from_gpu.levels[i]) + " (before " + std::to_string(from_gpu.before[i]) + ")";
      }
      if (gpu.levels[i] != want.levels[i] && !near_threshold(p, want.before[i], 1e-3)) ++scratch_failures;
    }
    EXPECT_EQ(density_failures, 0u) << first;
    EXPECT_EQ(level_failures, 0u) << first;
    EXPECT_EQ(scratch_failures, 0u) << "levels differ from the reference computed from scratch";
    return gpu;
  }
};

// =============================================================================================
// The reference against the definition.

// With identical queries within each query tile and identical keys within each key tile,
// every score in a block is the same, so the pooled estimate is the block's exact mass.
TEST(PatternReferenceSelfCheck, ConstantTilesGiveTheExactBlockMass) {
  ref::Problem p{.q_len = 64, .kv_len = 96, .head_dim = 8, .causal = true, .block_q = 16, .block_k = 32};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> q(static_cast<std::size_t>(p.q_len * p.head_dim)), k(static_cast<std::size_t>(p.kv_len * p.head_dim));
  std::vector<float> tq(static_cast<std::size_t>(4 * 8)), tk(static_cast<std::size_t>(3 * 8));
  for (auto& x : tq) x = normal(rng);
  for (auto& x : tk) x = normal(rng);
  for (std::int64_t a = 0; a < p.q_len; ++a)
    for (std::int64_t d = 0; d < 8; ++d) q[static_cast<std::size_t>(a * 8 + d)] = tq[static_cast<std::size_t>((a / 16) * 8 + d)];
  for (std::int64_t j = 0; j < p.kv_len; ++j)
    for (std::int64_t d = 0; d < 8; ++d) k[static_cast<std::size_t>(j * 8 + d)] = tk[static_cast<std::size_t>((j / 32) * 8 + d)];
  // Non-causal: every row of a tile sees the same keys, so the mean of row masses is the block mass.
  p.causal = false;
  const auto map = ref::block_map(p, q, k);
  const auto exact = ref::exact_block_mass(p, q, k);
  for (std::size_t i = 0; i < exact.size(); ++i) EXPECT_NEAR(map.density[i], exact[i], 1e-12) << i;
}

TEST(PatternReferenceSelfCheck, DensitiesOfEachRowTileSumToOne) {
  ref::Problem p{.batch = 2, .q_len = 70, .kv_len = 150, .head_dim = 8, .causal = true, .key_lengths = {150, 60},
      .block_q = 16, .block_k = 32};
  std::mt19937 rng(4);
  std::normal_distribution<float> normal;
  std::vector<float> q(static_cast<std::size_t>(2 * 70 * 8)), k(static_cast<std::size_t>(2 * 150 * 8));
  for (auto& x : q) x = normal(rng);
  for (auto& x : k) x = normal(rng);
  const auto map = ref::block_map(p, q, k);
  for (std::int64_t row = 0; row < 2 * p.tiles_q(); ++row) {
    double sum = 0;
    for (std::int64_t j = 0; j < p.tiles_k(); ++j) sum += map.density[static_cast<std::size_t>(row * p.tiles_k() + j)];
    EXPECT_NEAR(sum, 1.0, 1e-12) << "row tile " << row;
  }
}

TEST(PatternReferenceSelfCheck, BruteForceVisibilityMatchesTheHostGrid) {
  for (bool causal : {false, true})
    for (auto [nq, nk] : {std::pair{70, 150}, {150, 70}, {64, 64}}) {
      ref::Problem p{.batch = 2, .q_len = nq, .kv_len = nk, .causal = causal, .key_lengths = {nk, nk / 3},
          .block_q = 16, .block_k = 24};
      attention::AttentionShape s;
      s.batch = 2;
      s.q_len = nq;
      s.kv_len = nk;
      s.causal = causal;
      const auto grid = BlockGrid::make(s, 16, 24, p.key_lengths);
      for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t i = 0; i < p.tiles_q(); ++i)
          for (std::int64_t j = 0; j < p.tiles_k(); ++j) {
            EXPECT_EQ(static_cast<int>(grid.visibility(b, i, j)), static_cast<int>(ref::visibility(p, b, i, j)));
            EXPECT_EQ(grid.visible_pairs(b, i, j), ref::visible_pairs(p, b, i, j));
          }
    }
}

// =============================================================================================
// The GPU map against the reference.

TEST_F(PatternKernel, MatchesTheReferenceUnmasked) {
  Case c({.Nq = 96, .Nk = 320});
  c.options.block_q = 16;
  c.options.block_k = 32;
  c.options.mass = 0.8;
  expect_matches_reference(c);
  c.options.variance_cap = 0.3;  // binding for most blocks
  expect_matches_reference(c);
  c.options.query_group = 1;  // every query row
  expect_matches_reference(c);
}

TEST_F(PatternKernel, MatchesTheReferenceCausalGqaF16) {
  Case c({.B = 2, .Hq = 4, .Hkv = 2, .Nq = 200, .Nk = 200, .D = 64, .dtype = DType::f16, .causal = true});
  c.options.mass = 0.7;
  expect_matches_reference(c);
}

TEST_F(PatternKernel, MatchesTheReferenceWithLengthsAndRaggedTiles) {
  Case c({.B = 3, .Nq = 77, .Nk = 301, .D = 16, .causal = true, .lengths = {301, 0, 130}});
  c.options.block_q = 16;
  c.options.block_k = 20;
  c.options.mass = 0.6;
  c.options.pool2_share = 0.3;
  c.options.pool4_share = 0.3;
  expect_matches_reference(c);
}

TEST_F(PatternKernel, MatchesTheReferenceTileEstimator) {
  Case c({.B = 2, .Nq = 150, .Nk = 420, .causal = true, .lengths = {420, 200}});
  c.options.estimator = Estimator::tile;
  c.options.variance = false;  // the formula
  c.options.mass = 0.7;
  c.options.halo = 0;
  expect_matches_reference(c);
}

TEST_F(PatternKernel, MatchesTheReferenceWithAWideHaloWithoutVariance) {
  Case c({.Nq = 64, .Nk = 1200});
  c.options.variance = false;
  c.options.block_k = 16;
  c.options.mass = 0.5;
  c.options.halo = 3;
  expect_matches_reference(c);
}

TEST_F(PatternKernel, MatchesTheReferenceDecodeShape) {
  Case c({.Hq = 8, .Hkv = 1, .Nq = 1, .Nk = 1000, .D = 32, .causal = true});
  c.options.mass = 0.5;
  expect_matches_reference(c);
}

// =============================================================================================
// Contracts of the map.

TEST_F(PatternKernel, MaskedBlocksAreExactlyTheInvisibleOnes) {
  Case c({.B = 2, .Nq = 130});
  c.Nk = 70;  // causal with Nq > Nk: the first query tiles see nothing
  c.causal = true;
  c.lengths = {70, 33};
  c.options.block_q = 16;
  c.options.block_k = 16;
  c.options.mass = 0.3;
  const GpuMap gpu = run(c, make_inputs(c));
  const auto p = problem_for(c);
  for (std::int64_t b = 0; b < c.B; ++b)
    for (std::int64_t i = 0; i < p.tiles_q(); ++i)
      for (std::int64_t j = 0; j < p.tiles_k(); ++j) {
        const auto at = static_cast<std::size_t>((b * p.tiles_q() + i) * p.tiles_k() + j);
        const auto vis = ref::visibility(p, b, i, j);
        SCOPED_TRACE(::testing::Message() << "block b" << b << " i" << i << " j" << j);
        if (vis == ref::Visible::masked) {
          EXPECT_EQ(gpu.levels[at], 4);
          EXPECT_EQ(gpu.density[at], 0.0);
        } else {
          EXPECT_LT(gpu.levels[at], 4);
          EXPECT_GT(gpu.density[at], 0.0);
        }
        if (vis == ref::Visible::partial) {
          EXPECT_TRUE(gpu.levels[at] == 0 || gpu.levels[at] == 3) << "partial pooled";
        }
      }
}

TEST_F(PatternKernel, ZeroKeyLengthMasksEverything) {
  Case c({.B = 2, .lengths = {0, 128}});
  const GpuMap gpu = run(c, make_inputs(c));
  const auto p = problem_for(c);
  const auto per_batch = static_cast<std::size_t>(p.tiles_q() * p.tiles_k());
  for (std::size_t i = 0; i < per_batch; ++i) EXPECT_EQ(gpu.levels[i], 4);
  for (std::size_t i = per_batch; i < 2 * per_batch; ++i) EXPECT_LT(gpu.levels[i], 4);
  EXPECT_EQ(gpu.cost.levels.blocks[4], static_cast<std::int64_t>(per_batch));
}

TEST_F(PatternKernel, SinkAndDiagonalStayFullAtZeroMass) {
  Case c({.Nq = 512, .Nk = 512, .causal = true});
  c.options.mass = 0.0;
  c.options.pool2_share = 0.0;
  c.options.pool4_share = 0.0;
  c.options.local_window = 0;
  const GpuMap gpu = run(c, make_inputs(c));
  const auto p = problem_for(c);
  for (std::int64_t i = 0; i < p.tiles_q(); ++i) {
    const std::int64_t diagonal = (i * 32 + 31) / 64;  // key tile holding the tile's last row's diagonal
    for (std::int64_t j = 0; j < p.tiles_k(); ++j) {
      const auto level = gpu.levels[static_cast<std::size_t>(i * p.tiles_k() + j)];
      if (j == 0 || j == diagonal || j == (i * 32) / 64) {
        EXPECT_EQ(level, 0) << "i" << i << " j" << j;
      } else if (j < diagonal) {
        EXPECT_EQ(level, 3) << "i" << i << " j" << j;
      } else {
        EXPECT_EQ(level, 4) << "i" << i << " j" << j;
      }
    }
  }
}

// The blocks kept full hold at least `mass` of each row tile's estimated mass; the skipped ones
// at most 1 - threshold_pool4.
TEST_F(PatternKernel, KeepsTheRequestedMassAtFullResolution) {
  for (double mass : {0.5, 0.9, 0.99}) {
    Case c({.Nq = 256, .Nk = 1024});
    c.options.mass = mass;
    const GpuMap gpu = run(c, make_inputs(c));
    const auto t = thresholds(c.options);
    const auto p = problem_for(c);
    for (std::int64_t i = 0; i < p.tiles_q(); ++i) {
      double full = 0, skipped = 0;
      for (std::int64_t j = 0; j < p.tiles_k(); ++j) {
        const auto at = static_cast<std::size_t>(i * p.tiles_k() + j);
        if (gpu.levels[at] == 0) full += gpu.density[at];
        if (gpu.levels[at] == 3) skipped += gpu.density[at];
      }
      EXPECT_GE(full, mass - 1e-5) << "mass " << mass << " row tile " << i;
      EXPECT_LE(skipped, 1.0 - t.pool4 + 1e-5) << "mass " << mass << " row tile " << i;
    }
  }
}

// Raising `mass` never lowers a block's resolution, and never lowers the predicted cost.
TEST_F(PatternKernel, LevelsAreMonotoneInMass) {
  Case c({.B = 2, .Nq = 256, .Nk = 768, .causal = true});
  const Inputs in = make_inputs(c);
  std::vector<std::uint8_t> previous;
  double previous_flops = 0;
  for (double mass : {0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    c.options.mass = mass;
    const GpuMap gpu = run(c, in);
    if (!previous.empty()) {
      std::size_t lowered = 0;
      for (std::size_t i = 0; i < gpu.levels.size(); ++i) lowered += gpu.levels[i] > previous[i] ? 1 : 0;
      EXPECT_EQ(lowered, 0u) << "mass " << mass << " coarsened " << lowered << " block(s)";
      EXPECT_GE(gpu.cost.predicted_flops(), previous_flops) << "mass " << mass;
    }
    previous = gpu.levels;
    previous_flops = gpu.cost.predicted_flops();
  }
}

TEST_F(PatternKernel, MassOneKeepsEveryVisibleBlockFull) {
  Case c({.Nq = 200, .Nk = 300, .causal = true});
  c.options.mass = 1.0;
  const GpuMap gpu = run(c, make_inputs(c));
  for (auto level : gpu.levels) EXPECT_TRUE(level == 0 || level == 4);
  EXPECT_EQ(gpu.cost.attention_flops, gpu.cost.dense_flops);
  // Dense cost: 4 D per visible pair; causal with Nq < Nk: row i sees i + 101 keys.
  double pairs = 0;
  for (int i = 0; i < 200; ++i) pairs += i + 101;
  EXPECT_EQ(gpu.cost.dense_flops, 4.0 * 32 * pairs);
  // The row estimate with the variance term costs 2 x 7 D per (query row, visible key tile)
  // against 4 D per visible key: about 3.5 / Bc of the dense cost, plus the means (here, with
  // ragged tiles and ~250 keys per row, 7%).
  EXPECT_LT(gpu.cost.cer(), 1.0);
  EXPECT_GT(gpu.cost.cer(), 0.9);
}

// The halo keeps the key tiles beside a block ranked full at full resolution, and adds nothing else.
TEST_F(PatternKernel, HaloWidensBlocksRankedFull) {
  Case c({.Nq = 128, .Nk = 2048});
  c.options.mass = 0.6;
  c.options.local_window = 0;
  const Inputs in = make_inputs(c);
  c.options.halo = 0;
  const GpuMap bare = run(c, in);
  c.options.halo = 1;
  const GpuMap halo = run(c, in);
  const auto p = problem_for(c);
  std::size_t promoted = 0;
  for (std::int64_t i = 0; i < p.tiles_q(); ++i)
    for (std::int64_t j = 0; j < p.tiles_k(); ++j) {
      const auto at = static_cast<std::size_t>(i * p.tiles_k() + j);
      bool beside_ranked = false;
      for (std::int64_t n : {j - 1, j + 1}) {
        if (n < 0 || n >= p.tiles_k() || n == 0) continue;  // tile 0 is forced, not ranked
        const bool diagonal = n == (i * 32 + c.Nk - c.Nq) / 64;  // bottom-right aligned
        beside_ranked |= bare.levels[static_cast<std::size_t>(i * p.tiles_k() + n)] == 0 && !diagonal;
      }
      const int want = beside_ranked ? 0 : bare.levels[at];
      EXPECT_EQ(halo.levels[at], want) << "i" << i << " j" << j;
      promoted += halo.levels[at] != bare.levels[at] ? 1 : 0;
    }
  EXPECT_GT(promoted, 0u);
}

// A query tile a quarter of whose rows attend to a far key tile, while every row attends to a
// strong key tile too: the row estimate gives the far block its mass (a quarter of the rows'),
// the tile estimate (the tile's mean query) dilutes it.
TEST_F(PatternKernel, RowEstimateKeepsBlocksFewRowsAttendTo) {
  Case c({.Nq = 64, .Nk = 1024, .D = 32});
  c.options.mass = 0.8;
  c.options.halo = 0;
  c.options.local_window = 0;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  Inputs in{std::vector<float>(64 * 32), std::vector<float>(1024 * 32)};
  for (auto& x : in.q) x = normal(rng);
  for (auto& x : in.k) x = normal(rng);
  for (int a = 0; a < 64; ++a) in.q[static_cast<std::size_t>(a * 32 + 7)] = 5.0f;            // every row
  for (int key = 192; key < 256; ++key) in.k[static_cast<std::size_t>(key * 32 + 7)] = 5.0f;  // key tile 3
  for (int a = 40; a < 48; ++a) in.q[static_cast<std::size_t>(a * 32 + 5)] = 6.0f;            // rows 40..47 of tile 1
  for (int key = 640; key < 704; ++key) in.k[static_cast<std::size_t>(key * 32 + 5)] = 6.0f;  // key tile 10
  c.options.variance = false;
  const GpuMap row = run(c, in);
  c.options.estimator = Estimator::tile;
  const GpuMap tile = run(c, in);
  const auto at = static_cast<std::size_t>(1 * 16 + 10);
  EXPECT_EQ(row.levels[at], 0) << "density " << row.density[at];
  EXPECT_GT(row.density[at], 0.18);
  EXPECT_LT(tile.density[at], 0.5 * row.density[at]);
}

TEST_F(PatternKernel, NanInAQueryTileKeepsItsRowFull) {
  Case c({.Nq = 96, .Nk = 512});
  c.options.mass = 0.3;
  Inputs in = make_inputs(c);
  in.q[static_cast<std::size_t>(40 * c.D + 3)] = std::numeric_limits<float>::quiet_NaN();  // row 40: tile 1
  const GpuMap gpu = run(c, in);
  const auto p = problem_for(c);
  std::size_t coarse_elsewhere = 0;
  for (std::int64_t i = 0; i < p.tiles_q(); ++i)
    for (std::int64_t j = 0; j < p.tiles_k(); ++j) {
      const auto at = static_cast<std::size_t>(i * p.tiles_k() + j);
      if (i == 1) {
        EXPECT_EQ(gpu.levels[at], 0) << "j" << j;
        EXPECT_TRUE(std::isnan(gpu.density[at])) << "j" << j;
      } else {
        coarse_elsewhere += gpu.levels[at] != 0 ? 1 : 0;
      }
    }
  EXPECT_GT(coarse_elsewhere, 0u);
}

TEST_F(PatternKernel, FindsTheRetrievalPassagesOfStructuredInputs) {
  StructuredSpec spec;
  spec.length = 1024;
  spec.retrievals = 2;
  spec.seed = 5;
  const HostQkv in = structured_inputs(spec);
  Case c({.Nq = 1024, .Nk = 1024, .D = 64, .causal = true});
  c.options.mass = 0.99;
  const GpuMap structured = run(c, Inputs{in.q, in.k});
  // Every query tile lying wholly inside a retrieval span keeps the key tiles holding at least
  // half a tile of the passage full. (A tile holding a few passage keys among unrelated ones can
  // be missed: its mean score underestimates its log-sum-exp, docs/adaptive.md.)
  const auto p = problem_for(c);
  std::size_t checked = 0;
  for (std::int64_t r = 0; r < spec.retrievals; ++r) {
    std::int64_t key_first = -1, query_first = -1;
    for (std::int64_t t = 0; t < 1024; ++t) {
      if (key_first < 0 && in.k[static_cast<std::size_t>(t * 64 + 1 + r)] != 0.0f) key_first = t;
      if (query_first < 0 && in.q[static_cast<std::size_t>(t * 64 + 1 + r)] != 0.0f) query_first = t;
    }
    ASSERT_GE(key_first, 0);
    for (std::int64_t i = (query_first + 31) / 32; (i + 1) * 32 <= query_first + spec.retrieval_queries; ++i) {
      for (std::int64_t j = key_first / 64; j * 64 < key_first + spec.retrieval_keys; ++j) {
        const std::int64_t overlap = std::min((j + 1) * 64, key_first + spec.retrieval_keys) - std::max(j * 64, key_first);
        if (overlap < 32) continue;
        EXPECT_EQ(structured.levels[static_cast<std::size_t>(i * p.tiles_k() + j)], 0) << "r" << r << " i" << i << " j" << j;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0u);
  // Structure pays; Gaussian inputs of the same shape keep more.
  const HostQkv flat = gaussian_inputs(1, 1, 1024, 64, 5);
  const GpuMap gaussian = run(c, Inputs{flat.q, flat.k});
  EXPECT_GT(structured.cost.cer(), 1.3 * gaussian.cost.cer())
      << "structured CER " << structured.cost.cer() << ", gaussian CER " << gaussian.cost.cer();
  std::printf("  N=1024 causal mass 0.99: CER structured %.2f, gaussian %.2f\n", structured.cost.cer(), gaussian.cost.cer());
}

// =============================================================================================
// Pooling, options, plugin.

TEST_F(PatternKernel, PoolsMeansOfConsecutiveRowsBelowTheKeyLength) {
  const std::int64_t B = 2, H = 3, N = 37, D = 8;
  std::vector<float> x(static_cast<std::size_t>(B * H * N * D));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 101) * 0.25f - 7.0f;
  const std::vector<std::int32_t> lens{37, 10};
  Tensor tx = unwrap(Tensor::from_values<float>(context(), DType::f32, {B, H, N, D}, x));
  Tensor tl = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {B}, lens));
  Stream stream = unwrap(Stream::create(context()));
  Tensor pooled = unwrap(pattern().record_pool(stream, tx, 4, DType::f32, &tl));
  Tensor plain = unwrap(pattern().record_pool(stream, tx, 4, DType::f32));
  unwrap(stream.run());
  EXPECT_EQ(pooled.shape(), (std::vector<std::int64_t>{B, H, 10, D}));
  const auto got = unwrap(pooled.download_values<float>());
  const auto got_plain = unwrap(plain.download_values<float>());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < 10; ++t)
        for (std::int64_t d = 0; d < D; ++d) {
          auto mean = [&](std::int64_t limit) {
            double sum = 0;
            std::int64_t n = 0;
            for (std::int64_t r = t * 4; r < std::min<std::int64_t>(t * 4 + 4, limit); ++r, ++n)
              sum += x[static_cast<std::size_t>(((b * H + h) * N + r) * D + d)];
            return n ? sum / static_cast<double>(n) : 0.0;
          };
          const auto at = static_cast<std::size_t>(((b * H + h) * 10 + t) * D + d);
          EXPECT_NEAR(got[at], mean(lens[static_cast<std::size_t>(b)]), 1e-5);
          EXPECT_NEAR(got_plain[at], mean(N), 1e-5);
        }
}

TEST_F(PatternKernel, RejectsBadOptions) {
  Tensor q = unwrap(Tensor::create(context(), DType::f32, {1, 1, 64, 32}));
  PatternOptions o;
  o.block_k = 30;
  auto r = pattern().run(q, q, o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("block_k"));
  o = {};
  o.pool2_share = 0.8;
  o.pool4_share = 0.5;
  r = pattern().run(q, q, o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("pool2_share"));
  Tensor bad = unwrap(Tensor::create(context(), DType::f32, {1, 1, 64, 24}));
  r = pattern().run(q, bad, {});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("1x1x64x24"));
}

TEST(PatternThresholds, FollowTheShares) {
  PatternOptions o;
  o.mode = Mode::mass;
  o.mass = 0.9;
  o.pool2_share = 0.5;
  o.pool4_share = 0.25;
  const auto t = thresholds(o);
  EXPECT_DOUBLE_EQ(t.full, 0.9);
  EXPECT_DOUBLE_EQ(t.pool2, 0.95);
  EXPECT_DOUBLE_EQ(t.pool4, 0.975);
  EXPECT_FALSE(t.all_full);
  o.mass = 1.0;
  EXPECT_TRUE(thresholds(o).all_full);
  o.mode = Mode::bound;  // the bound rule's tails: epsilon, then its pooled shares
  o.epsilon = 0.02;
  const auto b = thresholds(o);
  EXPECT_DOUBLE_EQ(b.tail_pool2, 0.02);
  EXPECT_DOUBLE_EQ(b.tail_pool4, 0.01);
  EXPECT_DOUBLE_EQ(b.tail_skip, 0.005);
  EXPECT_FALSE(b.all_full);
  o.epsilon = 0.0;
  EXPECT_TRUE(thresholds(o).all_full);
}

TEST(PatternPlugin, LinksStaticallyWithItsKernelsAndCommands) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_pattern_entry()).has_value());
  const Plugin* plugin = registry.find("pattern");
  ASSERT_NE(plugin, nullptr);
  for (const char* kernel : {"pattern_map", "pattern_bound", "anchor_f32", "anchor_f16", "pool_f32", "pool_f16", "pool_f16_f32"})
    EXPECT_NE(plugin->find_kernel(kernel), nullptr) << kernel;
  EXPECT_NE(registry.find_command("pattern"), nullptr);
  EXPECT_NE(registry.find_command("attention-inputs"), nullptr);
  namespace gen = plugin_gen::pattern::pattern_map;
  const auto words = gen::spirv();
  auto interface = unwrap(reflect(words));
  ASSERT_TRUE(interface.push_constants);
  EXPECT_EQ(sizeof(gen::PushConstants), interface.push_constants->size);
}

}  // namespace
}  // namespace aat::pattern
