// The decode path (attention_decode_f16.comp, flash-decoding) against the double-precision
// reference: query rows per K/V head from 1 to 16 (GQA groups x Nq), head dims on and off the
// 8-lane slice grid, key counts that are not multiples of the chunk, every mask, forced split
// counts, NaN and fully masked rows. It runs on lavapipe (subgroup 8) in CI and on the GPU
// (subgroup 32), which exercise both of the kernel's lane layouts.
// Tolerances: attention_test_support.hpp (f16 storage: O 1e-3, L 2e-5 — the decode path keeps
// P in f32, so the f16 tolerances apply without the tensor-core factor).
#include "attention_test_support.hpp"

namespace aat::attention {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the suites' shared vocabulary

Case decode_case(std::int64_t hq, std::int64_t hkv, std::int64_t nq, std::int64_t nk, std::int64_t d) {
  Case c{.B = 2, .Hq = hq, .Hkv = hkv, .Nq = nq, .Nk = nk, .D = d, .dtype = DType::f16, .path = KernelPath::decode,
      .seed = static_cast<std::uint32_t>(hq * 1000 + hkv * 100 + nq * 10 + nk + d)};
  return c;
}

TEST_F(AttentionKernel, DecodeMatchesReferenceOverRowsAndHeadDims) {
  // (Hq, Hkv, Nq): 1, 2, 4, 8 and 16 rows per K/V head, MHA and GQA.
  for (auto [hq, hkv, nq] : std::vector<std::array<std::int64_t, 3>>{
           {2, 2, 1}, {4, 2, 1}, {8, 2, 1}, {8, 1, 1}, {2, 2, 4}, {4, 1, 4}, {2, 2, 16}, {8, 1, 2}}) {
    for (std::int64_t d : {16, 40, 64, 128, 256}) {
      const Case c = decode_case(hq, hkv, nq, 333, d);
      auto [gpu, want] = expect_matches_reference(c);
      EXPECT_EQ(gpu.tiling.path, KernelPath::decode) << c.name();
    }
  }
}

// Every decode variant (the keys a lane loads ahead per step: Tiling::variant) computes the same
// attention, on rows, head dims and key counts off its step; a variant it has not is refused.
TEST_F(AttentionKernel, DecodeVariantsMatchReference) {
  for (std::uint32_t variant : {1u, 2u, 4u, 8u}) {
    AttentionOptions extra;
    extra.tiling.variant = variant;
    for (auto [hq, hkv, nq, d] : std::vector<std::array<std::int64_t, 4>>{{2, 2, 1, 128}, {8, 2, 1, 40}, {4, 4, 3, 64}}) {
      Case c = decode_case(hq, hkv, nq, 301, d);
      c.causal = nq > 1;
      const auto [gpu, want] = expect_matches_reference(c, random_inputs(c), extra);
      EXPECT_EQ(gpu.tiling.variant, variant) << c.name();
    }
  }
  Case c = decode_case(2, 2, 1, 64, 64);
  AttentionOptions three;
  three.tiling.variant = 3;
  auto d = to_device(c, random_inputs(c), three);
  auto result = attention().run(d.q, d.k, d.v, d.options());
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().what(), HasSubstr("1, 2, 4 or 8"));
}

TEST_F(AttentionKernel, DecodeMasksAndSplits) {
  for (bool causal : {false, true}) {
    for (std::uint32_t splits : {1u, 3u, 7u}) {
      Case c = decode_case(4, 2, 3, 300, 64);
      c.causal = causal;
      c.splits = splits;
      expect_matches_reference(c);
      Case masked = c;
      masked.lengths = {150, 7};
      masked.bias_b = 2, masked.bias_h = 1;
      expect_matches_reference(masked);
    }
  }
  // One key, and fewer keys than one chunk.
  expect_matches_reference(decode_case(2, 1, 1, 1, 64));
  expect_matches_reference(decode_case(2, 1, 2, 5, 128));
}

TEST_F(AttentionKernel, DecodeFullyMaskedRowsAreZero) {
  // Causal with Nq > Nk: query rows i < Nq - Nk see no key; key length 0 hides batch 1 entirely.
  Case c = decode_case(4, 2, 4, 2, 64);
  c.causal = true;
  auto [gpu, want] = expect_matches_reference(c);
  for (std::int64_t b = 0; b < c.B; ++b)
    for (std::int64_t h = 0; h < c.Hq; ++h)
      for (std::int64_t i = 0; i < c.Nq - c.Nk; ++i) expect_masked_row(c, gpu, b, h, i);
  Case empty = decode_case(4, 2, 1, 100, 64);
  empty.lengths = {60, 0};
  empty.splits = 3;
  auto [gpu2, want2] = expect_matches_reference(empty);
  for (std::int64_t h = 0; h < empty.Hq; ++h) expect_masked_row(empty, gpu2, 1, h, 0);
}

