// The router: plans (every kept block visited exactly once, boundary handling, balance,
// capacities) against a brute-force host model, and the exact merge of partial softmax states
// against a one-pass softmax in double precision.
//
// Merge tolerance: the partial states are made on the host in double and rounded to f32; the
// GPU merge then does a few f32 multiply-adds per state and one exp per state. Errors are a
// few f32 ulps of |o| (<= 4 for unit-normal V): abs = rel = 2e-6 for O, and abs 2e-6 +
// rel 1e-6 for L (|L| up to 1e4 in the large-logit case, where the f32 spacing is 1e-3:
// rel 1e-6 allows 1e-2 there, the inputs' own rounding).
#include "aat/router/router.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "aat/plugin.hpp"
#include "device_test.hpp"

extern "C" const aat_plugin_descriptor* aat_plugin_router_entry(void);

namespace aat::router {
namespace {

using aat::testing::unwrap;
using pattern::BlockLevel;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// Host model of the plan.

bool sees(const attention::AttentionShape& s, const std::vector<std::int32_t>& lengths, std::int64_t b, std::int64_t a,
          std::int64_t j) {
  if (!lengths.empty() && j >= lengths[static_cast<std::size_t>(b)]) return false;
  return !s.causal || j <= a + s.kv_len - s.q_len;
}

// 0 masked, 1 partial, 2 full: by enumerating the block's pairs.
int brute_visibility(const pattern::BlockGrid& g, std::int64_t b, std::int64_t i, std::int64_t j) {
  std::int64_t seen = 0, total = 0;
  for (std::int64_t a = i * g.block_q; a < std::min((i + 1) * g.block_q, g.shape.q_len); ++a)
    for (std::int64_t k = j * g.block_k; k < std::min((j + 1) * g.block_k, g.shape.kv_len); ++k) {
      ++total;
      seen += sees(g.shape, g.key_lengths, b, a, k) ? 1 : 0;
    }
  return seen == 0 ? 0 : seen == total ? 2 : 1;
}

// The kept blocks each row tile must run, in key order, as (j << 2) | level.
std::vector<std::vector<std::uint32_t>> expected_lists(const pattern::BlockGrid& g, const std::vector<std::uint8_t>& levels) {
  std::vector<std::vector<std::uint32_t>> lists;
  for (std::int64_t b = 0; b < g.shape.batch; ++b)
    for (std::int64_t h = 0; h < g.shape.q_heads; ++h)
      for (std::int64_t i = 0; i < g.tiles_q; ++i) {
        std::vector<std::uint32_t> list;
        for (std::int64_t j = 0; j < g.tiles_k; ++j) {
          std::uint32_t level = levels[static_cast<std::size_t>(((b * g.shape.q_heads + h) * g.tiles_q + i) * g.tiles_k + j)];
          const int vis = brute_visibility(g, b, i, j);
          if (level >= 3 || vis == 0) continue;
          if (vis == 1) level = 0;
          list.push_back(static_cast<std::uint32_t>(j << 2) | level);
        }
        lists.push_back(std::move(list));
      }
  return lists;
}

struct MapCase {
  std::int64_t B = 1, H = 1, Nq = 256, Nk = 256;
  bool causal = false;
  std::vector<std::int32_t> lengths{};
  std::int64_t block_q = 32, block_k = 64;
  std::uint32_t item_slots = 0;
  std::uint32_t seed = 1;
  double keep = 0.5;  // share of blocks the random map keeps (full / pool2 / pool4 evenly)
};

pattern::BlockGrid grid_for(const MapCase& c) {
  attention::AttentionShape s;
  s.batch = c.B;
  s.q_heads = s.kv_heads = c.H;
  s.q_len = c.Nq;
  s.kv_len = c.Nk;
  s.causal = c.causal;
  return pattern::BlockGrid::make(s, c.block_q, c.block_k, c.lengths);
}

// A random map that ignores the masks on purpose: the router must enforce them.
std::vector<std::uint8_t> random_levels(const MapCase& c, const pattern::BlockGrid& g) {
  std::mt19937 rng(c.seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::uint8_t> levels(static_cast<std::size_t>(g.blocks()));
  for (auto& l : levels) {
    const double x = u(rng);
    l = x < c.keep ? static_cast<std::uint8_t>(x / c.keep * 3.0) : (x < c.keep + (1 - c.keep) / 2 ? 3 : 4);
  }
  return levels;
}

class RouterTest : public aat::testing::SharedObjectTest<Router> {
 protected:
  Router& router() { return shared(); }

  struct Routed {
    Plan plan;
    PlanContents contents;
    PlanStats stats;
  };

  Routed route(const pattern::BlockGrid& g, const std::vector<std::uint8_t>& levels, std::uint32_t item_slots) {
    pattern::BlockMap map;
    map.grid = g;
    map.levels = unwrap(Tensor::from_values<std::uint8_t>(context(), DType::u8,
                                                          {g.shape.batch, g.shape.q_heads, g.tiles_q, g.tiles_k}, levels));
    Stream stream = unwrap(Stream::create(context()));
    RouterOptions options;
    options.item_slots = item_slots;
    Routed r;
    r.plan = unwrap(router().record_plan(stream, map, options));
    unwrap(stream.run());
    r.contents = unwrap(router().read(r.plan));
    r.stats = unwrap(router().stats(r.plan));
    return r;
  }

  // The plan covers exactly the expected kept blocks, each once, in balanced items.
  void expect_valid_plan(const MapCase& c) {
    const auto g = grid_for(c);
    const auto levels = random_levels(c, g);
    const Routed r = route(g, levels, c.item_slots);
    const auto want = expected_lists(g, levels);
    const auto& pc = r.contents;
    ASSERT_EQ(r.stats.overflow, 0);
    ASSERT_LE(r.stats.items, static_cast<std::int64_t>(r.plan.item_capacity));
    std::vector<int> visits_total;
    std::int64_t blocks = 0, slots = 0;
    std::set<std::uint32_t> partial_slots;
    // Items of each row tile, from the item list.
    std::vector<std::vector<std::uint32_t>> items_of(want.size());
    for (std::int64_t n = 0; n < r.stats.items; ++n) {
      const std::uint32_t row = pc.items[static_cast<std::size_t>(n * 4)];
      ASSERT_LT(row, want.size());
      items_of[row].push_back(static_cast<std::uint32_t>(n));
    }
    for (std::size_t row = 0; row < want.size(); ++row) {
      SCOPED_TRACE(::testing::Message() << "row tile " << row);
      const auto& list = want[row];
      const std::uint32_t count = pc.row_items[row * 2], first_partial = pc.row_items[row * 2 + 1];
      // Compacted list equals the expected kept blocks (masked dropped, partial promoted).
      for (std::size_t t = 0; t < list.size(); ++t)
        ASSERT_EQ(pc.row_blocks[row * static_cast<std::size_t>(g.tiles_k) + t], list[t]) << "entry " << t;
      blocks += static_cast<std::int64_t>(list.size());
      std::vector<int> visits(list.size(), 0);
      std::int64_t row_slots = 0;
      for (auto e : list) row_slots += block_slots(g.cols(e >> 2), e & 3u);
      slots += row_slots;
      ASSERT_EQ(items_of[row].size(), count);
      if (list.empty()) {
        EXPECT_EQ(count, 0u);
        continue;
      }
      // At most ceil(S / item_slots) items, each within one block of the even share.
      const std::int64_t most = (row_slots + r.plan.item_slots - 1) / r.plan.item_slots;
      EXPECT_LE(count, most);
      const std::int64_t target = (row_slots + most - 1) / most;
      for (std::size_t t = 0; t < count; ++t) {
        const auto* it = &pc.items[static_cast<std::size_t>(items_of[row][t]) * 4];
        ASSERT_LT(it[1], it[2]);
        ASSERT_LE(it[2], list.size());
        std::int64_t item_slots = 0;
        for (std::uint32_t e = it[1]; e < it[2]; ++e) {
          ++visits[e];
          item_slots += block_slots(g.cols(list[e] >> 2), list[e] & 3u);
        }
        EXPECT_LT(item_slots, target + g.block_k) << "item " << t;
        if (count == 1) {
          EXPECT_EQ(it[3], kNoSlot);
        } else {
          EXPECT_EQ(it[3], first_partial + t);
          EXPECT_TRUE(partial_slots.insert(it[3]).second) << "partial slot " << it[3] << " used twice";
          EXPECT_LT(it[3], r.plan.partial_capacity);
        }
      }
      for (std::size_t e = 0; e < visits.size(); ++e) EXPECT_EQ(visits[e], 1) << "block entry " << e;
      if (count == 1) {
        EXPECT_EQ(first_partial, kNoSlot);
      }
    }
    EXPECT_EQ(r.stats.kept_blocks, blocks);
    EXPECT_EQ(r.stats.total_slots, slots);
    EXPECT_EQ(r.stats.partial_slots, static_cast<std::int64_t>(partial_slots.size()));
  }

};

TEST_F(RouterTest, VisitsEveryKeptBlockExactlyOnceUnmasked) {
  MapCase c{.Nq = 200, .Nk = 900, .item_slots = 128};
  expect_valid_plan(c);
}

TEST_F(RouterTest, VisitsEveryKeptBlockExactlyOnceCausalWithLengths) {
  MapCase c{.B = 3, .H = 2, .Nq = 300, .Nk = 333, .causal = true, .lengths = {333, 0, 150}, .block_q = 16,
      .block_k = 20, .item_slots = 64, .keep = 0.8};
  expect_valid_plan(c);
}

TEST_F(RouterTest, VisitsEveryKeptBlockExactlyOnceWithoutSplits) {
  MapCase c{.Nq = 64, .Nk = 1000, .causal = true, .item_slots = 1u << 20};
  expect_valid_plan(c);
}

// A dense causal map: rows have 1..Tk blocks, yet items are within one block of each other.
TEST_F(RouterTest, BalancesLongRowsIntoEvenItems) {
  MapCase c{.Nq = 2048, .Nk = 2048, .causal = true};
  const auto g = grid_for(c);
  std::vector<std::uint8_t> levels(static_cast<std::size_t>(g.blocks()), 0);
  const Routed r = route(g, levels, 512);
  EXPECT_EQ(r.stats.overflow, 0);
  // Every item holds 512 slots or fewer, at least 448 unless its row tile has fewer keys.
  EXPECT_LE(r.stats.max_item_slots, 512);
  EXPECT_LE(r.stats.balance(), 1.6) << "max " << r.stats.max_item_slots << " mean " << r.stats.mean_item_slots;
  EXPECT_GT(r.stats.split_rows, 0);
  // Without splitting, the longest work list is 64 times the shortest.
  const Routed whole = route(g, levels, 1u << 20);
  EXPECT_EQ(whole.stats.items, g.tiles_q);
  EXPECT_GT(whole.stats.balance(), 1.9);
}

TEST_F(RouterTest, PooledBlocksCountTheirPooledKeys) {
  MapCase c{.Nq = 32};
  c.Nk = 64 * 3 + 6;  // the last tile holds 6 keys: pooled x4 -> 2 slots
  const auto g = grid_for(c);
  const std::vector<std::uint8_t> levels{0, 1, 2, 2};
  const Routed r = route(g, levels, 1u << 20);
  EXPECT_EQ(r.stats.total_slots, 64 + 32 + 16 + 2);
  ASSERT_EQ(r.stats.items, 1);
  EXPECT_EQ(r.contents.row_blocks[3], (3u << 2) | 2u);
}

TEST_F(RouterTest, AutomaticItemSlotsFollowTheDevice) {
  MapCase c{.Nq = 1024, .Nk = 1024};
  const auto g = grid_for(c);
  const auto slots = device_item_slots(context()->device(), g);
  EXPECT_EQ(slots % 64, 0u);
  EXPECT_GE(slots, 256u);
  const Routed r = route(g, std::vector<std::uint8_t>(static_cast<std::size_t>(g.blocks()), 0), 0);
  EXPECT_EQ(r.plan.item_slots, slots);
}

TEST_F(RouterTest, RejectsAMapOfTheWrongShape) {
  MapCase c;
  auto g = grid_for(c);
  pattern::BlockMap map;
  map.grid = g;
  map.levels = unwrap(Tensor::create(context(), DType::u8, {1, 1, g.tiles_q, g.tiles_k + 1}));
  Stream stream = unwrap(Stream::create(context()));
  auto plan = router().record_plan(stream, map);
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().what(), ::testing::HasSubstr("block map"));
}

// ---------------------------------------------------------------------------------------------
// Merge exactness.

struct State {
  double m, l;
  std::vector<double> o;
};

// The partial state of one row over a subset of its keys (scores s, values v rows).
State partial(const std::vector<double>& s, const std::vector<std::vector<double>>& v, const std::vector<std::size_t>& keys,
              std::size_t D) {
  State st{kNegInf, 0.0, std::vector<double>(D, 0.0)};
  for (auto j : keys) st.m = std::max(st.m, s[j]);
  if (keys.empty() || st.m == kNegInf) return st;
  for (auto j : keys) {
    const double w = std::exp(s[j] - st.m);
    st.l += w;
    for (std::size_t d = 0; d < D; ++d) st.o[d] += w * v[j][d];
  }
  for (auto& x : st.o) x /= st.l;
  return st;
}

struct MergeProblem {
  std::int64_t slices = 3, q_len = 50, D = 16, group_rows = 16, keys = 40;
  double logit_scale = 3.0, logit_offset = 0.0;
  bool skip_single = false;
};

class MergeTest : public RouterTest {
 protected:
  // Random groups with 0..5 states each; every state a random subset of the row's keys (some
  // empty); compares the GPU merge with the one-pass softmax over the union.
  void expect_exact(const MergeProblem& mp, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<int> count_dist(0, 5);
    const std::int64_t tiles_q = (mp.q_len + mp.group_rows - 1) / mp.group_rows;
    const std::int64_t groups = mp.slices * tiles_q;
    const auto D = static_cast<std::size_t>(mp.D);
    std::vector<std::uint32_t> group_states(static_cast<std::size_t>(groups * 2));
    std::vector<int> counts(static_cast<std::size_t>(groups));
    std::uint32_t slots = 0;
    for (std::int64_t g = 0; g < groups; ++g) {
      const int n = count_dist(rng);
      counts[static_cast<std::size_t>(g)] = n;
      group_states[static_cast<std::size_t>(g * 2)] = static_cast<std::uint32_t>(n);
      group_states[static_cast<std::size_t>(g * 2 + 1)] = n ? slots : kNoSlot;
      slots += static_cast<std::uint32_t>(n);
    }
    const std::size_t rows = static_cast<std::size_t>(mp.slices * mp.q_len);
    std::vector<float> po(std::max<std::size_t>(slots, 1) * static_cast<std::size_t>(mp.group_rows) * D, 0.0f);
    std::vector<float> ps(std::max<std::size_t>(slots, 1) * static_cast<std::size_t>(mp.group_rows) * 2, 0.0f);
    std::vector<double> want_o(rows * D, 0.0), want_l(rows, kNegInf);
    std::vector<bool> untouched(rows, false);
    for (std::size_t row = 0; row < rows; ++row) {
      const std::int64_t slice = static_cast<std::int64_t>(row) / mp.q_len, in_slice = static_cast<std::int64_t>(row) % mp.q_len;
      const std::int64_t g = slice * tiles_q + in_slice / mp.group_rows, r = in_slice % mp.group_rows;
      const int n = counts[static_cast<std::size_t>(g)];
      const std::uint32_t first = group_states[static_cast<std::size_t>(g * 2 + 1)];
      std::vector<double> s(static_cast<std::size_t>(mp.keys));
      std::vector<std::vector<double>> v(static_cast<std::size_t>(mp.keys), std::vector<double>(D));
      for (auto& x : s) x = mp.logit_offset + mp.logit_scale * normal(rng);
      for (auto& row_v : v)
        for (auto& x : row_v) x = normal(rng);
      // Assign each key to one state (or to none: key dropped from every state).
      std::vector<std::vector<std::size_t>> subsets(static_cast<std::size_t>(n));
      std::vector<std::size_t> all;
      std::uniform_int_distribution<int> pick(0, n);  // n: no state
      for (std::size_t j = 0; j < s.size(); ++j) {
        const int k = n ? pick(rng) : n;
        if (k < n) {
          subsets[static_cast<std::size_t>(k)].push_back(j);
          all.push_back(j);
        }
      }
      // State values, rounded to f32 as the GPU sees them; the reference uses the rounded values.
      double m = kNegInf;
      std::vector<State> states;
      for (int k = 0; k < n; ++k) {
        State st = partial(s, v, subsets[static_cast<std::size_t>(k)], D);
        const std::size_t slot = (first + static_cast<std::size_t>(k)) * static_cast<std::size_t>(mp.group_rows) + static_cast<std::size_t>(r);
        ps[slot * 2] = static_cast<float>(st.m);
        ps[slot * 2 + 1] = static_cast<float>(st.l);
        st.m = ps[slot * 2];
        st.l = ps[slot * 2 + 1];
        for (std::size_t d = 0; d < D; ++d) {
          po[slot * D + d] = static_cast<float>(st.o[d]);
          st.o[d] = po[slot * D + d];
        }
        if (st.l != 0) m = std::max(m, st.m);
        states.push_back(std::move(st));
      }
      if (mp.skip_single && n == 1) {
        untouched[row] = true;
        continue;
      }
      // One-pass softmax over the union, expressed through the rounded states: sum_k l_k e^{m_k - M} o_k.
      double wsum = 0;
      std::vector<double> acc(D, 0.0);
      for (const auto& st : states) {
        if (st.l == 0) continue;
        const double w = st.l * std::exp(st.m - m);
        wsum += w;
        for (std::size_t d = 0; d < D; ++d) acc[d] += w * st.o[d];
      }
      if (wsum > 0) {
        for (std::size_t d = 0; d < D; ++d) want_o[row * D + d] = acc[d] / wsum;
        want_l[row] = m + std::log(wsum);
      }
      // And the merge equals the softmax over the union of the subsets computed directly.
      const State direct = partial(s, v, all, D);
      if (!all.empty() && wsum > 0 && mp.logit_offset == 0.0) {  // f32 rounding of m ~1e4 is 5e-4
        for (std::size_t d = 0; d < D; ++d) EXPECT_NEAR(want_o[row * D + d], direct.o[d], 1e-6 * (1 + std::abs(direct.o[d])));
      }
    }
    auto ctx = context();
    Tensor t_po = unwrap(Tensor::from_values<float>(ctx, DType::f32, {static_cast<std::int64_t>(po.size())}, po));
    Tensor t_ps = unwrap(Tensor::from_values<float>(ctx, DType::f32, {static_cast<std::int64_t>(ps.size())}, ps));
    std::vector<std::int32_t> gs(group_states.begin(), group_states.end());
    Tensor t_gs = unwrap(Tensor::from_values<std::int32_t>(ctx, DType::i32, {groups, 2}, gs));
    Tensor out = unwrap(Tensor::create(ctx, DType::f32, {mp.slices, 1, mp.q_len, mp.D}));
    Tensor lse = unwrap(Tensor::create(ctx, DType::f32, {mp.slices, 1, mp.q_len}));
    Stream stream = unwrap(Stream::create(ctx));
    unwrap(stream.fill(out.buffer(), 0x7fc00001u));  // a NaN marker: untouched rows keep it
    unwrap(stream.fill(lse.buffer(), 0x7fc00001u));
    unwrap(router().record_ranged_merge(stream, t_po, t_ps, t_gs, static_cast<std::uint32_t>(mp.group_rows),
                                        mp.skip_single, out, lse));
    unwrap(stream.run());
    const auto got_o = unwrap(out.download_values<float>());
    const auto got_l = unwrap(lse.download_values<float>());
    std::size_t failures = 0;
    for (std::size_t row = 0; row < rows; ++row) {
      if (untouched[row]) {
        EXPECT_TRUE(std::isnan(got_l[row])) << "row " << row << " has one state and must be left alone";
        continue;
      }
      if (want_l[row] == kNegInf) {
        EXPECT_EQ(got_l[row], -std::numeric_limits<float>::infinity()) << "row " << row;
        for (std::size_t d = 0; d < D; ++d) EXPECT_EQ(got_o[row * D + d], 0.0f) << "row " << row;
        continue;
      }
      EXPECT_NEAR(got_l[row], want_l[row], 2e-6 + 1e-6 * std::abs(want_l[row])) << "row " << row;
      for (std::size_t d = 0; d < D; ++d)
        failures += std::abs(got_o[row * D + d] - want_o[row * D + d]) > 2e-6 * (1 + std::abs(want_o[row * D + d])) ? 1 : 0;
    }
    EXPECT_EQ(failures, 0u);
  }
};

TEST_F(MergeTest, EqualsOnePassSoftmaxOverTheUnion) { expect_exact(MergeProblem{}, 1); }

TEST_F(MergeTest, EqualsOnePassSoftmaxWithLargeLogits) {
  MergeProblem mp;
  mp.logit_offset = 1e4;
  mp.logit_scale = 30.0;
  expect_exact(mp, 2);
}

TEST_F(MergeTest, LeavesSingleStateGroupsToTheirProducer) {
  MergeProblem mp;
  mp.skip_single = true;
  mp.D = 64;
  mp.group_rows = 32;
  expect_exact(mp, 3);
}

TEST_F(MergeTest, PropagatesNaN) {
  auto ctx = context();
  // One group of two rows (D = 2), two states; row 0's second state is NaN.
  const std::vector<float> po{1, 2, 3, 4, 5, 6, 7, 8};           // [2 slots][2 rows][2]
  const std::vector<float> ps{0, 1, 0, 1, NAN, 1, 1, 2};         // [2 slots][2 rows](m, l)
  Tensor t_po = unwrap(Tensor::from_values<float>(ctx, DType::f32, {8}, po));
  Tensor t_ps = unwrap(Tensor::from_values<float>(ctx, DType::f32, {8}, ps));
  const std::vector<std::int32_t> gs{2, 0};
  Tensor t_gs = unwrap(Tensor::from_values<std::int32_t>(ctx, DType::i32, {1, 2}, gs));
  Tensor out = unwrap(Tensor::create(ctx, DType::f32, {1, 1, 2, 2}));  // D = 2
  Tensor lse = unwrap(Tensor::create(ctx, DType::f32, {1, 1, 2}));
  Stream stream = unwrap(Stream::create(ctx));
  unwrap(router().record_ranged_merge(stream, t_po, t_ps, t_gs, 2, false, out, lse));
  unwrap(stream.run());
  const auto o = unwrap(out.download_values<float>());
  const auto l = unwrap(lse.download_values<float>());
  EXPECT_TRUE(std::isnan(o[0]) && std::isnan(o[1]) && std::isnan(l[0]));
  // Row 1: states (0, 1, [3, 4]) and (1, 2, [7, 8]): weights e^-1 and 2.
  const double w0 = std::exp(-1.0), w1 = 2.0;
  EXPECT_NEAR(o[2], (w0 * 3 + w1 * 7) / (w0 + w1), 1e-6);
  EXPECT_NEAR(o[3], (w0 * 4 + w1 * 8) / (w0 + w1), 1e-6);
  EXPECT_NEAR(l[1], 1.0 + std::log(w0 + w1), 1e-6);
}

// The fixed-count merge (attention's split-K layout) the router's ranged merge generalizes.
TEST_F(MergeTest, UniformMergeEqualsOnePassSoftmax) {
  const std::int64_t splits = 3, rows = 20, D = 8, keys = 30;
  std::mt19937 rng(9);
  std::normal_distribution<double> normal;
  std::vector<float> po(static_cast<std::size_t>(splits * rows * D)), ps(static_cast<std::size_t>(splits * rows * 2));
  std::vector<double> want_o(static_cast<std::size_t>(rows * D)), want_l(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<double> s(keys);
    std::vector<std::vector<double>> v(keys, std::vector<double>(D));
    for (auto& x : s) x = 4.0 * normal(rng);
    for (auto& row_v : v)
      for (auto& x : row_v) x = normal(rng);
    std::vector<std::size_t> all(keys);
    for (std::size_t j = 0; j < all.size(); ++j) all[j] = j;
    for (std::int64_t k = 0; k < splits; ++k) {
      std::vector<std::size_t> subset;
      for (std::size_t j = static_cast<std::size_t>(k); j < keys; j += splits) subset.push_back(j);
      const State st = partial(s, v, subset, D);
      const auto slot = static_cast<std::size_t>(k * rows + r);
      ps[slot * 2] = static_cast<float>(st.m);
      ps[slot * 2 + 1] = static_cast<float>(st.l);
      for (std::int64_t d = 0; d < D; ++d) po[slot * D + static_cast<std::size_t>(d)] = static_cast<float>(st.o[static_cast<std::size_t>(d)]);
    }
    const State direct = partial(s, v, all, D);
    for (std::int64_t d = 0; d < D; ++d) want_o[static_cast<std::size_t>(r * D + d)] = direct.o[static_cast<std::size_t>(d)];
    want_l[static_cast<std::size_t>(r)] = direct.m + std::log(direct.l);
  }
  auto ctx = context();
  Tensor t_po = unwrap(Tensor::from_values<float>(ctx, DType::f32, {splits, rows, D}, po));
  Tensor t_ps = unwrap(Tensor::from_values<float>(ctx, DType::f32, {splits, rows, 2}, ps));
  Tensor out = unwrap(Tensor::create(ctx, DType::f32, {rows, D}));
  Tensor lse = unwrap(Tensor::create(ctx, DType::f32, {rows}));
  Stream stream = unwrap(Stream::create(ctx));
  // The fixed-count layout is attention's split-K merge (one merge op for both plugins).
  unwrap(unwrap(attention::Attention::create(ctx)).record_merge(stream, t_po, t_ps, out, lse));
  unwrap(stream.run());
  const auto o = unwrap(out.download_values<float>());
  const auto l = unwrap(lse.download_values<float>());
  // The states were rounded to f32: 1e-6 relative per state.
  for (std::size_t i = 0; i < o.size(); ++i) EXPECT_NEAR(o[i], want_o[i], 1e-5 * (1 + std::abs(want_o[i]))) << i;
  for (std::size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(l[i], want_l[i], 1e-5 * (1 + std::abs(want_l[i]))) << i;
}

// ---------------------------------------------------------------------------------------------
// Pyramid and plugin.

TEST_F(RouterTest, PyramidHoldsMeanPooledKeysAndValues) {
  auto ctx = context();
  const std::int64_t N = 10, D = 8;
  std::vector<float> k(static_cast<std::size_t>(N * D)), v(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<float>(i);
    v[i] = -static_cast<float>(i) * 0.5f;
  }
  Tensor tk = unwrap(Tensor::from_values<float>(ctx, DType::f32, {1, 1, N, D}, k));
  Tensor tv = unwrap(Tensor::from_values<float>(ctx, DType::f32, {1, 1, N, D}, v));
  auto pattern = unwrap(pattern::Pattern::create(ctx));
  Stream stream = unwrap(Stream::create(ctx));
  Pyramid p = unwrap(router().record_pyramid(stream, pattern, tk, tv));
  unwrap(stream.run());
  EXPECT_EQ(p.k2.shape(), (std::vector<std::int64_t>{1, 1, 5, D}));
  EXPECT_EQ(p.k4.shape(), (std::vector<std::int64_t>{1, 1, 3, D}));
  const auto k4 = unwrap(p.k4.download_values<float>());
  const auto v2 = unwrap(p.v2.download_values<float>());
  // Pool 2 of keys 8, 9 (the last, 2 keys) and pool 1 of x4 (keys 4..7).
  for (std::int64_t d = 0; d < D; ++d) {
    EXPECT_FLOAT_EQ(k4[static_cast<std::size_t>(2 * D + d)], (k[static_cast<std::size_t>(8 * D + d)] + k[static_cast<std::size_t>(9 * D + d)]) / 2);
    double sum = 0;
    for (int r = 4; r < 8; ++r) sum += k[static_cast<std::size_t>(r * D + d)];
    EXPECT_FLOAT_EQ(k4[static_cast<std::size_t>(D + d)], static_cast<float>(sum / 4));
    EXPECT_FLOAT_EQ(v2[static_cast<std::size_t>(d)], (v[static_cast<std::size_t>(d)] + v[static_cast<std::size_t>(D + d)]) / 2);
  }
}

TEST(RouterPlugin, LinksStaticallyWithItsKernelsAndCommand) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.add_static(aat_plugin_router_entry()).has_value());
  const Plugin* plugin = registry.find("router");
  ASSERT_NE(plugin, nullptr);
  for (const char* kernel : {"route_lists", "route_scan", "route_items", "merge_ranged_f32", "merge_ranged_f16"})
    EXPECT_NE(plugin->find_kernel(kernel), nullptr) << kernel;
  EXPECT_NE(registry.find_command("route"), nullptr);
}

}  // namespace
}  // namespace aat::router
