// The bound rule (pattern_bound.comp, anchor.glsl) against the double-precision reference
// (reference.hpp: bound_map, anchor_log_mass), the reference against the exact attention mass,
// and the rule's contracts: monotone in epsilon, epsilon 0 is exact, NaN, options.
//
// Tolerances: anchor log masses are log-sum-exps of f32 dot products over D <= 64 (abs 1e-4 +
// rel 1e-5 of the value). Upper shares u = exp(log U - log Z) span many orders of magnitude:
// compared as logs, abs 2e-3 (log U and log Z are f32 sums of a few logits of magnitude <= 30;
// a wrong mean, variance, n or anchor moves them by 1e-1 and more), where the reference's u is
// above 1e-30. Levels are compared exactly except where some group's tail share lies within a
// relative 1e-2 of a threshold (the GPU's f32 tail sums), and the halo neighbours of such blocks.
#include "aat/pattern/pattern.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "device_test.hpp"
#include "map_case.hpp"
#include "reference.hpp"
#include "synthetic_device.hpp"

namespace aat::pattern {
namespace {

using aat::testing::unwrap;
namespace ref = reference;

PatternOptions small_tiles() {  // the bound rule (the default) on 16 x 32 tiles
  PatternOptions o;
  o.block_q = 16;
  o.block_k = 32;
  return o;
}

struct BoundCase : testing::MapCase {
  explicit BoundCase(MapShape shape = {.Nk = 256}) : MapCase(std::move(shape), small_tiles()) {}
  std::string name() const {
    std::ostringstream s;
    s << "B" << B << " Hq" << Hq << " Hkv" << Hkv << " Nq" << Nq << " Nk" << Nk << " D" << D << ' ' << to_string(dtype)
      << (causal ? " causal" : "") << " Br" << options.block_q << " Bc" << options.block_k << " epsilon "
      << options.epsilon << " group " << query_group(options);
    return s.str();
  }
};

// Gaussian queries and keys with an offset per key tile and per run of 8 query rows, so that
// blocks differ clearly; query rows of a run differ a little (std 0.3), keys of a tile fully
// (std 1).
struct Inputs {
  std::vector<float> q, k;
};

Inputs make_inputs(const BoundCase& c) {
  std::mt19937 rng(c.seed);
  std::normal_distribution<float> normal;
  Inputs in;
  auto fill = [&](std::vector<float>& x, std::int64_t heads, std::int64_t n, std::int64_t run, float noise, float offset) {
    x.resize(static_cast<std::size_t>(c.B * heads * n * c.D));
    std::vector<float> bias(static_cast<std::size_t>((static_cast<std::int64_t>(x.size()) / c.D / run + 1) * c.D));
    for (auto& e : bias) e = offset * normal(rng);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto row = static_cast<std::int64_t>(i) / c.D, d = static_cast<std::int64_t>(i) % c.D;
      x[i] = noise * normal(rng) + bias[static_cast<std::size_t>((row / run) * c.D + d)];
    }
    if (c.dtype == DType::f16) x = from_half(to_half(x));
  };
  fill(in.q, c.Hq, c.Nq, 8, 0.3f, 1.0f);
  fill(in.k, c.Hkv, c.Nk, c.options.block_k, 1.0f, 2.0f);
  return in;
}

// `lanes`: the device's subgroup size, which orders tiles inside a binade (ref::Problem::rank_lanes).
ref::Problem problem_for(const BoundCase& c, std::uint32_t lanes) {
  ref::Problem p = testing::problem_of(c);
  p.rank_lanes = std::max<std::int64_t>(lanes, 1);
  const auto t = thresholds(c.options);
  p.bound = true;
  p.tail_pool2 = static_cast<float>(t.tail_pool2);  // the GPU compares against f32 thresholds
  p.tail_pool4 = static_cast<float>(t.tail_pool4);
  p.tail_skip = static_cast<float>(t.tail_skip);
  p.anchor_sinks = c.options.anchor_sinks;
  p.anchor_window = c.options.anchor_window;
  return p;
}


struct GpuMap {
  std::vector<float> density, anchor;
  std::vector<std::uint8_t> levels;
  MapCost cost;
};

class PatternBound : public testing::PatternTest {
 protected:

  GpuMap run(const BoundCase& c, const Inputs& in) {
    const PatternResult result = testing::run_map(pattern(), context(), c, in.q, in.k, c.name());
    GpuMap m;
    m.density = unwrap(result.map.density.download_values<float>());
    m.anchor = unwrap(result.map.anchor.download_values<float>());
    m.levels = unwrap(result.map.levels.download_values<std::uint8_t>());
    m.cost = result.cost;
    return m;
  }

  GpuMap expect_matches_reference(const BoundCase& c) { return expect_matches_reference(c, make_inputs(c)); }

