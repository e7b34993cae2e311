// The attention kernel against the double-precision reference (reference.hpp): every mask,
// GQA/MQA, head dims, f16, large logits, split-K, NaN, the tensor-core path, tiling reports.
// Tolerances and why: attention_test_support.hpp. AAT_ATTENTION_VERBOSE=1 prints every case.
#include "attention_test_support.hpp"

namespace aat::attention {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the suites' shared vocabulary

TEST_F(AttentionKernel, NoMaskMatchesReference) {
  // Sizes that are not multiples of any tile, each batch/head count kept small.
  for (auto [n, b, h, d] : std::vector<std::array<std::int64_t, 4>>{
           {1, 2, 3, 64}, {7, 2, 2, 64}, {63, 2, 2, 64}, {65, 2, 3, 64}, {257, 1, 2, 32}}) {
    Case c{.B = b, .Hq = h, .Hkv = h, .Nq = n, .Nk = n, .D = d, .seed = static_cast<std::uint32_t>(n)};
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, NqDifferentFromNkMatchesReference) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{1, 257}, {7, 65}, {65, 7}, {63, 1}, {33, 129}}) {
    Case c{.B = 2, .Hq = 2, .Hkv = 2, .Nq = nq, .Nk = nk, .D = 32, .seed = static_cast<std::uint32_t>(nq * 1000 + nk)};
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, CustomScaleMatchesReference) {
  Case c{.B = 1, .Hq = 2, .Hkv = 2, .Nq = 17, .Nk = 40, .D = 32, .scale = 0.3f};
  expect_matches_reference(c);
}

TEST_F(AttentionKernel, CausalMatchesReference) {
  for (auto [n, b, h, d] : std::vector<std::array<std::int64_t, 4>>{
           {1, 2, 2, 64}, {7, 2, 2, 64}, {63, 2, 2, 64}, {65, 2, 3, 64}, {257, 1, 2, 32}}) {
    Case c{.B = b, .Hq = h, .Hkv = h, .Nq = n, .Nk = n, .D = d, .causal = true,
        .seed = static_cast<std::uint32_t>(100 + n)};
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, CausalWithFewerQueriesThanKeys) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{1, 257}, {7, 65}, {63, 257}, {16, 17}, {33, 40}}) {
    Case c{.B = 1, .Hq = 2, .Hkv = 2, .Nq = nq, .Nk = nk, .D = 32, .causal = true,
        .seed = static_cast<std::uint32_t>(200 + nq + nk)};
    expect_matches_reference(c);
  }
}

// Query i sees keys j <= i + Nk - Nq: rows i < Nq - Nk see nothing.
TEST_F(AttentionKernel, CausalWithMoreQueriesThanKeysMasksEarlyRows) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{65, 7}, {257, 63}, {7, 1}, {40, 33}}) {
    Case c{.B = 2, .Hq = 1, .Hkv = 1, .Nq = nq, .Nk = nk, .D = 32, .causal = true,
        .seed = static_cast<std::uint32_t>(300 + nq + nk)};
    const auto [gpu, want] = expect_matches_reference(c);
    for (std::int64_t b = 0; b < c.B; ++b)
      for (std::int64_t i = 0; i < nq - nk; ++i) expect_masked_row(c, gpu, b, 0, i);
  }
}

TEST_F(AttentionKernel, KeyLengthsMaskTrailingKeys) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (bool causal : {false, true}) {
      Case c{.B = 5, .Hq = 2, .Hkv = 2, .Nq = 33, .Nk = 65, .D = 32, .dtype = dtype, .causal = causal,
          .lengths = {65, 1, 0, 37, 64}, .seed = causal ? 401u : 400u};
      const auto [gpu, want] = expect_matches_reference(c);
      for (std::int64_t h = 0; h < c.Hq; ++h)
        for (std::int64_t i = 0; i < c.Nq; ++i) expect_masked_row(c, gpu, 2, h, i);  // length 0
      std::size_t nan = 0;
      for (float x : gpu.out) nan += std::isnan(x) ? 1 : 0;
      EXPECT_EQ(nan, 0u) << c.name();
    }
  }
}

