// Input checks for attention: every problem named with the shapes involved.
#include <fmt/format.h>

#include "aat/attention/attention.hpp"

namespace aat::attention {

namespace {

constexpr std::int64_t kMaxHeadDim = 256;

Expected<void> check_rank4(const Tensor& t, const char* name) {
  if (!t) return fail(ErrorCode::invalid_argument, fmt::format("{} is an empty tensor handle", name));
  if (t.rank() != 4)
    return fail(ErrorCode::invalid_argument,
                fmt::format("{} must be [B, H, N, D], got {}", name, t.describe()));
  if (t.dtype() != DType::f32 && t.dtype() != DType::f16)
    return fail(ErrorCode::type_mismatch, fmt::format("{} must be f32 or f16, got {}", name, t.describe()));
  return {};
}

}  // namespace

Expected<AttentionShape> check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  AAT_CHECK(check_rank4(q, "Q"));
  AAT_CHECK(check_rank4(k, "K"));
  AAT_CHECK(check_rank4(v, "V"));
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype())
    return fail(ErrorCode::type_mismatch, fmt::format("Q, K and V must share a dtype, got Q {}, K {}, V {}",
                                                      q.describe(), k.describe(), v.describe()));
  if (k.shape() != v.shape())
    return fail(ErrorCode::invalid_argument, fmt::format("K and V must have the same shape, got K {} and V {}",
                                                         k.describe(), v.describe()));
  AttentionShape s;
  s.batch = q.dim(0);
  s.q_heads = q.dim(1);
  s.q_len = q.dim(2);
  s.head_dim = q.dim(3);
  s.kv_heads = k.dim(1);
  s.kv_len = k.dim(2);
  s.dtype = q.dtype();
  s.causal = options.causal;
  if (k.dim(0) != s.batch || k.dim(3) != s.head_dim)
    return fail(ErrorCode::invalid_argument,
                fmt::format("Q {} and K {} must agree on batch (dim 0) and head dim (dim 3)", q.describe(), k.describe()));
  if (s.head_dim < 8 || s.head_dim > kMaxHeadDim || s.head_dim % 8 != 0)
    return fail(ErrorCode::unsupported, fmt::format("head dim D = {} is not supported: D must be a multiple of 8 "
                                                    "from 8 to {} (Q {})", s.head_dim, kMaxHeadDim, q.describe()));
  if (s.kv_heads == 0 || s.q_heads % s.kv_heads != 0)
    return fail(ErrorCode::invalid_argument, fmt::format("query heads ({}) must be a multiple of key/value heads ({})",
                                                         s.q_heads, s.kv_heads));
  // 32-bit indexing in the shader.
  if (q.element_count() >= (std::int64_t{1} << 31) || k.element_count() >= (std::int64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("Q {} / K {} have 2^31 or more elements", q.describe(), k.describe()));
  if (s.batch * s.q_heads > 65535)
    return fail(ErrorCode::unsupported, fmt::format("B x Hq = {} exceeds 65535", s.batch * s.q_heads));

  if (const Tensor* lengths = options.key_lengths) {
    if (lengths->dtype() != DType::i32 || lengths->rank() != 1 || lengths->dim(0) != s.batch)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("key lengths must be i32[{}] (one per batch), got {}", s.batch, lengths->describe()));
    AAT_TRY(auto values, lengths->download_values<std::int32_t>());
    for (std::size_t b = 0; b < values.size(); ++b)
      if (values[b] < 0 || values[b] > s.kv_len)
        return fail(ErrorCode::invalid_argument,
                    fmt::format("key length {} of batch {} is outside 0..Nk = 0..{}", values[b], b, s.kv_len));
  }
  if (const Tensor* bias = options.bias) {
    const bool ok = bias->dtype() == DType::f32 && bias->rank() == 4 &&
                    (bias->dim(0) == s.batch || bias->dim(0) == 1) &&
                    (bias->dim(1) == s.q_heads || bias->dim(1) == 1) && bias->dim(2) == s.q_len &&
                    bias->dim(3) == s.kv_len;
    if (!ok)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("bias must be f32 [{} or 1, {} or 1, {}, {}], got {}", s.batch, s.q_heads, s.q_len,
                              s.kv_len, bias->describe()));
  }
  if (options.splits && *options.splits == 0)
    return fail(ErrorCode::invalid_argument, "splits must be at least 1");
  return s;
}

double attention_flops(const AttentionShape& s) {
  const double dense = 4.0 * static_cast<double>(s.batch) * static_cast<double>(s.q_heads) *
                       static_cast<double>(s.q_len) * static_cast<double>(s.kv_len) * static_cast<double>(s.head_dim);
  return s.causal && s.q_len == s.kv_len ? dense / 2 : dense;
}

}  // namespace aat::attention