  GpuMap expect_matches_reference(const BoundCase& c, const Inputs& in) {
    SCOPED_TRACE(c.name());
    const GpuMap gpu = run(c, in);
    const ref::Problem p = problem_for(c, context()->device().limits.subgroup_size);
    const auto anchor = ref::anchor_log_mass(p, in.q, in.k);
    const ref::Map want = ref::bound_map(p, in.q, in.k);
    EXPECT_EQ(gpu.anchor.size(), anchor.size());
    EXPECT_EQ(gpu.levels.size(), want.levels.size());
    if (gpu.anchor.size() != anchor.size() || gpu.levels.size() != want.levels.size()) return gpu;
    std::size_t bad_anchor = 0, bad_density = 0, bad_level = 0;
    std::string first;
    for (std::size_t r = 0; r < anchor.size(); ++r) {
      const double w = anchor[r], g = gpu.anchor[r];
      const bool ok = std::isnan(w) ? std::isnan(g) : std::isinf(w) ? g == w : std::abs(g - w) <= 1e-4 + 1e-5 * std::abs(w);
      if (!ok && bad_anchor++ == 0) first = "anchor[" + std::to_string(r) + "] got " + std::to_string(g) + " want " + std::to_string(w);
    }
    // Blocks near a threshold, and their halo neighbours, may differ.
    const std::int64_t tk = p.tiles_k();
    std::vector<bool> excused(want.levels.size(), false);
    for (std::size_t x = 0; x < want.levels.size(); ++x) {
      if (!(want.margin[x] < 1e-2)) continue;
      const auto j = static_cast<std::int64_t>(x) % tk;
      for (std::int64_t n = std::max<std::int64_t>(0, j - p.halo); n <= std::min(tk - 1, j + p.halo); ++n)
        excused[x - static_cast<std::size_t>(j) + static_cast<std::size_t>(n)] = true;
    }
    for (std::size_t x = 0; x < want.levels.size(); ++x) {
      const double w = want.density[x], g = gpu.density[x];
      const bool ok = std::isnan(w)   ? std::isnan(g)
                      : std::isinf(w) ? g == w
                      : w > 1e-30     ? g > 0 && std::abs(std::log(g) - std::log(w)) <= 2e-3
                                      : g < 1e-25;
      if (!ok && bad_density++ == 0)
        first += " density[" + std::to_string(x) + "] got " + std::to_string(g) + " want " + std::to_string(w);
      if (gpu.levels[x] != want.levels[x] && !excused[x] && bad_level++ == 0)
        first += " level[" + std::to_string(x) + "] got " + std::to_string(gpu.levels[x]) + " want " +
                 std::to_string(want.levels[x]) + " (margin " + std::to_string(want.margin[x]) + ")";
    }
    EXPECT_EQ(bad_anchor, 0u) << first;
    EXPECT_EQ(bad_density, 0u) << first;
    EXPECT_EQ(bad_level, 0u) << first;
    return gpu;
  }
};

int count(const std::vector<std::uint8_t>& levels, int level) {
  return static_cast<int>(std::count(levels.begin(), levels.end(), static_cast<std::uint8_t>(level)));
}

// =============================================================================================
// The reference against the definition and against exact attention.

TEST(PatternBoundReference, AnchorIsTheLogMassOfTheSinkAndWindowKeys) {
  ref::Problem p{.q_len = 3, .kv_len = 6, .head_dim = 1, .scale = 1.0};
  p.causal = true;  // row a sees keys 0 .. a + 3
  p.anchor_sinks = 1;
  p.anchor_window = 2;
  const std::vector<float> q{1.0f, 2.0f, -1.0f}, k{0.5f, 1.0f, -2.0f, 3.0f, 0.25f, 4.0f};
  const auto a = ref::anchor_log_mass(p, q, k);
  // Row 0 sees keys 0..3: anchors 0 and the window {2, 3}; row 2 sees 0..5: 0 and {4, 5}.
  EXPECT_NEAR(a[0], std::log(std::exp(0.5) + std::exp(-2.0) + std::exp(3.0)), 1e-12);
  EXPECT_NEAR(a[1], std::log(std::exp(1.0) + std::exp(6.0) + std::exp(0.5)), 1e-12);
  EXPECT_NEAR(a[2], std::log(std::exp(-0.5) + std::exp(-0.25) + std::exp(-4.0)), 1e-12);
  p.key_lengths = {2};  // only keys 0, 1: the window ends at the length
  p.anchor_window = 1;
  const auto b = ref::anchor_log_mass(p, q, k);
  EXPECT_NEAR(b[2], std::log(std::exp(-0.5) + std::exp(-1.0)), 1e-12);
}

// Where the model holds (independent Gaussian coordinates), the true share of each group's mass
// in the blocks the rule does not run at full resolution stays below epsilon, and in the skipped
// blocks below epsilon x (1 - pool shares): measured against exact attention's block masses.
TEST(PatternBoundReference, TheTrueMassLeftOutStaysUnderEpsilon) {
  for (std::uint32_t seed : {1u, 2u, 3u})
    for (double epsilon : {0.003, 0.03}) {
      BoundCase c({.Nq = 256, .Nk = 1024, .causal = true});
      c.seed = seed;
      c.options.epsilon = epsilon;
      c.options.halo = 0;
      c.options.query_group = 1u << (seed - 1);  // 1, 2, 4: the rows' spread term in groups
      const Inputs in = make_inputs(c);
      const ref::Problem p = problem_for(c, 32);  // any order in a binade keeps the bound
      const ref::Map map = ref::bound_map(p, in.q, in.k);
      int pooled_or_skipped = 0;
      for (auto l : map.levels) pooled_or_skipped += l == 1 || l == 2 || l == 3;
      EXPECT_GT(pooled_or_skipped, 0) << "nothing to test: seed " << seed;
      // Exact softmax masses per row and key tile.
      const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
      for (std::int64_t g0 = 0; g0 < c.Nq; g0 += p.query_group) {
        double total = 0, coarse = 0, skipped = 0;
        for (std::int64_t a = g0; a < g0 + p.query_group; ++a) {
          std::vector<double> s;
          for (std::int64_t j = 0; j <= a + c.Nk - c.Nq; ++j) {
            double dot = 0;
            for (std::int64_t d = 0; d < c.D; ++d)
              dot += static_cast<double>(in.q[static_cast<std::size_t>(a * c.D + d)]) * in.k[static_cast<std::size_t>(j * c.D + d)];
            s.push_back(scale * dot);
          }
          for (std::size_t j = 0; j < s.size(); ++j) {
            const double w = std::exp(s[j]);
            const auto level = map.levels[static_cast<std::size_t>((a / p.block_q) * p.tiles_k() + static_cast<std::int64_t>(j) / p.block_k)];
            total += w;
            coarse += level != 0 ? w : 0.0;
            skipped += level == 3 ? w : 0.0;
          }
        }
        EXPECT_LE(coarse / total, p.tail_pool2) << "seed " << seed << " epsilon " << epsilon << " group " << g0;
        EXPECT_LE(skipped / total, p.tail_skip) << "seed " << seed << " epsilon " << epsilon << " group " << g0;
      }
    }
}

// Cases the invocation kernel's tests and the tensor-core kernel's share.
BoundCase lengths_case() {  // key lengths (one empty batch), ragged tiles, uneven shares
  BoundCase c({.B = 3, .Nq = 77, .Nk = 301, .D = 16, .causal = true, .lengths = {301, 0, 130}});
  c.options.block_k = 20;
  c.options.epsilon = 0.1;
  c.options.pool2_share = 0.3;
  c.options.pool4_share = 0.3;
  return c;
}

BoundCase decode_case() {
  BoundCase c({.Hq = 8, .Hkv = 2, .Nq = 1, .Nk = 1000, .causal = true});
  return c;
}

// Rows of 256 alike key tiles: their u fall in few binades, so the drops are decided inside the
// pivot binade, by lane and slot, across several subgroup-wide slots of tiles. A map row per query row,
// no halo: the row's own drops show.
BoundCase many_tiles_case() {
  BoundCase c({.Hq = 2, .Hkv = 2, .Nq = 48, .Nk = 4096, .D = 32});
  c.options.block_q = 1;
  c.options.block_k = 16;
  c.options.halo = 0;
  c.options.epsilon = 0.3;
  return c;
}

Inputs many_tiles_inputs(const BoundCase& c) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  Inputs in;
  in.q.resize(static_cast<std::size_t>(c.Hq * c.Nq * c.D));
  for (auto& x : in.q) x = normal(rng);
  in.k.resize(static_cast<std::size_t>(c.Hkv * c.Nk * c.D));
  for (std::size_t x = 0; x < in.k.size(); ++x) {
    const std::size_t row = x / static_cast<std::size_t>(c.D);
    if (row % 16 == 0 && x % static_cast<std::size_t>(c.D) == 0) normal(rng);  // decorrelate the tiles' draws
    in.k[x] = normal(rng);
  }
  return in;
}