// Causal with Nq > Nk and short key lengths: a mix of rows masked by each rule.
TEST_F(AttentionKernel, KeyLengthsWithCausalMoreQueriesThanKeys) {
  Case c{.B = 3, .Hq = 1, .Hkv = 1, .Nq = 70, .Nk = 50, .D = 16, .causal = true, .lengths = {50, 10, 0}, .seed = 410};
  expect_matches_reference(c);
}

// The bias [bias_b, bias_h, Nq, Nk]: full, and broadcast over batch and heads, heads, batch.
TEST_F(AttentionKernel, BiasFullAndBroadcastShapes) {
  for (auto [bias_b, bias_h, seed] :
       std::vector<std::array<std::int64_t, 3>>{{2, 3, 500}, {1, 1, 501}, {2, 1, 502}, {1, 3, 503}}) {
    Case c{.B = 2, .Hq = 3, .Hkv = 3, .Nq = 33, .Nk = 65, .D = 32, .bias_b = bias_b, .bias_h = bias_h,
        .seed = static_cast<std::uint32_t>(seed)};
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, BiasWithCausalGqaAndKeyLengths) {
  Case c{.B = 2, .Hq = 4, .Hkv = 2, .Nq = 40, .Nk = 70, .D = 32, .causal = true, .lengths = {70, 45}, .bias_b = 2,
      .bias_h = 1, .seed = 504};
  expect_matches_reference(c);
}

// A bias of -inf masks a key like any mask; a row whose every bias is -inf has no visible key.
TEST_F(AttentionKernel, MinusInfinityBiasMasks) {
  Case c{.B = 1, .Hq = 1, .Hkv = 1, .Nq = 9, .Nk = 40, .D = 16, .bias_b = 1, .bias_h = 1, .seed = 505};
  Inputs in = random_inputs(c);
  const float inf = std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < c.Nk; ++j) {
    in.bias[static_cast<std::size_t>(0 * c.Nk + j)] = j % 3 == 0 ? -inf : 0.0f;  // row 0: every third key masked
    in.bias[static_cast<std::size_t>(4 * c.Nk + j)] = -inf;                      // row 4: every key masked
  }
  const auto [gpu, want] = expect_matches_reference(c, in);
  expect_masked_row(c, gpu, 0, 0, 4);
}

