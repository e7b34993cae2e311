#include "query_chunks.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace aat::attention::detail {

namespace {

// Rows [from, from + count) of every slice of `src` (slices of src_rows rows, src_stride bytes
// apart) to rows [to, to + count) of every slice of `dst` (dst_rows rows, dst_stride bytes
// apart), `bytes` of each row. Whole slices' runs of rows go as one region where the rows are
// packed alike.
struct RowCopy {
  std::uint64_t slices, count, bytes;
  std::uint64_t src_rows, from, src_stride;
  std::uint64_t dst_rows, to, dst_stride;
};

Expected<void> copy_rows(Stream& stream, const Buffer& src, const Buffer& dst, const RowCopy& c) {
  const bool packed = c.bytes == c.src_stride && c.bytes == c.dst_stride;
  for (std::uint64_t s = 0; s < c.slices; ++s) {
    const std::uint64_t src_row = s * c.src_rows + c.from, dst_row = s * c.dst_rows + c.to;
    if (packed) {
      AAT_CHECK(stream.copy(src, dst, c.count * c.bytes, src_row * c.src_stride, dst_row * c.dst_stride));
      continue;
    }
    for (std::uint64_t r = 0; r < c.count; ++r)
      AAT_CHECK(stream.copy(src, dst, c.bytes, (src_row + r) * c.src_stride, (dst_row + r) * c.dst_stride));
  }
  return {};
}

std::uint64_t u(std::int64_t x) { return static_cast<std::uint64_t>(x); }

}  // namespace

std::uint64_t split_workspace_bytes(const AttentionShape& shape, const Tiling& tiling) {
  if (tiling.splits <= 1) return 0;
  return 4 * u(tiling.splits) * u(shape.batch) * u(shape.q_heads) * u(shape.q_len) * (u(shape.head_dim) + 2);
}

std::int64_t query_chunk_rows(const AttentionShape& shape, const Tiling& tiling) {
  const std::uint64_t bytes = split_workspace_bytes(shape, tiling);
  if (bytes <= kSplitWorkspaceBudget || shape.q_len <= tiling.block_q) return shape.q_len;
  const std::uint64_t per_row = bytes / u(shape.q_len);
  const std::uint64_t rows = kSplitWorkspaceBudget / per_row / tiling.block_q * tiling.block_q;
  return static_cast<std::int64_t>(std::clamp<std::uint64_t>(rows, tiling.block_q, u(shape.q_len)));
}

Expected<AttentionResult> run_in_query_chunks(Attention& attention, const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options, const AttentionShape& shape,
                                              std::int64_t rows, const Tensor& out, const Tensor& lse) {
  const auto& context = attention.context();
  const std::int64_t B = shape.batch, Hq = shape.q_heads, Hkv = shape.kv_heads, Nq = shape.q_len,
                     Nk = shape.kv_len, D = shape.head_dim;
  const std::uint64_t row_bytes = u(D) * size_of(shape.dtype);
  AttentionResult result;
  result.flops = attention_flops(shape);
  std::vector<std::int32_t> lengths;
  if (options.key_lengths) {
    AAT_TRY(lengths, options.key_lengths->download_values<std::int32_t>());
  }
  std::int64_t chunks = 0;
  for (std::int64_t i0 = 0; i0 < Nq; i0 += rows, ++chunks) {
    const std::int64_t n = std::min(rows, Nq - i0);
    // Bottom-right causal alignment: rows before i0 + n see no key at or past Nk - Nq + i0 + n.
    const std::int64_t keys = shape.causal ? std::clamp<std::int64_t>(Nk - Nq + i0 + n, 0, Nk) : Nk;
    AAT_TRY(Stream in, Stream::create(context));
    in.set_auto_barriers(false);  // the copies write disjoint ranges
    AAT_TRY(Tensor qc, with_context(Tensor::create(context, shape.dtype, {B, Hq, n, D}), "a query chunk"));
    AAT_CHECK(copy_rows(in, q.buffer(), qc.buffer(), {u(B * Hq), u(n), row_bytes, u(Nq), u(i0), row_bytes, u(n), 0, row_bytes}));
    Tensor kc = k, vc = v;
    if (keys < Nk) {
      AAT_TRY(kc, with_context(Tensor::create(context, shape.dtype, {B, Hkv, keys, D}), "a key prefix"));
      AAT_TRY(vc, with_context(Tensor::create(context, shape.dtype, {B, Hkv, keys, D}), "a value prefix"));
      const RowCopy prefix{u(B * Hkv), u(keys), row_bytes, u(Nk), 0, row_bytes, u(keys), 0, row_bytes};
      AAT_CHECK(copy_rows(in, k.buffer(), kc.buffer(), prefix));
      AAT_CHECK(copy_rows(in, v.buffer(), vc.buffer(), prefix));
    }
    AttentionOptions chunk_options = options;
    Tensor lc, bc;
    if (options.key_lengths) {
      std::vector<std::int32_t> cut(lengths);
      for (auto& length : cut) length = static_cast<std::int32_t>(std::min<std::int64_t>(length, keys));
      AAT_TRY(lc, Tensor::from_values<std::int32_t>(context, DType::i32, {B}, cut));
      chunk_options.key_lengths = &lc;
    }
    if (const Tensor* bias = options.bias) {  // [Bb, Hb, Nq, Nk] -> [Bb, Hb, n, keys]
      const std::int64_t slices = bias->dim(0) * bias->dim(1);
      AAT_TRY(bc, with_context(Tensor::create(context, DType::f32, {bias->dim(0), bias->dim(1), n, keys}), "a bias chunk"));
      AAT_CHECK(copy_rows(in, bias->buffer(), bc.buffer(),
                          {u(slices), u(n), u(keys) * 4, u(Nq), u(i0), u(Nk) * 4, u(n), 0, u(keys) * 4}));
      chunk_options.bias = &bc;
    }
    in.barrier();
    AAT_CHECK(in.run());
    AAT_TRY(AttentionResult part, attention.run(qc, kc, vc, chunk_options));

    AAT_TRY(Stream back, Stream::create(context));
    back.set_auto_barriers(false);
    AAT_CHECK(copy_rows(back, part.out.buffer(), out.buffer(),
                        {u(B * Hq), u(n), row_bytes, u(n), 0, row_bytes, u(Nq), u(i0), row_bytes}));
    AAT_CHECK(copy_rows(back, part.lse.buffer(), lse.buffer(), {u(B * Hq), u(n), 4, u(n), 0, 4, u(Nq), u(i0), 4}));
    AAT_CHECK(back.run());
    result.gpu_ms += part.gpu_ms;
    if (chunks == 0) result.tiling = part.tiling;
  }
  result.tiling.reason += fmt::format("; run in {} chunks of at most {} query rows, which keeps the split workspace "
                                      "within {} MiB", chunks, rows, kSplitWorkspaceBudget >> 20);
  return result;
}

Expected<AttentionResult> run_in_query_chunks(Attention& attention, const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options, const AttentionShape& shape,
                                              std::int64_t rows) {
  AAT_TRY(Tensor out, Tensor::create(attention.context(), shape.dtype, q.shape()));
  AAT_TRY(Tensor lse, Tensor::create(attention.context(), DType::f32, {shape.batch, shape.q_heads, shape.q_len}));
  AAT_TRY(AttentionResult result, run_in_query_chunks(attention, q, k, v, options, shape, rows, out, lse));
  result.out = std::move(out);
  result.lse = std::move(lse);
  return result;
}

}  // namespace aat::attention::detail