// =============================================================================================
// The GPU map against the reference.

TEST_F(PatternBound, MatchesTheReferenceUnmasked) {
  BoundCase c({.Nk = 640});
  c.options.epsilon = 0.05;
  const GpuMap gpu = expect_matches_reference(c);
  EXPECT_GT(count(gpu.levels, 3), 0);
  c.options.query_group = 4;  // groups of rows: the rows' spread term
  expect_matches_reference(c);
}

TEST_F(PatternBound, MatchesTheReferenceCausalGqaF16) {
  BoundCase c({.B = 2, .Hq = 4, .Hkv = 2, .Nq = 330, .Nk = 330, .D = 64, .dtype = DType::f16, .causal = true});
  c.options.epsilon = 0.2;
  c.options.query_group = 2;
  const GpuMap gpu = expect_matches_reference(c);
  EXPECT_GT(count(gpu.levels, 1) + count(gpu.levels, 2) + count(gpu.levels, 3), 0);
}

// Groups a pass that do not divide the tile's groups, and the map kernel dispatched in parts
// (its scratch bounded: a head per dispatch, or one query tile per dispatch), give the same map.
TEST_F(PatternBound, MatchesTheReferenceInPartsAndWithFewerGroupsAPass) {
  BoundCase c({.B = 2, .Hq = 4, .Hkv = 2, .Nq = 200, .Nk = 200, .causal = true});
  c.options.epsilon = 0.1;
  const GpuMap whole = expect_matches_reference(c);
  const std::uint64_t tiles_k = (static_cast<std::uint64_t>(c.Nk) + c.options.block_k - 1) / c.options.block_k;
  const std::uint64_t tiles_q = (static_cast<std::uint64_t>(c.Nq) + c.options.block_q - 1) / c.options.block_q;
  for (std::uint64_t bytes : {std::uint64_t{1}, 4 * 16 * tiles_k * tiles_q, 4 * 16 * tiles_k * tiles_q * 3}) {
    c.options.bound_scratch_bytes = bytes;
    SCOPED_TRACE("scratch bytes " + std::to_string(bytes));
    EXPECT_EQ(expect_matches_reference(c).levels, whole.levels);
  }
  c.options.bound_scratch_bytes = 0;
  for (std::uint32_t groups : {1u, 5u}) {
    c.options.bound_groups = groups;
    SCOPED_TRACE("groups a pass " + std::to_string(groups));
    EXPECT_EQ(expect_matches_reference(c).levels, whole.levels);
  }
}

