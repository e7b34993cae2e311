#include "aat/attention/loop_limit.hpp"

#include <algorithm>
#include <bit>
#include <limits>

#include <fmt/format.h>

#include "attention/attention_decode_f16.bindings.hpp"

namespace aat::attention {

namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

bool has_loop_iteration_limit(const DeviceInfo& device) { return device.type == DeviceType::cpu; }

std::uint64_t forward_iterations_per_tile(std::uint32_t block_q, std::uint32_t block_kv, std::uint32_t head_dim,
                                          std::uint32_t workgroup_size) {
  const std::uint64_t threads = std::max<std::uint32_t>(workgroup_size, 1);
  const std::uint64_t outputs = ceil_div(std::uint64_t{block_q} * head_dim, threads);  // OUTPUTS_PER_THREAD
  const std::uint64_t loads = 2 * ceil_div(std::uint64_t{block_kv} * head_dim, threads);  // keys, then values
  const std::uint64_t scores = ceil_div(std::uint64_t{block_q} * block_kv, threads) * (1 + head_dim);  // + tile_dot
  const std::uint64_t softmax = 2 * std::uint64_t{block_kv};  // row max, then exp and sum (invocations < Br)
  const std::uint64_t accumulate = outputs * (1 + std::uint64_t{block_kv});
  return 1 + loads + scores + softmax + accumulate;  // 1: the key-tile loop itself
}

std::uint64_t forward_iterations_fixed(std::uint32_t block_q, std::uint32_t head_dim, std::uint32_t workgroup_size) {
  const std::uint64_t outputs = ceil_div(std::uint64_t{block_q} * head_dim, std::max<std::uint32_t>(workgroup_size, 1));
  return 3 * outputs;  // Q load, state reset, output
}

double decode_iterations_per_chunk(std::uint32_t chunk_keys, std::uint32_t head_dim, std::uint32_t unroll) {
  // The kernel's step: KEY_LANES keys side by side (LANES_PER_KEY lanes each: the largest power
  // of two up to the 8-wide slices of D and the subgroup), UNROLL of them, one iteration.
  const std::uint32_t lanes = std::max<std::uint32_t>(1, chunk_keys);
  const std::uint32_t slices = std::max<std::uint32_t>(head_dim / 8, 1);
  const std::uint32_t lanes_per_key = std::bit_floor(std::min(slices, lanes));
  if (unroll == 0) unroll = plugin_gen::attention::attention_decode_f16::Specialization{}.UNROLL;
  const double step = static_cast<double>(lanes / lanes_per_key) * unroll;
  return static_cast<double>(lanes) / step;
}

std::uint64_t decode_iterations_fixed(std::uint32_t rows, std::uint32_t chunk_keys, std::uint32_t head_dim) {
  // The loop that stages the rows' Q (ROWS x slices over the subgroup), and one more as measured.
  return ceil_div(std::uint64_t{rows} * std::max<std::uint32_t>(head_dim / 8, 1), std::max<std::uint32_t>(chunk_keys, 1)) + 1;
}

std::uint64_t max_tiles_per_workgroup(const DeviceInfo& device, const Tiling& tiling, std::uint32_t head_dim) {
  const bool decode = tiling.path == KernelPath::decode;
  if (!has_loop_iteration_limit(device) || (tiling.path != KernelPath::scalar && !decode))
    return std::numeric_limits<std::uint64_t>::max();  // the tensor-core paths run on GPUs only
  const auto budget = static_cast<std::uint64_t>(kLoopBudgetShare * static_cast<double>(kLlvmpipeLoopIterations));
  const std::uint64_t fixed = decode ? decode_iterations_fixed(tiling.block_q, tiling.block_kv, head_dim)
                                     : forward_iterations_fixed(tiling.block_q, head_dim, tiling.workgroup_size);
  const double per_tile =
      decode ? decode_iterations_per_chunk(tiling.block_kv, head_dim, tiling.variant)
             : static_cast<double>(forward_iterations_per_tile(tiling.block_q, tiling.block_kv, head_dim, tiling.workgroup_size));
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(static_cast<double>(budget - std::min(budget, fixed)) / per_tile));
}

std::uint32_t min_splits(const DeviceInfo& device, const AttentionShape& shape, const Tiling& tiling) {
  const std::uint64_t most = max_tiles_per_workgroup(device, tiling, static_cast<std::uint32_t>(shape.head_dim));
  if (most == std::numeric_limits<std::uint64_t>::max()) return 1;
  const std::uint64_t tiles = ceil_div(static_cast<std::uint64_t>(std::max<std::int64_t>(shape.kv_len, 1)), tiling.block_kv);
  return static_cast<std::uint32_t>(ceil_div(tiles, most));
}

Expected<std::uint32_t> check_forced_splits(const DeviceInfo& device, const AttentionShape& shape, const Tiling& tiling,
                                            std::uint32_t requested) {
  if (requested == 0) return fail(ErrorCode::invalid_argument, "splits = 0: the K-split count must be at least 1");
  const std::uint64_t tiles = ceil_div(static_cast<std::uint64_t>(std::max<std::int64_t>(shape.kv_len, 1)), tiling.block_kv);
  const auto splits = static_cast<std::uint32_t>(std::min<std::uint64_t>(requested, tiles));
  const std::uint32_t needed = min_splits(device, shape, tiling);
  if (splits < needed) {
    const std::uint64_t most = max_tiles_per_workgroup(device, tiling, static_cast<std::uint32_t>(shape.head_dim));
    return fail(ErrorCode::unsupported,
                fmt::format("splits = {} is too few on device '{}': with Br = {}, Bc = {}, D = {} one workgroup may "
                            "stream at most {} keys, because llvmpipe (lavapipe) ends every loop of a shader "
                            "invocation after {} loop iterations in all and the softmax would be silently truncated; "
                            "Nk = {} needs at least {} splits (or leave the count to the tiling)",
                            requested, device.name, tiling.block_q, tiling.block_kv, shape.head_dim,
                            most * tiling.block_kv, kLlvmpipeLoopIterations, shape.kv_len, needed));
  }
  return splits;
}

}  // namespace aat::attention
