#include "aat/attention/loop_limit.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

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

std::uint64_t decode_iterations_per_chunk(std::uint32_t chunk_keys, std::uint32_t head_dim) {
  const std::uint64_t slices = std::max<std::uint32_t>(head_dim / 8, 1);  // 8-wide slices of D
  const std::uint64_t key_groups = slices >= chunk_keys ? 1 : chunk_keys / slices;
  // The chunk loop, phase A's slices, phase C's keys, and 2 more per chunk as measured.
  return 3 + slices + ceil_div(chunk_keys, key_groups);
}

std::uint64_t decode_iterations_fixed(std::uint32_t rows, std::uint32_t chunk_keys, std::uint32_t head_dim) {
  return 2 * ceil_div(std::uint64_t{rows} * std::max<std::uint32_t>(head_dim / 8, 1), std::max<std::uint32_t>(chunk_keys, 1)) + rows;
}

std::uint64_t max_tiles_per_workgroup(const DeviceInfo& device, const Tiling& tiling, std::uint32_t head_dim) {
  const bool decode = tiling.path == KernelPath::decode;
  if (!has_loop_iteration_limit(device) || (tiling.path != KernelPath::scalar && !decode))
    return std::numeric_limits<std::uint64_t>::max();  // the tensor-core paths run on GPUs only
  const auto budget = static_cast<std::uint64_t>(kLoopBudgetShare * static_cast<double>(kLlvmpipeLoopIterations));
  const std::uint64_t fixed = decode ? decode_iterations_fixed(tiling.block_q, tiling.block_kv, head_dim)
                                     : forward_iterations_fixed(tiling.block_q, head_dim, tiling.workgroup_size);
  const std::uint64_t per_tile =
      decode ? decode_iterations_per_chunk(tiling.block_kv, head_dim)
             : forward_iterations_per_tile(tiling.block_q, tiling.block_kv, head_dim, tiling.workgroup_size);
  return std::max<std::uint64_t>(1, (budget - std::min(budget, fixed)) / per_tile);
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