TEST_F(AttentionKernel, DecodeNanStaysInItsRow) {
  Case c = decode_case(4, 2, 2, 100, 64);
  Inputs in = random_inputs(c);
  const std::int64_t row = (1 * c.Hq + 3) * c.Nq + 1;  // batch 1, head 3, query 1
  in.q[static_cast<std::size_t>(row * c.D + 5)] = kNaN;
  auto [gpu, want] = expect_matches_reference(c, in);
  std::size_t nan_elsewhere = 0;
  for (std::size_t e = 0; e < gpu.out.size(); ++e)
    if (static_cast<std::int64_t>(e) / c.D != row && std::isnan(gpu.out[e])) ++nan_elsewhere;
  EXPECT_EQ(nan_elsewhere, 0u);
  EXPECT_TRUE(std::isnan(gpu.lse[static_cast<std::size_t>(row)]));
}

TEST_F(AttentionKernel, DecodeIsChosenForFewRowsAndRefusedForMany) {
  AttentionShape shape;
  shape.batch = 1, shape.q_heads = 8, shape.kv_heads = 1, shape.q_len = 2, shape.kv_len = 4096, shape.head_dim = 128;
  shape.dtype = DType::f16;
  EXPECT_TRUE(decode_supported(context()->device(), shape));  // 16 rows per K/V head: runs, when asked
  EXPECT_NE(optimize_tiling(context()->device(), shape).path, KernelPath::decode);  // but is not the default
  shape.q_len = 1;  // 8 rows: the default, unless the coopmat2 kernel runs the shape (faster)
  EXPECT_EQ(optimize_tiling(context()->device(), shape).path,
            coopmat2_supported(context()->device(), shape) ? KernelPath::cooperative_matrix2 : KernelPath::decode);
  shape.kv_heads = 8;  // one row per K/V head: decode first, even where the coopmat2 kernel runs
  EXPECT_EQ(optimize_tiling(context()->device(), shape).path, KernelPath::decode);
  shape.kv_heads = 1;
  shape.q_len = 3;                                                                   // 24 rows
  EXPECT_FALSE(decode_supported(context()->device(), shape));
  EXPECT_NE(optimize_tiling(context()->device(), shape).path, KernelPath::decode);
  shape.q_len = 1;
  shape.dtype = DType::f32;
  EXPECT_FALSE(decode_supported(context()->device(), shape));

  expect_forced_path_unsupported(decode_case(8, 1, 3, 64, 64), "query rows per K/V head");  // 24 rows
}

// On the tensor-core path a GQA/MQA problem whose rows all see the same keys runs with the query
// heads of each K/V head packed into one row block (pack_gqa_rows): decode with 8 and 16 rows per
// K/V head, a non-causal short prefill, MQA, key lengths and forced splits, against the reference.
TEST_F(AttentionKernel, GqaRowsPackedOnTensorCores) {
  struct Packed {
    std::int64_t hq, hkv, nq, nk, d;
    bool causal;
  };
  for (const Packed& x : std::vector<Packed>{{8, 1, 1, 333, 64, true},
                                             {32, 4, 1, 1000, 128, true},
                                             {16, 2, 1, 77, 128, false},
                                             {8, 2, 40, 200, 64, false},
                                             {12, 1, 5, 129, 80, false}}) {
    Case c = decode_case(x.hq, x.hkv, x.nq, x.nk, x.d);
    c.causal = x.causal;
    c.path = KernelPath::cooperative_matrix2;
    if (!path_supported(context()->device(), shape_of(c), *c.path)) GTEST_SKIP() << "no coopmat2 on this device";
    auto [gpu, want] = expect_matches_reference(c);
    EXPECT_NE(gpu.tiling.reason.find("packed into one row block"), std::string::npos) << c.name() << ": "
                                                                                       << gpu.tiling.reason;
    Case masked = c;
    masked.lengths = {static_cast<std::int32_t>(x.nk / 2), 1};
    masked.splits = 3;
    expect_matches_reference(masked);
  }
}

TEST(PackGqaRows, OnlyWhereEveryRowSeesTheSameKeys) {
  AttentionShape s;
  s.batch = 2, s.q_heads = 32, s.kv_heads = 4, s.q_len = 1, s.kv_len = 4096, s.head_dim = 128, s.causal = true;
  const auto packed = pack_gqa_rows(s, KernelPath::cooperative_matrix2, false);
  ASSERT_TRUE(packed.has_value());
  EXPECT_EQ(packed->q_heads, 4);
  EXPECT_EQ(packed->q_len, 8);
  EXPECT_FALSE(packed->causal);
  EXPECT_EQ(packed->batch * packed->q_heads * packed->q_len, s.batch * s.q_heads * s.q_len);  // the same rows
  EXPECT_FALSE(pack_gqa_rows(s, KernelPath::decode, false));                // another path
  EXPECT_FALSE(pack_gqa_rows(s, KernelPath::cooperative_matrix2, true));    // a bias is per query head
  s.q_len = 3;
  EXPECT_FALSE(pack_gqa_rows(s, KernelPath::cooperative_matrix2, false));   // causal rows see different keys
  s.causal = false;
  EXPECT_EQ(pack_gqa_rows(s, KernelPath::cooperative_matrix2, false)->q_len, 24);
  s.kv_heads = 32;
  EXPECT_FALSE(pack_gqa_rows(s, KernelPath::cooperative_matrix2, false));   // MHA: nothing to pack
}

}  // namespace
}  // namespace aat::attention