TEST_F(AttentionKernel, GroupedQueryAttention) {
  for (bool causal : {false, true}) {
    Case c{.B = 2, .Hq = 8, .Hkv = 2, .Nq = 33, .Nk = 65, .D = 32, .causal = causal, .seed = causal ? 601u : 600u};
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, MultiQueryAttention) {
  for (auto [nq, nk] : std::vector<std::array<std::int64_t, 2>>{{1, 257}, {65, 65}}) {
    Case c{.B = 1, .Hq = 8, .Hkv = 1, .Nq = nq, .Nk = nk, .D = 32, .causal = true,
        .seed = static_cast<std::uint32_t>(610 + nq)};
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, HeadDimsF32) {
  for (std::int64_t d : {8, 16, 32, 64, 80, 128, 256}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = d, c.causal = d == 80;
    c.seed = static_cast<std::uint32_t>(700 + d);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, HeadDimsF16) {
  for (std::int64_t d : {8, 16, 32, 64, 80, 128, 256}) {
    Case c;
    c.B = 1, c.Hq = c.Hkv = 2, c.Nq = 33, c.Nk = 65, c.D = d, c.dtype = DType::f16, c.causal = d == 128;
    c.seed = static_cast<std::uint32_t>(800 + d);
    expect_matches_reference(c);
  }
}

TEST_F(AttentionKernel, F16SizesMasksAndGqa) {
  for (std::int64_t n : {1, 7, 63, 65, 257}) {
    Case c{.B = 1, .Hq = 4, .Hkv = 2, .Nq = n, .Nk = n, .D = 64, .dtype = DType::f16, .causal = true};
    if (n == 257) c.D = 16;
    c.seed = static_cast<std::uint32_t>(900 + n);
    expect_matches_reference(c);
  }
  Case c{.B = 2, .Hq = 8, .Hkv = 1, .Nq = 20, .Nk = 70, .D = 64, .dtype = DType::f16, .causal = true,
      .lengths = {70, 33}, .bias_b = 1, .bias_h = 8, .seed = 950};
  expect_matches_reference(c);
}

// Scores ~ +-1e4: exp(1e4) overflows (and exp(-1e4) underflows) in f32 and in double, so a
// softmax that does not subtract the row max gives Inf/NaN. Integer inputs with scale 1 keep
// every score exact in f32 (see the tolerance note at the top).
Inputs large_logit_inputs(const Case& c, float offset) {
  std::mt19937 rng(c.seed);
  std::uniform_int_distribution<int> small(-1, 1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Inputs in;
  in.q.resize(static_cast<std::size_t>(c.B * c.Hq * c.Nq * c.D));
  in.k.resize(static_cast<std::size_t>(c.B * c.Hkv * c.Nk * c.D));
  in.v.resize(in.k.size());
  for (std::size_t i = 0; i < in.q.size(); ++i)
    in.q[i] = i % static_cast<std::size_t>(c.D) == 0 ? 100.0f : static_cast<float>(small(rng));
  for (std::size_t i = 0; i < in.k.size(); ++i)
    in.k[i] = i % static_cast<std::size_t>(c.D) == 0 ? offset / 100.0f : static_cast<float>(small(rng));
  for (auto& e : in.v) e = normal(rng);
  if (c.dtype == DType::f16) in.v = ref::round_to_half(in.v);  // Q and K are exact in f16 already
  return in;
}

TEST_F(AttentionKernel, LargeLogitsDoNotOverflow) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (float offset : {1e4f, -1e4f}) {
      for (bool causal : {false, true}) {
        Case c{.B = 1, .Hq = 2, .Hkv = 2, .Nq = 33, .Nk = 65, .D = 32, .dtype = dtype, .causal = causal,
            .scale = 1.0f, .seed = 1000};
        const Inputs in = large_logit_inputs(c, offset);
        const auto [gpu, want] = expect_matches_reference(c, in);
        expect_all_finite(c, gpu);
        EXPECT_GT(std::abs(want.lse[0]), 9000.0) << "the test must produce logits ~1e4";
      }
    }
  }
}

// The same through the split-K merge. The merged O must not depend on how the keys were cut:
// the partial states have to carry the row max exactly. (A merge that keeps only each split's
// f32 lse = m + log l loses ~|lse| 2^-24 ~ 6e-4 at |lse| ~ 1e4 in every merge weight
// exp(lse_s - max lse), i.e. ~1e-4 in O, far above the unsplit kernel's ~1e-6 here.)
TEST_F(AttentionKernel, LargeLogitsThroughSplitKMerge) {
  for (float offset : {1e4f, -1e4f}) {
    Case c{.B = 1, .Hq = 2, .Hkv = 2, .Nq = 3, .Nk = 257, .D = 32, .splits = 4, .scale = 1.0f, .seed = 1001};
    const auto [gpu, want] = expect_matches_reference(c, large_logit_inputs(c, offset));
    expect_all_finite(c, gpu);
  }
}

// ---------------------------------------------------------------------------------------------
// Split-K: the same answer with the keys cut into `splits` ranges and merged.

TEST_F(AttentionKernel, SplitKMatchesUnsplit) {
  struct SplitCase {
    std::int64_t nq, nk;
    std::uint32_t splits;
    bool causal;
    std::vector<std::int32_t> lengths;
  };
  const std::vector<SplitCase> cases{
      {1, 257, 4, false, {}},        // decode, Nk not a tile multiple
      {5, 331, 3, false, {}},        // Nk prime
      {5, 211, 3, false, {}},        // Nk prime, the last split may cover no tile
      {3, 331, 4, true, {}},         // causal, Nq < Nk
      {40, 257, 4, true, {}},        // causal prefill-ish: early rows see only the first split
      {2, 257, 4, false, {5, 257}},  // batch 0: splits past key 5 see nothing
      {1, 300, 3, false, {0, 299}},  // batch 0 fully masked in every split
  };
  for (const auto& s : cases) {
    Case c{.B = s.lengths.empty() ? 1 : 2, .Hq = 4, .Hkv = 2, .Nq = s.nq, .Nk = s.nk, .D = 32, .causal = s.causal,
        .lengths = s.lengths, .seed = static_cast<std::uint32_t>(1100 + s.nk + s.nq)};
    const Inputs in = random_inputs(c);
    c.splits = s.splits;
    const auto [split, want] = expect_matches_reference(c, in);
    c.splits = 1;
    const auto [single, want1] = expect_matches_reference(c, in);
    EXPECT_EQ(single.tiling.splits, 1u) << c.name();
    const std::uint32_t tiles = static_cast<std::uint32_t>((s.nk + split.tiling.block_kv - 1) / split.tiling.block_kv);
    if (s.splits <= tiles) EXPECT_EQ(split.tiling.splits, s.splits) << c.name() << " (forced)";
    else EXPECT_LE(split.tiling.splits, s.splits) << c.name();
    EXPECT_GE(split.tiling.splits, 1u);

    const auto q_dims = c.q_shape();
    const auto l_dims = c.lse_shape();
    const auto o_cmp = ref::compare(split.out, widen(single.out), kSplitAbs, kSplitRel, q_dims);
    const auto l_cmp = ref::compare(split.lse, widen(single.lse), kSplitAbs, kSplitRel, l_dims);
    EXPECT_TRUE(o_cmp.ok) << c.name() << ": O split " << s.splits << " vs 1: " << ref::describe(o_cmp);
    EXPECT_TRUE(l_cmp.ok) << c.name() << ": L split " << s.splits << " vs 1: " << ref::describe(l_cmp);
    if (verbose())
      std::printf("  split %u vs 1: O max|diff| %.3g  L max|diff| %.3g\n", s.splits, o_cmp.max_abs_error,
                  l_cmp.max_abs_error);
  }
}

TEST_F(AttentionKernel, SplitKF16AndDefaultChoice) {
  Case c{.B = 1, .Hq = 8, .Hkv = 2, .Nq = 1, .Nk = 257, .D = 64, .dtype = DType::f16, .seed = 1200};
  const Inputs in = random_inputs(c);
  c.splits = 4;
  expect_matches_reference(c, in);
  c.splits = std::nullopt;  // whatever optimize_tiling picks for a decode shape on this device
  expect_matches_reference(c, in);
}

// ---------------------------------------------------------------------------------------------
// NaN in one query row: that row is NaN (O and L), every other row is untouched.

TEST_F(AttentionKernel, NanInOneQueryRowStaysInThatRow) {
  struct NanCase {
    DType dtype;
    std::int64_t nq, nk;
    std::optional<std::uint32_t> splits;
    bool causal;
  };
  for (const auto& n : std::vector<NanCase>{{DType::f32, 65, 65, std::nullopt, false},
                                            {DType::f32, 65, 65, std::nullopt, true},
                                            {DType::f16, 33, 65, std::nullopt, false},
                                            {DType::f32, 3, 257, 4u, false}}) {
    Case c{.B = 1, .Hq = 2, .Hkv = 2, .Nq = n.nq, .Nk = n.nk, .D = 32, .dtype = n.dtype, .causal = n.causal,
        .splits = n.splits, .seed = 1300};
    Inputs in = random_inputs(c);
    const std::int64_t h = 1, i = 2, d = 3;
    in.q[static_cast<std::size_t>(((0 * c.Hq + h) * c.Nq + i) * c.D + d)] = kNaN;
    const auto [gpu, want] = expect_matches_reference(c, in);  // the reference row is NaN, the rest finite
    const auto row = static_cast<std::size_t>((0 * c.Hq + h) * c.Nq + i);
    EXPECT_TRUE(std::isnan(want.lse[row]));
    std::size_t nan_elsewhere = 0;
    for (std::size_t e = 0; e < gpu.out.size(); ++e)
      if (e / static_cast<std::size_t>(c.D) != row && std::isnan(gpu.out[e])) ++nan_elsewhere;
    EXPECT_EQ(nan_elsewhere, 0u) << c.name() << ": NaN leaked into other rows";
  }
}

// ---------------------------------------------------------------------------------------------
// What the result reports.

// The tensor-core path where the device has it (the H100 does; lavapipe does not): every mask
// kind, GQA, tile edges and split-K against the reference, and against the scalar path.
TEST_F(AttentionKernel, CooperativeMatrixPathMatchesReferenceAndScalarPath) {
  AttentionShape probe;
  probe.dtype = DType::f16;
  probe.head_dim = 64;
  std::vector<KernelPath> paths;
  for (KernelPath path : {KernelPath::cooperative_matrix_nv, KernelPath::cooperative_matrix_khr})
    if (path_supported(context()->device(), probe, path)) paths.push_back(path);
  if (paths.empty()) GTEST_SKIP() << "neither VK_NV_cooperative_matrix nor VK_KHR_cooperative_matrix on this device";
  for (KernelPath path : paths)
    for (std::int64_t d : {64, 128}) expect_path_matches(path, d);
}

// The coopmat2 path where the device has it (the H200 does; lavapipe does not): head dims off
// the 16 grid and up to 256, every mask kind, GQA, tile edges and split-K against the
// reference, and against the scalar path.
TEST_F(AttentionKernel, Coopmat2PathMatchesReferenceAndScalarPath) {
  AttentionShape probe;
  probe.dtype = DType::f16;
  probe.head_dim = 64;
  if (!coopmat2_supported(context()->device(), probe))
    GTEST_SKIP() << "the coopmat2 path cannot run here: it needs "
                 << (path_compiled(KernelPath::cooperative_matrix2) ? "" : "a build with glslang >= 15.1 and ")
                 << "a device with VK_NV_cooperative_matrix2 ('" << context()->device().name << "' has "
                 << (can_run(context()->device(), KernelFamily::coopmat2) ? "it" : "not") << ")";
  for (std::int64_t d : {32, 40, 64, 80, 96, 128, 256}) expect_path_matches(KernelPath::cooperative_matrix2, d);
}

// Every coopmat2 kernel variant (how row sums, row statistics and P's exponentials are formed) computes the same
// attention: each against the reference on edges, masks and splits.
TEST_F(AttentionKernel, Coopmat2VariantsMatchReference) {
  AttentionShape probe;
  probe.dtype = DType::f16;
  probe.head_dim = 64;
  if (!coopmat2_supported(context()->device(), probe)) GTEST_SKIP() << "the coopmat2 path cannot run here";
  for (std::uint32_t variant : {0u, 1u, 2u, 3u}) {
    AttentionOptions extra;
    extra.tiling.variant = variant;
    for (std::int64_t d : {40, 64, 128}) expect_path_matches(KernelPath::cooperative_matrix2, d, extra, {{130, 257}});
  }
}

// The 128-row tile over 256 invocations (chosen for D <= 64 causal at long N) against the
// reference on the same edges: query tiles of 128 rows cut by Nq, the diagonal inside a tile.
TEST_F(AttentionKernel, Coopmat2TallTileMatchesReference) {
  AttentionShape probe;
  probe.dtype = DType::f16;
  probe.head_dim = 64;
  if (!coopmat2_supported(context()->device(), probe)) GTEST_SKIP() << "the coopmat2 path cannot run here";
  if (context()->device().features.cooperative_matrix2.workgroup_scope_max_workgroup_size < 256)
    GTEST_SKIP() << "workgroup-scope matrices over 256 invocations cannot run here";
  for (std::uint32_t variant : {2u, 3u}) {
    AttentionOptions extra;
    extra.tiling.block_q = 128;
    extra.tiling.workgroup_size = 256;
    extra.tiling.variant = variant;
    for (std::int64_t d : {32, 40, 64})  // D = 40: columns padded to the 32-column granule
      expect_path_matches(KernelPath::cooperative_matrix2, d, extra, {{1, 200}, {130, 257}, {300, 300}});
  }
}

TEST_F(AttentionKernel, ForcingTensorCoresWhereTheyCannotRunIsUnsupported) {
  Case c;
  c.D = 32;  // no coopmat1 variant for D = 32 on any device
  c.dtype = DType::f16;
  for (KernelPath path : {KernelPath::cooperative_matrix_nv, KernelPath::cooperative_matrix_khr}) {
    c.path = path;
    expect_forced_path_unsupported(c, "cooperative_matrix");
  }
  c.D = 64;
  c.dtype = DType::f32;  // the coopmat2 kernels are f16
  c.path = KernelPath::cooperative_matrix2;
  expect_forced_path_unsupported(c, "VK_NV_cooperative_matrix2");
}

TEST_F(AttentionKernel, ResultReportsFlopsAndTiling) {
  struct Shape {
    std::int64_t B, Hq, Hkv, Nq, Nk, D;
    bool causal;
    DType dtype;
  };
  for (const auto& s : std::vector<Shape>{{2, 4, 2, 33, 33, 64, true, DType::f32},
                                          {2, 4, 2, 33, 33, 64, false, DType::f32},
                                          {1, 8, 1, 1, 257, 128, true, DType::f16},
                                          {1, 2, 2, 65, 7, 32, true, DType::f32}}) {
    Case c{.B = s.B, .Hq = s.Hq, .Hkv = s.Hkv, .Nq = s.Nq, .Nk = s.Nk, .D = s.D, .dtype = s.dtype, .causal = s.causal};
    SCOPED_TRACE(c.name());
    const GpuRun gpu = run(c, random_inputs(c));
    double want = 4.0 * static_cast<double>(s.B * s.Hq * s.Nq * s.Nk * s.D);
    if (s.causal && s.Nq == s.Nk) want /= 2;
    EXPECT_DOUBLE_EQ(gpu.flops, want);
    AttentionShape shape;
    shape.batch = s.B, shape.q_heads = s.Hq, shape.kv_heads = s.Hkv, shape.q_len = s.Nq, shape.kv_len = s.Nk;
    shape.head_dim = s.D, shape.dtype = s.dtype, shape.causal = s.causal;
    EXPECT_DOUBLE_EQ(attention_flops(shape), want);
    // The path that ran (AAT_ATTENTION_PATH may force one) and the tiling it gives this shape.
    const Tiling expected = optimize_tiling_for(context()->device(), shape, gpu.tiling.path);
    EXPECT_EQ(gpu.tiling.block_q, expected.block_q);
    EXPECT_EQ(gpu.tiling.block_kv, expected.block_kv);
    EXPECT_EQ(gpu.tiling.workgroup_size, expected.workgroup_size);
    EXPECT_EQ(gpu.tiling.splits, expected.splits);
    EXPECT_EQ(gpu.tiling.shared_bytes, expected.shared_bytes);
    EXPECT_FALSE(gpu.tiling.reason.empty());
    EXPECT_GE(gpu.gpu_ms, 0.0);
    // Forced splits change only the split count.
    c.splits = 2;
    const GpuRun forced = run(c, random_inputs(c));
    EXPECT_EQ(forced.tiling.block_q, expected.block_q);
    EXPECT_EQ(forced.tiling.block_kv, expected.block_kv);
    EXPECT_EQ(forced.tiling.workgroup_size, expected.workgroup_size);
    EXPECT_LE(forced.tiling.splits, 2u);
    EXPECT_GE(forced.tiling.splits, 1u);
    EXPECT_DOUBLE_EQ(forced.flops, want);
  }
}

}  // namespace
}  // namespace aat::attention