TEST_F(PatternBound, MatchesTheReferenceWithLengthsAndRaggedTiles) { expect_matches_reference(lengths_case()); }

TEST_F(PatternBound, MatchesTheReferenceMoreQueriesThanKeysWithoutSinksOrWindow) {
  BoundCase c({.Nq = 150, .Nk = 100});
  c.causal = true;  // the first 50 rows see no key
  c.options.sink_tiles = 0;
  c.options.local_window = 0;
  c.options.anchor_window = 0;  // the anchor: the first 4 keys only
  expect_matches_reference(c);
  c.options.anchor_sinks = 0;  // no anchor at all: Jensen's bound alone
  c.causal = false;
  expect_matches_reference(c);
}

TEST_F(PatternBound, MatchesTheReferenceForDecode) { expect_matches_reference(decode_case()); }

// The anchor kernel stages its rows' window keys in shared memory; a window too long for that
// (here 64 + 1500 keys of D = 64 in f32: more than 32 KiB) is read from the buffer instead.
// Both against the reference, with rows whose windows run into the sinks and the key length.
TEST_F(PatternBound, AnchorsMatchTheReferenceStagedOrNot) {
  BoundCase c({.B = 2, .Nq = 90, .Nk = 1700, .D = 64, .causal = true, .lengths = {1700, 1000}});
  for (std::uint32_t window : {32u, 1500u}) {
    c.options.anchor_window = window;
    c.options.epsilon = 0.05;
    expect_matches_reference(c);
  }
}

TEST_F(PatternBound, MatchesTheReferenceWithManyTilesInOneBinade) {
  const BoundCase c = many_tiles_case();
  const Inputs in = many_tiles_inputs(c);
  const GpuMap gpu = expect_matches_reference(c, in);
  EXPECT_GT(count(gpu.levels, 0), 0);
  EXPECT_GT(count(gpu.levels, 1), 0);
  EXPECT_GT(count(gpu.levels, 3), 0);
}

// Lowering epsilon never coarsens a block; epsilon 0 keeps every visible block full.
TEST_F(PatternBound, LevelsAreMonotoneInEpsilon) {
  BoundCase c({.B = 2, .Nq = 256, .Nk = 768, .causal = true});
  const Inputs in = make_inputs(c);
  std::vector<std::uint8_t> previous;
  for (double epsilon : {1.0, 0.3, 0.1, 0.03, 0.01, 0.001, 0.0}) {
    c.options.epsilon = epsilon;
    const GpuMap gpu = run(c, in);
    if (!previous.empty()) {
      std::size_t coarsened = 0;
      for (std::size_t i = 0; i < gpu.levels.size(); ++i) coarsened += gpu.levels[i] > previous[i] ? 1 : 0;
      EXPECT_EQ(coarsened, 0u) << "epsilon " << epsilon;
    }
    previous = gpu.levels;
  }
  EXPECT_EQ(count(previous, 1) + count(previous, 2) + count(previous, 3), 0);
}

TEST_F(PatternBound, NaNMakesTheQueryTileFull) {
  BoundCase c;
  c.options.epsilon = 0.5;
  Inputs in = make_inputs(c);
  in.q[static_cast<std::size_t>(40 * c.D + 3)] = std::numeric_limits<float>::quiet_NaN();  // row 40: tile 2
  const GpuMap gpu = expect_matches_reference(c, in);
  const std::int64_t tk = c.Nk / c.options.block_k;
  for (std::int64_t j = 0; j < tk; ++j) {
    EXPECT_EQ(gpu.levels[static_cast<std::size_t>(2 * tk + j)], 0) << j;
    EXPECT_TRUE(std::isnan(gpu.density[static_cast<std::size_t>(2 * tk + j)])) << j;
  }
  EXPECT_GT(count(gpu.levels, 3), 0);  // other tiles still skip
}

