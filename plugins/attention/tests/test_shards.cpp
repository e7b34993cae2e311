// The division of attention among workers (shards.hpp) and the host boxes (host_slices.hpp):
// host-only, checked against brute-force counts of visible (query, key) pairs.
#include <algorithm>
#include <cstring>
#include <numeric>

#include <gtest/gtest.h>

#include "aat/attention/host_slices.hpp"
#include "aat/attention/shards.hpp"

namespace aat::attention {
namespace {

AttentionShape shape_of(std::int64_t b, std::int64_t hq, std::int64_t hkv, std::int64_t nq, std::int64_t nk, bool causal) {
  return {.batch = b, .q_heads = hq, .kv_heads = hkv, .q_len = nq, .kv_len = nk, .head_dim = 8, .causal = causal};
}

// Counted pair by pair from the mask's definition.
double brute_pairs(const AttentionShape& s, const KeyRange& r, const std::vector<std::int32_t>& lengths) {
  double pairs = 0;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t i = 0; i < s.q_len; ++i)
      for (std::int64_t j = r.begin; j < r.end; ++j) {
        const bool hidden = (s.causal && j > i + s.kv_len - s.q_len) || (!lengths.empty() && j >= lengths[b]);
        pairs += hidden ? 0 : 1;
      }
  return pairs * static_cast<double>(s.q_heads);
}

TEST(VisiblePairs, MatchBruteForce) {
  for (bool causal : {false, true})
    for (auto [nq, nk] : {std::pair{7, 7}, {5, 13}, {13, 5}, {1, 9}, {9, 1}, {0, 4}, {4, 0}}) {
      const auto s = shape_of(2, 2, 1, nq, nk, causal);
      for (const std::vector<std::int32_t>& lengths : {std::vector<std::int32_t>{}, std::vector<std::int32_t>{nk / 2, nk}})
        for (std::int64_t a = 0; a <= nk; ++a)
          for (std::int64_t e = a; e <= nk; ++e)
            ASSERT_DOUBLE_EQ(visible_pairs(s, {a, e, false}, lengths), brute_pairs(s, {a, e, false}, lengths))
                << "Nq " << nq << " Nk " << nk << (causal ? " causal" : "") << " keys " << a << ".." << e;
    }
}

// Every visible key belongs to exactly one worker; ranges are sorted, disjoint, non-empty.
void expect_partition(const ShardPlan& plan, std::int64_t visible_end) {
  std::vector<int> owners(static_cast<std::size_t>(visible_end), 0);
  for (const auto& w : plan.workers)
    for (std::size_t i = 0; i < w.keys.size(); ++i) {
      EXPECT_LT(w.keys[i].begin, w.keys[i].end);
      if (i > 0) {
        EXPECT_LT(w.keys[i - 1].end, w.keys[i].begin) << "adjacent ranges must be joined";
      }
      for (std::int64_t j = w.keys[i].begin; j < w.keys[i].end; ++j) ++owners[static_cast<std::size_t>(j)];
    }
  for (std::size_t j = 0; j < owners.size(); ++j) EXPECT_EQ(owners[j], 1) << "key " << j;
}

TEST(ShardPlan, CausalKeysAreZigZagAndBalanced) {
  for (std::size_t workers : {2u, 3u, 4u, 8u}) {
    const auto s = shape_of(1, 1, 1, 4096, 4096, true);
    const ShardPlan plan = plan_shards(s, workers, ShardMode::keys);
    EXPECT_EQ(plan.mode, ShardMode::keys);
    expect_partition(plan, 4096);
    EXPECT_LT(plan.imbalance(), 1.005) << workers << " workers";
    EXPECT_DOUBLE_EQ(plan.flops(), 4.0 * 8 * 4096.0 * 4097.0 / 2);  // every visible pair once
    // Worker 0 holds the first and the last of 2W chunks; equal key counts too.
    const auto& first = plan.workers.front().keys;
    EXPECT_EQ(first.front().begin, 0);
    EXPECT_EQ(first.back().end, 4096);
    for (const auto& w : plan.workers) {
      std::int64_t keys = 0;
      for (const auto& r : w.keys) keys += r.size();
      EXPECT_NEAR(static_cast<double>(keys), 4096.0 / static_cast<double>(workers), 2.0);
    }
  }
  // Contiguous halves would give the first worker 3/4 of the work: the reason for zig-zag.
  const auto s = shape_of(1, 1, 1, 4096, 4096, true);
  EXPECT_NEAR(visible_pairs(s, {0, 2048}) / visible_pairs(s, {0, 4096}), 0.75, 1e-3);
}

TEST(ShardPlan, CausalPrefixIsSharedEvenly) {
  // Nk > Nq: keys 0..Nk-Nq are seen by every query, the rest form the triangle.
  for (auto [nq, nk] : {std::pair{1000, 3000}, {3000, 1000}, {1, 5000}, {777, 778}}) {
    const auto s = shape_of(1, 2, 2, nq, nk, true);
    const ShardPlan plan = plan_shards(s, 3, ShardMode::keys);
    expect_partition(plan, nk);
    EXPECT_LT(plan.imbalance(), 1.01) << nq << " x " << nk;
    EXPECT_DOUBLE_EQ(plan.flops(), 4.0 * 8 * visible_pairs(s, {0, nk}));
    for (const auto& w : plan.workers)
      for (const auto& r : w.keys) EXPECT_EQ(r.causal, r.end - 1 > nk - nq) << r.begin << ".." << r.end;
  }
}

TEST(ShardPlan, KeyLengthsBoundTheKeys) {
  const auto s = shape_of(2, 1, 1, 64, 64, false);
  const std::vector<std::int32_t> lengths{10, 30};
  const ShardPlan plan = plan_shards(s, 2, ShardMode::keys, lengths);
  expect_partition(plan, 30);
  EXPECT_DOUBLE_EQ(plan.flops(), 4.0 * 8 * 64 * 40);
  // No visible key at all: every worker idle.
  const std::vector<std::int32_t> none{0, 0};
  for (const auto& w : plan_shards(s, 2, ShardMode::keys, none).workers) EXPECT_TRUE(w.idle());
}

TEST(ShardPlan, NonCausalKeysAreContiguousAndEven) {
  const auto s = shape_of(1, 4, 2, 100, 1001, false);
  const ShardPlan plan = plan_shards(s, 3, ShardMode::keys);
  ASSERT_EQ(plan.workers.size(), 3u);
  expect_partition(plan, 1001);
  for (const auto& w : plan.workers) {
    ASSERT_EQ(w.keys.size(), 1u);
    EXPECT_FALSE(w.keys[0].causal);
  }
  EXPECT_LT(plan.imbalance(), 1.003);
}

TEST(ShardPlan, AutomaticPicksHeadsWhenBalanced) {
  // 16 (batch, kv head) pairs over 2 workers: heads.
  auto plan = plan_shards(shape_of(1, 16, 16, 64, 64, true), 2);
  EXPECT_EQ(plan.mode, ShardMode::heads);
  EXPECT_EQ(plan.workers[0].unit_end, 8);
  EXPECT_EQ(plan.workers[1].unit_begin, 8);
  EXPECT_DOUBLE_EQ(plan.imbalance(), 1.0);
  // 3 pairs over 2 workers: 2 : 1 is 33% off the mean, keys.
  EXPECT_EQ(plan_shards(shape_of(1, 3, 3, 64, 64, false), 2).mode, ShardMode::keys);
  // MQA: one kv head, whatever Hq: keys.
  EXPECT_EQ(plan_shards(shape_of(1, 8, 1, 64, 64, false), 2).mode, ShardMode::keys);
  // 9 pairs over 8 workers: keys; 16 over 3 (5, 5, 6): heads.
  EXPECT_EQ(plan_shards(shape_of(9, 1, 1, 64, 64, false), 8).mode, ShardMode::keys);
  EXPECT_EQ(plan_shards(shape_of(16, 1, 1, 64, 64, false), 3).mode, ShardMode::heads);
  // One worker: everything, heads.
  plan = plan_shards(shape_of(1, 1, 1, 64, 64, false), 1);
  EXPECT_EQ(plan.mode, ShardMode::heads);
  EXPECT_EQ(plan.workers[0].unit_end, 1);
}

TEST(ShardPlan, ForcedHeadsMayLeaveWorkersIdle) {
  const auto plan = plan_shards(shape_of(1, 2, 1, 8, 8, false), 3, ShardMode::heads);
  int busy = 0;
  for (const auto& w : plan.workers) busy += w.idle() ? 0 : 1;
  EXPECT_EQ(busy, 1);
  EXPECT_EQ(plan.workers.back().describe(ShardMode::heads), "heads 0..0");
}

TEST(ShardMode, ParsesItsNames) {
  for (auto mode : {ShardMode::automatic, ShardMode::heads, ShardMode::keys})
    EXPECT_EQ(parse_shard_mode(to_string(mode)), mode);
  EXPECT_FALSE(parse_shard_mode("rows"));
}

HostArray iota(std::vector<std::int64_t> shape) {
  HostArray a = zeros(DType::f32, std::move(shape));
  auto* values = reinterpret_cast<float*>(a.data.data());
  std::iota(values, values + a.element_count(), 0.0f);
  return a;
}

float at(const HostArray& a, std::initializer_list<std::int64_t> index) {
  std::int64_t flat = 0, i = 0;
  for (auto x : index) flat = flat * a.shape[static_cast<std::size_t>(i++)] + x;
  float v;
  std::memcpy(&v, a.data.data() + flat * 4, 4);
  return v;
}

TEST(HostSlices, SliceAndPlaceRoundTrip) {
  const HostArray a = iota({3, 4, 5, 2});
  const std::array<AxisRange, 3> box{AxisRange{1, 3}, AxisRange{1, 2}, AxisRange{2, 5}};
  auto s = slice(a, box);
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->shape, (std::vector<std::int64_t>{2, 1, 3, 2}));
  EXPECT_EQ(at(*s, {0, 0, 0, 0}), at(a, {1, 1, 2, 0}));
  EXPECT_EQ(at(*s, {1, 0, 2, 1}), at(a, {2, 1, 4, 1}));
  HostArray b = zeros(DType::f32, {3, 4, 5, 2});
  const std::array<std::int64_t, 3> corner{1, 1, 2};
  ASSERT_TRUE(place(b, corner, *s));
  EXPECT_EQ(at(b, {2, 1, 4, 1}), at(a, {2, 1, 4, 1}));
  EXPECT_EQ(at(b, {0, 0, 0, 0}), 0.0f);
  // Whole axes after the box: one run per box row.
  auto whole = slice(a, std::array{AxisRange{2, 3}});
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->shape, (std::vector<std::int64_t>{1, 4, 5, 2}));
  EXPECT_EQ(at(*whole, {0, 3, 4, 1}), at(a, {2, 3, 4, 1}));
}

