// Exact attention in chunks of query rows (src/query_chunks.hpp): the split workspace that grew
// as Nq x Nk on CPU devices stays within its budget, and a chunked run gives what one run gives.
#include "../src/query_chunks.hpp"

#include "aat/attention/loop_limit.hpp"
#include "attention_test_support.hpp"
#include "synthetic_device.hpp"

namespace aat::attention {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the suites' shared vocabulary

// Issue 18: 512 MiB of f32 Q, K, V ([1, 1, 2^21, 64]) asked for a 1 TiB workspace on lavapipe.
TEST(QueryChunks, TheIssuesShapeNoLongerNeedsATebibyte) {
  AttentionShape shape;
  shape.q_len = shape.kv_len = std::int64_t{1} << 21;
  shape.head_dim = 64;
  shape.causal = true;
  const Tiling t = optimize_tiling(aat::testing::lavapipe_like(), shape);
  EXPECT_GT(detail::split_workspace_bytes(shape, t), std::uint64_t{500} << 30);  // what one run would need
  const std::int64_t rows = detail::query_chunk_rows(shape, t);
  ASSERT_LT(rows, shape.q_len);
  EXPECT_EQ(rows % t.block_q, 0);
  AttentionShape chunk = shape;
  chunk.q_len = rows;
  EXPECT_LE(detail::split_workspace_bytes(chunk, t), detail::kSplitWorkspaceBudget);
}

TEST(QueryChunks, SmallWorkspacesAndGpusRunInOnePiece) {
  AttentionShape shape;
  shape.q_len = shape.kv_len = 4096;
  EXPECT_EQ(detail::query_chunk_rows(shape, optimize_tiling(aat::testing::lavapipe_like(), shape)), 4096);
  DeviceInfo gpu = aat::testing::lavapipe_like();
  gpu.type = DeviceType::discrete_gpu;
  gpu.limits.compute_units = 132;
  shape.q_len = shape.kv_len = std::int64_t{1} << 21;
  EXPECT_EQ(detail::query_chunk_rows(shape, optimize_tiling(gpu, shape)), shape.q_len);
}

class QueryChunksOnDevice : public AttentionKernel {
 protected:
  // Runs the case in chunks of `rows` query rows and compares with the double reference.
  void expect_chunked_matches_reference(const Case& c, std::int64_t rows) {
    SCOPED_TRACE(c.name() + " in chunks of " + std::to_string(rows));
    const Inputs in = random_inputs(c);
    const DeviceInputs d = to_device(c, in);
    const AttentionOptions options = d.options();
    const AttentionShape shape = unwrap(check_inputs(d.q, d.k, d.v, options));
    const AttentionResult r = unwrap(detail::run_in_query_chunks(attention(), d.q, d.k, d.v, options, shape, rows));
    EXPECT_THAT(r.tiling.reason, HasSubstr("chunks of at most " + std::to_string(rows) + " query rows"));
    const ref::Result want = reference_for(c, in);
    const bool half = c.dtype == DType::f16;
    const auto out = ref::compare(unwrap(r.out.download_f32()), want.out, half ? kF16Abs : kF32Abs,
                                  half ? kF16Rel : kF32Rel, c.q_shape());
    const auto lse = ref::compare(unwrap(r.lse.download_f32()), want.lse, kLseAbs, kLseRel, c.lse_shape());
    EXPECT_TRUE(out.ok) << "O " << ref::describe(out);
    EXPECT_TRUE(lse.ok) << "L " << ref::describe(lse);
  }
};

TEST_F(QueryChunksOnDevice, CausalSquareAndBothRectanglesMatchTheReference) {
  for (const auto& [nq, nk] : {std::pair{200, 200}, {70, 300}, {300, 70}}) {
    Case c{.B = 2, .Hq = 4, .Hkv = 2, .Nq = nq, .Nk = nk, .D = 32, .causal = true};
    expect_chunked_matches_reference(c, 64);  // Nq > Nk: the first chunks see no key at all
  }
}

TEST_F(QueryChunksOnDevice, BiasKeyLengthsAndF16AreCutWithTheRows) {
  Case c{.B = 2, .Hq = 2, .Nq = 150, .Nk = 170, .D = 64, .causal = true, .lengths = {120, 170}, .bias_b = 2,
      .bias_h = 1};
  expect_chunked_matches_reference(c, 32);
  Case h;
  h.Nq = h.Nk = 130;
  h.D = 16;
  h.dtype = DType::f16;
  expect_chunked_matches_reference(h, 32);
}

}  // namespace
}  // namespace aat::attention