TEST_F(PatternBound, RejectsBadOptions) {
  Tensor q = unwrap(Tensor::create(context(), DType::f32, {1, 1, 64, 32}));
  PatternOptions o;
  o.epsilon = 1.5;
  auto r = pattern().run(q, q, o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("epsilon = 1.5"));
  o.epsilon = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(pattern().run(q, q, o));
  o = {};
  o.estimator = Estimator::tile;
  r = pattern().run(q, q, o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what(), ::testing::HasSubstr("row estimator"));
}

// The bound rule needs subgroup arithmetic and vote in compute shaders: a device without them is
// refused by name (the reason says which is missing and points to the mass rule); this one has them.
TEST_F(PatternBound, RefusesADeviceWithoutSubgroupArithmeticOrVote) {
  EXPECT_EQ(Pattern::bound_rule_refusal(context()->device()), "");
  DeviceInfo bare = aat::testing::lavapipe_like();
  EXPECT_THAT(Pattern::bound_rule_refusal(bare), ::testing::HasSubstr("arithmetic and vote"));
  bare.features.subgroup_arithmetic = true;
  const std::string why = Pattern::bound_rule_refusal(bare);
  EXPECT_THAT(why, ::testing::HasSubstr("subgroup vote operations"));
  EXPECT_THAT(why, ::testing::HasSubstr("llvmpipe-like"));
  EXPECT_THAT(why, ::testing::HasSubstr("--mode mass"));
  bare.features.subgroup_vote = true;
  EXPECT_EQ(Pattern::bound_rule_refusal(bare), "");
}

// The kernel holds a whole row of key tiles in shared memory (flags, level and density: 12 bytes
// a tile, 24 KiB for the 2048 tiles a row may have) beside its pool (the staged query groups and
// each subgroup's binade columns); log U goes to a buffer. So the longest row fits lavapipe's
// 32 KiB, and a device with less is refused naming shared memory and the remedy.
TEST_F(PatternBound, HoldsTheLongestRowAndRefusesByName) {
  constexpr std::int64_t kTiles = kMaxKeyTiles, kBlockK = 4, kDim = 8;
  const Tensor q = aat::testing::upload_floats(context(), DType::f32, {1, 1, 1, kDim}, std::vector<float>(kDim, 0.5f));
  const Tensor k = aat::testing::upload_floats(context(), DType::f32, {1, 1, kTiles * kBlockK, kDim},
                                               std::vector<float>(static_cast<std::size_t>(kTiles * kBlockK * kDim), 0.25f));
  PatternOptions o;
  o.block_k = kBlockK;
  const auto r = pattern().run(q, k, o);
  if (context()->device().limits.max_shared_memory_bytes >= 32 * 1024) {
    ASSERT_TRUE(r) << r.error().what();
  }
  if (r) {
    ASSERT_EQ(r->map.levels.dim(3), kTiles);
    // Every key of every tile has the same score: no tile stands out, so the map is valid and the
    // forced sink and diagonal tiles are full.
    const auto levels = unwrap(r->map.levels.download_values<std::uint8_t>());
    EXPECT_EQ(levels.front(), static_cast<std::uint8_t>(BlockLevel::full));
    EXPECT_EQ(levels.back(), static_cast<std::uint8_t>(BlockLevel::full));
  } else {
    EXPECT_THAT(r.error().what(), ::testing::HasSubstr("shared memory"));
    EXPECT_THAT(r.error().what(), ::testing::HasSubstr("larger block_k"));
  }
  EXPECT_EQ(Pattern::bound_map_refusal(aat::testing::lavapipe_like(), 256, kTiles, true), "");
  const DeviceInfo small = aat::testing::synthetic_device("16K device", DeviceType::discrete_gpu, 16 * 1024, 1024, 32, 8);
  const std::string why = Pattern::bound_map_refusal(small, kDim, kTiles, false);
  EXPECT_THAT(why, ::testing::HasSubstr("shared memory for 2048 key tiles"));
  EXPECT_THAT(why, ::testing::HasSubstr("'16K device' has 16384"));
  EXPECT_THAT(why, ::testing::HasSubstr("larger block_k"));
  EXPECT_EQ(Pattern::bound_map_refusal(small, kDim, 512, false), "");
}

TEST(PatternMode, ParsesAndPrints) {
  EXPECT_EQ(parse_mode("mass"), Mode::mass);
  EXPECT_EQ(parse_mode("bound"), Mode::bound);
  EXPECT_FALSE(parse_mode("Bound"));
  EXPECT_EQ(to_string(Mode::bound), "bound");
  EXPECT_EQ(PatternOptions{}.mode, Mode::bound);
}

// =============================================================================================
// The moments on the tensor cores (pattern_bound_coopmat.comp, bound_moments_coopmat.glsl): f16
// products of operands split into high and low parts after power-of-two scaling. Each case runs
// with the moments on the tensor cores and on the invocations, both against the reference at
// the tolerances above (the split keeps about 22 bits, f32's invocation kernel 24). Where the
// device cannot (lavapipe: no cooperative matrices) the tests below it say why.

