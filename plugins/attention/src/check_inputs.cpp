// Input checks for attention: every problem named with the shapes involved.
#include <algorithm>

#include <fmt/format.h>

#include "aat/attention/attention.hpp"

namespace aat::attention {

namespace {

constexpr std::int64_t kMaxHeadDim = 256;

std::string describe(DType dtype, std::span<const std::int64_t> shape) {
  return fmt::format("{}[{}]", to_string(dtype), shape_to_string(shape));
}

Expected<void> check_rank4(DType dtype, std::span<const std::int64_t> shape, const char* name) {
  if (shape.size() != 4)
    return fail(ErrorCode::invalid_argument, fmt::format("{} must be [B, H, N, D], got {}", name, describe(dtype, shape)));
  if (dtype != DType::f32 && dtype != DType::f16)
    return fail(ErrorCode::type_mismatch, fmt::format("{} must be f32 or f16, got {}", name, describe(dtype, shape)));
  return {};
}

std::int64_t elements(std::span<const std::int64_t> shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

}  // namespace

Expected<AttentionShape> check_shapes(DType q_dtype, std::span<const std::int64_t> q, DType k_dtype,
                                      std::span<const std::int64_t> k, DType v_dtype, std::span<const std::int64_t> v,
                                      bool causal) {
  AAT_CHECK(check_rank4(q_dtype, q, "Q"));
  AAT_CHECK(check_rank4(k_dtype, k, "K"));
  AAT_CHECK(check_rank4(v_dtype, v, "V"));
  const std::string qs = describe(q_dtype, q), ks = describe(k_dtype, k), vs = describe(v_dtype, v);
  if (k_dtype != q_dtype || v_dtype != q_dtype)
    return fail(ErrorCode::type_mismatch, fmt::format("Q, K and V must share a dtype, got Q {}, K {}, V {}", qs, ks, vs));
  if (!std::ranges::equal(k, v))
    return fail(ErrorCode::invalid_argument, fmt::format("K and V must have the same shape, got K {} and V {}", ks, vs));
  AttentionShape s;
  s.batch = q[0];
  s.q_heads = q[1];
  s.q_len = q[2];
  s.head_dim = q[3];
  s.kv_heads = k[1];
  s.kv_len = k[2];
  s.dtype = q_dtype;
  s.causal = causal;
  if (k[0] != s.batch || k[3] != s.head_dim)
    return fail(ErrorCode::invalid_argument,
                fmt::format("Q {} and K {} must agree on batch (dim 0) and head dim (dim 3)", qs, ks));
  if (s.head_dim < 8 || s.head_dim > kMaxHeadDim || s.head_dim % 8 != 0)
    return fail(ErrorCode::unsupported, fmt::format("head dim D = {} is not supported: D must be a multiple of 8 "
                                                    "from 8 to {} (Q {})", s.head_dim, kMaxHeadDim, qs));
  if (s.kv_heads == 0 || s.q_heads % s.kv_heads != 0)
    return fail(ErrorCode::invalid_argument, fmt::format("query heads ({}) must be a multiple of key/value heads ({})",
                                                         s.q_heads, s.kv_heads));
  // 32-bit indexing in the shader.
  if (elements(q) >= (std::int64_t{1} << 31) || elements(k) >= (std::int64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("Q {} / K {} have 2^31 or more elements", qs, ks));
  if (s.batch * s.q_heads > 65535)
    return fail(ErrorCode::unsupported, fmt::format("B x Hq = {} exceeds 65535", s.batch * s.q_heads));
  return s;
}

Expected<void> check_key_lengths(std::span<const std::int32_t> lengths, const AttentionShape& shape) {
  if (static_cast<std::int64_t>(lengths.size()) != shape.batch)
    return fail(ErrorCode::invalid_argument, fmt::format("key lengths must be i32[{}] (one per batch), got {} values",
                                                         shape.batch, lengths.size()));
  for (std::size_t b = 0; b < lengths.size(); ++b)
    if (lengths[b] < 0 || lengths[b] > shape.kv_len)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("key length {} of batch {} is outside 0..Nk = 0..{}", lengths[b], b, shape.kv_len));
  return {};
}

Expected<void> check_mask_shapes(const AttentionShape& s, std::optional<ArrayShape> key_lengths,
                                 std::optional<ArrayShape> bias, std::optional<std::uint32_t> splits) {
  if (key_lengths && (key_lengths->dtype != DType::i32 || key_lengths->shape.size() != 1 ||
                      key_lengths->shape[0] != s.batch))
    return fail(ErrorCode::invalid_argument,
                fmt::format("key lengths must be i32[{}] (one per batch), got {}", s.batch,
                            describe(key_lengths->dtype, key_lengths->shape)));
  if (bias) {
    const auto& b = bias->shape;
    const bool ok = bias->dtype == DType::f32 && b.size() == 4 && (b[0] == s.batch || b[0] == 1) &&
                    (b[1] == s.q_heads || b[1] == 1) && b[2] == s.q_len && b[3] == s.kv_len;
    if (!ok)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("bias must be f32 [{} or 1, {} or 1, {}, {}], got {}", s.batch, s.q_heads, s.q_len,
                              s.kv_len, describe(bias->dtype, b)));
  }
  if (splits && *splits == 0) return fail(ErrorCode::invalid_argument, "splits must be at least 1");
  return {};
}

Expected<AttentionShape> check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  for (const auto& [t, name] : {std::pair{&q, "Q"}, std::pair{&k, "K"}, std::pair{&v, "V"}})
    if (!*t) return fail(ErrorCode::invalid_argument, fmt::format("{} is an empty tensor handle", name));
  AAT_TRY(AttentionShape s, check_shapes(q.dtype(), q.shape(), k.dtype(), k.shape(), v.dtype(), v.shape(), options.causal));
  const auto shape_of = [](const Tensor* t) {
    return t ? std::optional<ArrayShape>(ArrayShape{t->dtype(), t->shape()}) : std::nullopt;
  };
  AAT_CHECK(check_mask_shapes(s, shape_of(options.key_lengths), shape_of(options.bias), options.splits));
  if (const Tensor* lengths = options.key_lengths) {
    AAT_TRY(auto values, lengths->download_values<std::int32_t>());
    AAT_CHECK(check_key_lengths(values, s));
  }
  return s;
}

double attention_flops(const AttentionShape& s) {
  const double dense = 4.0 * static_cast<double>(s.batch) * static_cast<double>(s.q_heads) *
                       static_cast<double>(s.q_len) * static_cast<double>(s.kv_len) * static_cast<double>(s.head_dim);
  return s.causal && s.q_len == s.kv_len ? dense / 2 : dense;
}

}  // namespace aat::attention
