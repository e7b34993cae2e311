// Exact attention in chunks of query rows, so that the K-split workspace stays bounded.
//
// The split workspace is 4 (D + 2) bytes per split and query row. On a GPU splits are only used
// when the grid is small, so it stays small; on a CPU device llvmpipe's loop limit (loop_limit.hpp)
// needs a split per ~1400 keys, which makes it grow as Nq x Nk: 512 MiB of Q, K, V ([1, 1, 2^21,
// 64] f32) asked for a 1 TiB workspace. Above kSplitWorkspaceBudget the rows run in chunks
// instead: each chunk's queries are copied out, with (causal) only the key prefix they can see
// (bottom-right alignment: query i of Nq sees keys j <= i + Nk - Nq, so rows before i1 see no key
// past Nk - Nq + i1), the bias rows and the key lengths cut to match; the chunk runs as its own
// problem and its O and L rows are copied back. Memory is then O(chunk x N + N), not O(N^2).
#pragma once

#include <cstdint>

#include "aat/attention/attention.hpp"

namespace aat::attention::detail {

inline constexpr std::uint64_t kSplitWorkspaceBudget = std::uint64_t{256} << 20;

// Bytes of the split workspace (partial O and (m, l), f32) of a plan.
std::uint64_t split_workspace_bytes(const AttentionShape& shape, const Tiling& tiling);

// Query rows per chunk that keep the workspace within the budget: shape.q_len when it already
// is (no chunking), else a multiple of Br below q_len (at least Br).
std::int64_t query_chunk_rows(const AttentionShape& shape, const Tiling& tiling);

// Runs `attention` over rows [i0, i0 + rows) at a time into out and lse, as one unchunked run
// would write them; returns the tiling (the first chunk's, its reason saying how the rows were
// cut) and the GPU time (out and lse of the result are left empty).
Expected<AttentionResult> run_in_query_chunks(Attention& attention, const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options, const AttentionShape& shape,
                                              std::int64_t rows, const Tensor& out, const Tensor& lse);
// The same into new out and lse tensors, returned in the result.
Expected<AttentionResult> run_in_query_chunks(Attention& attention, const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options, const AttentionShape& shape,
                                              std::int64_t rows);

}  // namespace aat::attention::detail