bool tensor_moments_run_here(const DeviceInfo& device) { return Pattern::tensor_moments_refusal(device, 64, 64, 1).empty(); }

class PatternBoundTensorMoments : public PatternBound {
 protected:
  void expect_both_match_reference(BoundCase c, const Inputs& in) {
    for (MomentsPath path : {MomentsPath::tensor_cores, MomentsPath::invocations}) {
      c.options.bound_moments = path;
      SCOPED_TRACE(std::string("moments on the ") + std::string(to_string(path)));
      expect_matches_reference(c, in);
    }
  }
  void expect_both_match_reference(const BoundCase& c) { expect_both_match_reference(c, make_inputs(c)); }
};

#define SKIP_WITHOUT_TENSOR_MOMENTS()                                                                 \
  if (!tensor_moments_run_here(context()->device()))                                                  \
  GTEST_SKIP() << Pattern::tensor_moments_refusal(context()->device(), 64, 64, 1)

// Head dims that are and are not multiples of 16 (the operands are zero-padded) up to 128 (the
// kernel's limit: the rows' operands stay in registers), f32 (Q split too) and f16, causal GQA with ragged tiles; query tiles of 16, 64 and 128 rows (two passes of
// 64); key tiles of 64 and 32.
TEST_F(PatternBoundTensorMoments, MatchesTheReferenceAcrossHeadDimsAndTiles) {
  SKIP_WITHOUT_TENSOR_MOMENTS();
  for (std::int64_t d : {32, 40, 64, 96, 128})
    for (DType dtype : {DType::f32, DType::f16}) {
      BoundCase c({.B = 2, .Hq = 4, .Hkv = 2, .Nq = 300, .Nk = 300, .D = d, .dtype = dtype, .causal = true});
      c.options.block_q = d == 64 ? 128 : d == 128 ? 16 : 64;
      c.options.block_k = d == 40 ? 32 : 64;
      c.options.epsilon = 0.1;
      expect_both_match_reference(c);
    }
}

TEST_F(PatternBoundTensorMoments, MatchesTheReferenceWithLengthsMoreQueriesThanKeysAndDecode) {
  SKIP_WITHOUT_TENSOR_MOMENTS();
  expect_both_match_reference(lengths_case());
  BoundCase wide;
  wide.Nq = 150;
  wide.Nk = 100;
  wide.causal = true;  // the first 50 rows see no key
  wide.options.block_q = 64;
  wide.options.anchor_window = 0;
  expect_both_match_reference(wide);
  expect_both_match_reference(decode_case());
}

// Queries 300 times larger and keys 300 times smaller than make_inputs': the scores are the same
// size, but q^2 (up to ~1e6) overflows f16 and the keys' variances (~1e-5) fall below its normal
// range unless the operands are scaled; both ways round, and a NaN query row.
TEST_F(PatternBoundTensorMoments, ScalesOperandsPastTheRangeOfF16) {
  SKIP_WITHOUT_TENSOR_MOMENTS();
  BoundCase c({.Nq = 128, .Nk = 640, .D = 64, .causal = true});
  c.options.block_q = 64;
  c.options.epsilon = 0.05;
  for (float factor : {300.0f, 1.0f / 300.0f}) {
    SCOPED_TRACE("queries x " + std::to_string(factor));
    Inputs in = make_inputs(c);
    for (auto& x : in.q) x *= factor;
    for (auto& x : in.k) x /= factor;
    expect_both_match_reference(c, in);
  }
  Inputs in = make_inputs(c);
  in.q[static_cast<std::size_t>(70 * c.D + 5)] = std::numeric_limits<float>::quiet_NaN();  // row 70: tile 1
  c.options.bound_moments = MomentsPath::tensor_cores;
  const GpuMap gpu = expect_matches_reference(c, in);
  const std::int64_t tk = c.Nk / c.options.block_k;
  for (std::int64_t j = 0; j < tk; ++j) {
    if (gpu.levels[static_cast<std::size_t>(tk + j)] == 4) continue;  // masked
    EXPECT_EQ(gpu.levels[static_cast<std::size_t>(tk + j)], 0) << j;
  }
}

TEST_F(PatternBoundTensorMoments, MatchesTheReferenceWithManyTilesInOneBinade) {
  SKIP_WITHOUT_TENSOR_MOMENTS();
  expect_both_match_reference(many_tiles_case());  // make_inputs' tiles (this ran on the H200)
}

