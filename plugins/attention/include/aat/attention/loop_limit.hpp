// llvmpipe's loop limit, and how many key tiles one workgroup of the scalar attention kernel may
// therefore cover on a CPU device.
//
// llvmpipe (Mesa's CPU rasteriser, under lavapipe) gives every shader invocation a budget of
// 65535 loop iterations shared by ALL its loops (LP_MAX_TGSI_LOOP_ITERATIONS in
// gallivm/lp_bld_limits.h; the counter is decremented at every loop back edge in
// lp_exec_endloop). Once it is spent, every loop of that invocation exits after its current
// iteration, silently: the kernel still "succeeds" and returns a truncated softmax. A workgroup
// of attention_forward.glsl runs a handful of loops per key tile (tile loads, the score loop
// with its D-long dot products, the softmax rows, the P V accumulation), so one workgroup may
// cover only so many key tiles before the budget runs out: about 55 tiles of 32 keys at
// Br = 32, D = 64 (measured: 55 tiles give the exact result, 56 a wrong one).
//
// The model below counts those iterations per invocation (the busiest one) from the tiling and
// keeps every workgroup under a share of the budget; tests/test_loop_limit.cpp checks the model
// against the thresholds measured on lavapipe and the kernel against a reference just under
// and over them. GPUs have no such limit.
#pragma once

#include <cstdint>

#include "aat/attention/tiling.hpp"
#include "aat/context.hpp"
#include "aat/error.hpp"

namespace aat::attention {

// Loop iterations llvmpipe lets one invocation run, in total over all its loops.
inline constexpr std::uint64_t kLlvmpipeLoopIterations = 65535;
// The share of that budget a workgroup is planned to use (the model is within a few per cent
// of the measured counts; the rest is margin).
inline constexpr double kLoopBudgetShare = 0.8;

// Whether `device` counts loop iterations per invocation (llvmpipe, i.e. lavapipe; any CPU
// device is treated so).
bool has_loop_iteration_limit(const DeviceInfo& device);

// Loop iterations the busiest invocation of the scalar forward kernel (attention_forward.glsl,
// shaders/aat/flash_tile.glsl) runs per key tile, and once per workgroup (Q load, output).
std::uint64_t forward_iterations_per_tile(std::uint32_t block_q, std::uint32_t block_kv, std::uint32_t head_dim,
                                          std::uint32_t workgroup_size);
std::uint64_t forward_iterations_fixed(std::uint32_t block_q, std::uint32_t head_dim, std::uint32_t workgroup_size);

// The same for the decode kernel (attention_decode_f16.comp) per chunk of `chunk_keys` keys (the
// subgroup size): every loop but its key loop has constant bounds and unrolls, and the key loop
// takes a step of several keys per iteration (`unroll` of each key lane: Tiling::variant, 0 the
// kernel's default), so a chunk may cost less than one (measured on lavapipe: test_loop_limit.cpp).
double decode_iterations_per_chunk(std::uint32_t chunk_keys, std::uint32_t head_dim, std::uint32_t unroll = 0);
std::uint64_t decode_iterations_fixed(std::uint32_t rows, std::uint32_t chunk_keys, std::uint32_t head_dim);

// The most key tiles (decode: chunks) one workgroup may stream on `device` with this tiling
// (scalar and decode paths; the tensor-core paths run on GPUs only; no limit: UINT64_MAX).
std::uint64_t max_tiles_per_workgroup(const DeviceInfo& device, const Tiling& tiling, std::uint32_t head_dim);

// The fewest K splits that keep every workgroup within max_tiles_per_workgroup (1 on a GPU).
std::uint32_t min_splits(const DeviceInfo& device, const AttentionShape& shape, const Tiling& tiling);

// A split count the caller forced (AttentionOptions::splits, `--splits`): 0 is invalid_argument;
// more splits than key tiles are clamped to one per tile (the caller reports the clamp); fewer
// than min_splits on a device with the loop limit is `unsupported`, with a message naming the
// rule, because the result would be silently wrong.
Expected<std::uint32_t> check_forced_splits(const DeviceInfo& device, const AttentionShape& shape, const Tiling& tiling,
                                            std::uint32_t requested);

}  // namespace aat::attention