TEST(HostSlices, RefusesBoxesOutside) {
  const HostArray a = iota({2, 3});
  EXPECT_FALSE(slice(a, std::array{AxisRange{1, 3}}));
  HostArray b = zeros(DType::f32, {2, 3});
  EXPECT_FALSE(place(b, std::array<std::int64_t, 1>{1}, iota({2, 3})));
  EXPECT_FALSE(place(b, std::array<std::int64_t, 1>{0}, iota({2, 2})));  // axis 1 is not whole
}

TEST(HostSlices, BoxesAreViewsWhereContiguous) {
  const HostArray a = iota({3, 4, 5, 2});
  // Heads 1..2 of batch 2: one run of the array, no copy.
  auto view = box_of(a, std::array{AxisRange{2, 3}, AxisRange{1, 3}});
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->storage);
  EXPECT_EQ(view->shape, (std::vector<std::int64_t>{1, 2, 5, 2}));
  EXPECT_EQ(view->bytes.data(), a.data.data() + ((2 * 4 + 1) * 5 * 2) * 4);
  EXPECT_EQ(view->bytes.size(), 2u * 5 * 2 * 4);
  // Heads 1..2 of every batch: three runs, a copy equal to slice().
  auto copy = box_of(a, std::array{AxisRange{0, 3}, AxisRange{1, 3}});
  ASSERT_TRUE(copy);
  ASSERT_TRUE(copy->storage);
  const auto sliced = slice(a, std::array{AxisRange{0, 3}, AxisRange{1, 3}});
  ASSERT_TRUE(sliced);
  EXPECT_TRUE(std::equal(copy->bytes.begin(), copy->bytes.end(), sliced->data.begin(), sliced->data.end()));
  // The whole array: a view.
  auto whole = box_of(a, std::array{AxisRange{0, 3}});
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->storage);
  EXPECT_EQ(whole->bytes.size(), a.data.size());
  EXPECT_FALSE(box_of(a, std::array{AxisRange{0, 4}}));
}

TEST(HostSlices, HeadBoxesCoverTheUnitsInOrder) {
  // units 3..13 of 4 kv heads: batch 0 head 3, batches 1..2 whole, batch 3 heads 0..1
  const auto boxes = head_boxes(3, 14, 4);
  ASSERT_EQ(boxes.size(), 3u);
  EXPECT_EQ(boxes[0].batches.begin, 0);
  EXPECT_EQ(boxes[0].kv_heads.begin, 3);
  EXPECT_EQ(boxes[0].kv_heads.end, 4);
  EXPECT_EQ(boxes[1].batches.begin, 1);
  EXPECT_EQ(boxes[1].batches.end, 3);
  EXPECT_EQ(boxes[1].kv_heads.size(), 4);
  EXPECT_EQ(boxes[2].batches.begin, 3);
  EXPECT_EQ(boxes[2].kv_heads.end, 2);
  EXPECT_TRUE(head_boxes(5, 5, 4).empty());
  EXPECT_EQ(head_boxes(1, 3, 4).size(), 1u);  // inside one batch
}

}  // namespace
}  // namespace aat::attention