// The operand kernels (row_operands.comp, key_operands.comp; they need no cooperative matrix, so
// this runs on lavapipe too): every row and key tile scaled by a power of two just above its
// largest magnitude, split into f16 high and low parts that give the scaled value back to 2^-21
// of the largest; zero past D and past the rows and tiles; a non-finite row or tile: NaN scale,
// zero operands.
TEST_F(PatternBound, TensorOperandsAreScaledHighAndLowParts) {
  const std::int64_t B = 1, H = 2, N = 70, D = 20, Bk = 16, tiles = (N + Bk - 1) / Bk, d_pad = 32;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> q(static_cast<std::size_t>(B * H * N * D)), k(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    const float row_size = std::ldexp(1.0f, static_cast<int>(i / D % 40) - 20);  // 2^-20 .. 2^19
    q[i] = row_size * normal(rng);
    k[i] = 1000.0f * normal(rng);
  }
  q[static_cast<std::size_t>(3 * D + 7)] = std::numeric_limits<float>::infinity();  // row 3 of head 0
  const Tensor tq = aat::testing::upload_floats(context(), DType::f32, {B, H, N, D}, q);
  const Tensor tk = aat::testing::upload_floats(context(), DType::f32, {B, H, N, D}, k);
  Stream stream = unwrap(Stream::create(context()));
  const Tensor k_mean = unwrap(pattern().record_pool(stream, tk, Bk, DType::f32, nullptr, "pool", false, true));
  const Tensor k_square = unwrap(pattern().record_pool(stream, tk, Bk, DType::f32, nullptr, "pool", true, true));
  attention::AttentionShape shape;
  shape.batch = B;
  shape.q_heads = shape.kv_heads = H;
  shape.q_len = shape.kv_len = N;
  shape.head_dim = D;
  const TensorOperands ops = unwrap(pattern().record_tensor_operands(stream, tq, k_mean, k_square, shape, tiles));
  unwrap(stream.run());
  const auto halves = [](const Tensor& t) { return from_half(unwrap(t.download_values<std::uint16_t>())); };
  const auto rows = halves(ops.rows), keys = halves(ops.keys);
  const auto row_scales = unwrap(ops.row_scales.download_values<float>());
  const auto key_scales = unwrap(ops.key_scales.download_values<float>());
  const std::int64_t rows_pad = N + 16, tiles_pad = 16;
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(B * H * 4 * rows_pad * d_pad));
  ASSERT_EQ(keys.size(), static_cast<std::size_t>(B * H * 4 * tiles_pad * d_pad));
  // Plane p of row r: hi + lo against the wanted value; the scale a power of two just above top.
  // Rows: [head][plane][row][d]; keys coordinate-major: [head][plane][d][tile].
  const auto check = [&](const std::vector<float>& planes, std::int64_t count, std::int64_t head, std::int64_t r,
                         int plane, double scale, const std::vector<double>& want) {
    const bool keys_layout = &planes == &keys;
    double worst = 0;
    for (std::int64_t d = 0; d < d_pad; ++d) {
      const auto at = [&](int pl) {
        return static_cast<std::size_t>(keys_layout ? ((head * 4 + pl) * d_pad + d) * count + r
                                                    : ((head * 4 + pl) * count + r) * d_pad + d);
      };
      const double got = static_cast<double>(planes[at(plane)]) + static_cast<double>(planes[at(plane + 1)]);
      const double w = d < D ? want[static_cast<std::size_t>(d)] / scale : 0.0;
      worst = std::max(worst, std::abs(got - w));
    }
    return worst;
  };
  for (std::int64_t head = 0; head < B * H; ++head) {
    for (std::int64_t r = 0; r < rows_pad; ++r) {
      const double scale = row_scales[static_cast<std::size_t>(head * rows_pad + r)];
      std::vector<double> value(D, 0.0), square(D, 0.0);
      double top = 0;
      for (std::int64_t d = 0; r < N && d < D; ++d) {
        value[static_cast<std::size_t>(d)] = q[static_cast<std::size_t>((head * N + r) * D + d)];
        top = std::max(top, std::abs(value[static_cast<std::size_t>(d)]));
      }
      SCOPED_TRACE("head " + std::to_string(head) + " row " + std::to_string(r));
      if (head == 0 && r == 3) {
        EXPECT_TRUE(std::isnan(scale));
        EXPECT_EQ(check(rows, rows_pad, head, r, 0, 1.0, std::vector<double>(D, 0.0)), 0.0);
        continue;
      }
      if (top == 0) {
        EXPECT_EQ(scale, 1.0);
      } else {
        EXPECT_TRUE(top < scale && scale <= 2 * top) << top << " " << scale;
      }
      for (std::int64_t d = 0; d < D; ++d) square[static_cast<std::size_t>(d)] = value[static_cast<std::size_t>(d)] * value[static_cast<std::size_t>(d)] / scale;
      EXPECT_LE(check(rows, rows_pad, head, r, 0, scale, value), std::ldexp(1.0, -21));
      EXPECT_LE(check(rows, rows_pad, head, r, 2, scale, square), std::ldexp(1.0, -21));
    }
    for (std::int64_t j = 0; j < tiles_pad; ++j) {
      const double mean_scale = key_scales[static_cast<std::size_t>((head * tiles_pad + j) * 2)];
      const double var_scale = key_scales[static_cast<std::size_t>((head * tiles_pad + j) * 2 + 1)];
      std::vector<double> mean(D, 0.0), var(D, 0.0);
      double top_mean = 0, top_var = 0;
      for (std::int64_t d = 0; j < tiles && d < D; ++d) {
        double sum = 0, sum2 = 0;
        const std::int64_t k0 = j * Bk, k1 = std::min(N, k0 + Bk);
        for (std::int64_t key = k0; key < k1; ++key) {
          const double x = k[static_cast<std::size_t>((head * N + key) * D + d)];
          sum += x;
          sum2 += x * x;
        }
        mean[static_cast<std::size_t>(d)] = sum / static_cast<double>(k1 - k0);
        var[static_cast<std::size_t>(d)] = std::max(0.0, sum2 / static_cast<double>(k1 - k0) - mean[static_cast<std::size_t>(d)] * mean[static_cast<std::size_t>(d)]);
        top_mean = std::max(top_mean, std::abs(mean[static_cast<std::size_t>(d)]));
        top_var = std::max(top_var, var[static_cast<std::size_t>(d)]);
      }
      SCOPED_TRACE("head " + std::to_string(head) + " tile " + std::to_string(j));
      if (j >= tiles) {
        EXPECT_EQ(mean_scale, 1.0);
        EXPECT_EQ(var_scale, 1.0);
      } else {
        EXPECT_TRUE(top_mean < mean_scale && mean_scale <= 2 * top_mean) << top_mean << " " << mean_scale;
        EXPECT_TRUE(top_var < var_scale && var_scale <= 2 * top_var) << top_var << " " << var_scale;
      }
      // The moments come from f32 sums: the mean to ~1e-6 of the keys' size, the variance (a
      // difference of f32 means of squares) to ~1e-6 of the mean square.
      EXPECT_LE(check(keys, tiles_pad, head, j, 0, mean_scale, mean), 1e-5);
      EXPECT_LE(check(keys, tiles_pad, head, j, 2, var_scale, var), 1e-5);
    }
  }
}

// Asking for the tensor cores where they cannot run is an error naming why; the reasons by name
// on synthetic devices.
TEST_F(PatternBound, TensorMomentsAreRefusedByName) {
  BoundCase c;
  c.options.bound_moments = MomentsPath::tensor_cores;
  const Inputs in = make_inputs(c);
  const Tensor q = aat::testing::upload_floats(context(), c.dtype, {c.B, c.Hq, c.Nq, c.D}, in.q);
  const Tensor k = aat::testing::upload_floats(context(), c.dtype, {c.B, c.Hkv, c.Nk, c.D}, in.k);
  const std::string why = Pattern::tensor_moments_refusal(context()->device(), static_cast<std::uint32_t>(c.D), 8, 1);
  const auto r = pattern().run(q, k, c.options);
  if (why.empty()) {
    EXPECT_TRUE(r) << r.error().what();
  } else {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::unsupported);
    EXPECT_THAT(r.error().what(), ::testing::HasSubstr(why));
  }
  c.options.query_group = 4;
  const auto grouped = pattern().run(q, k, c.options);
  ASSERT_FALSE(grouped);
  EXPECT_THAT(grouped.error().what(), ::testing::HasSubstr(why.empty() ? "query_group is 4" : why));

  DeviceInfo device = aat::testing::nvidia_like_48k();
  EXPECT_THAT(Pattern::tensor_moments_refusal(device, 64, 512, 1),
              ::testing::AnyOf(::testing::HasSubstr("no VK_KHR_cooperative_matrix"), ::testing::HasSubstr("this build")));
  device.features.cooperative_matrix_khr = device.features.shader_float16 = device.features.storage_buffer_16bit =
      device.features.vulkan_memory_model = true;
  if (Pattern::tensor_moments_refusal(device, 64, 512, 1).starts_with("this build")) return;
  EXPECT_THAT(Pattern::tensor_moments_refusal(device, 64, 512, 1), ::testing::HasSubstr("no subgroup shuffles"));
  device.features.subgroup_shuffle = true;
  // 48 KiB (what an NVIDIA GPU gives a Vulkan kernel) holds rows of 64k keys at D = 128 (1024
  // tiles of 64); the longest rows at D = 128 need more (the invocation kernel runs them).
  EXPECT_EQ(Pattern::tensor_moments_refusal(device, 64, 512, 1), "");
  EXPECT_EQ(Pattern::tensor_moments_refusal(device, 128, 1024, 1), "");
  EXPECT_THAT(Pattern::tensor_moments_refusal(device, 128, kMaxKeyTiles, 1), ::testing::HasSubstr("bytes of shared memory"));
  EXPECT_THAT(Pattern::tensor_moments_refusal(device, 256, 512, 1), ::testing::HasSubstr("D <= 128"));
  EXPECT_THAT(Pattern::tensor_moments_refusal(device, 64, 512, 2), ::testing::HasSubstr("single query rows"));
  device.limits.subgroup_size = device.limits.min_subgroup_size = device.limits.max_subgroup_size = 64;
  EXPECT_THAT(Pattern::tensor_moments_refusal(device, 64, 512, 1), ::testing::HasSubstr("subgroups of 32"));
}

}  // namespace
}  // namespace aat::pattern
