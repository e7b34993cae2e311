// optimize_tiling on synthetic devices: pure CPU, no Vulkan device needed.
#include "aat/attention/tiling.hpp"

#include "aat/attention/loop_limit.hpp"

#include <array>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "synthetic_device.hpp"

namespace aat::attention {
namespace {

using aat::testing::lavapipe_like;
using aat::testing::synthetic_device;

DeviceInfo h100_like() { return aat::testing::nvidia_like_48k(); }
DeviceInfo h100_large_shared() {
  return synthetic_device("H100-like 227K", DeviceType::discrete_gpu, 227 * 1024, 1024, 32, 132);
}
DeviceInfo amd_like() { return synthetic_device("RDNA-like", DeviceType::discrete_gpu, 64 * 1024, 1024, 64, 0); }
// The smallest limits Vulkan allows: 16 KiB shared memory, 128 invocations.
DeviceInfo vulkan_minimum() { return synthetic_device("Vulkan minimum", DeviceType::integrated_gpu, 16 * 1024, 128, 4, 0); }

std::vector<DeviceInfo> all_devices() {
  return {lavapipe_like(), h100_like(), h100_large_shared(), amd_like(), vulkan_minimum()};
}

AttentionShape make_shape(std::int64_t B, std::int64_t Hq, std::int64_t Hkv, std::int64_t Nq, std::int64_t Nk,
                          std::int64_t D, bool causal = false, DType dtype = DType::f32) {
  return {.batch = B, .q_heads = Hq, .kv_heads = Hkv, .q_len = Nq, .kv_len = Nk, .head_dim = D, .dtype = dtype,
          .causal = causal};
}

std::string describe(const DeviceInfo& device, const AttentionShape& s, const Tiling& t) {
  std::ostringstream o;
  o << device.name << ": B" << s.batch << " Hq" << s.q_heads << " Hkv" << s.kv_heads << " Nq" << s.q_len << " Nk"
    << s.kv_len << " D" << s.head_dim << ' ' << to_string(s.dtype) << (s.causal ? " causal" : "") << " -> Br "
    << t.block_q << " Bc " << t.block_kv << " wg " << t.workgroup_size << " splits " << t.splits << " shared "
    << t.shared_bytes << " (" << t.reason << ")";
  return o.str();
}

// Every invariant a tiling must satisfy on a device, as one assertion result.
::testing::AssertionResult valid_tiling(const DeviceInfo& device, const AttentionShape& s, const Tiling& t) {
  auto failure = [&](const char* what) { return ::testing::AssertionFailure() << what << ": " << describe(device, s, t); };
  const auto& limits = device.limits;
  const auto D = static_cast<std::uint32_t>(s.head_dim);
  if (t.block_q < 1) return failure("block_q < 1");
  if (t.block_kv < 1) return failure("block_kv < 1");
  const auto kernel_bytes = forward_shared_bytes(t.path, s.dtype, {t.block_q, t.block_kv}, D);
  if (!kernel_bytes) return failure("the kernel's shared memory is unknown");
  if (t.shared_bytes != *kernel_bytes) return failure("shared_bytes != the kernel's reflected shared memory");
  if (t.shared_bytes > limits.max_shared_memory_bytes) return failure("exceeds the shared memory limit");
  if (t.workgroup_size < 1) return failure("empty workgroup");
  if (t.workgroup_size > limits.max_workgroup_invocations) return failure("exceeds max workgroup invocations");
  if (t.workgroup_size > limits.max_workgroup_size[0]) return failure("exceeds max workgroup size x");
  if (t.workgroup_size % limits.subgroup_size != 0) return failure("workgroup not a multiple of the subgroup size");
  if (t.splits < 1) return failure("splits < 1");
  // Each split gets at least one K tile: splits * Bc <= Nk rounded up to Bc, and with
  // tiles_per_split = ceil(tiles / splits) the last split still starts inside the keys.
  const std::uint64_t nk = static_cast<std::uint64_t>(s.kv_len);
  const std::uint64_t tiles = nk == 0 ? 1 : (nk + t.block_kv - 1) / t.block_kv;
  if (std::uint64_t{t.splits} * t.block_kv > tiles * t.block_kv) return failure("splits * Bc > roundup(Nk, Bc)");
  const std::uint64_t per_split = (tiles + t.splits - 1) / t.splits;
  if ((t.splits - 1) * per_split >= tiles) return failure("the last split covers no K tile");
  if (t.reason.empty()) return failure("no reason given");
  return ::testing::AssertionSuccess();
}

TEST(AttentionTiling, NeverExceedsDeviceLimitsOverAllShapes) {
  const std::vector<std::int64_t> lengths{1, 16, 1000, 32768};
  const std::vector<std::array<std::int64_t, 3>> heads{{1, 1, 1}, {2, 16, 16}, {4, 32, 8}};  // B, Hq, Hkv
  std::size_t checked = 0;
  for (const auto& device : all_devices()) {
    for (std::int64_t D = 8; D <= 256; D += 8) {
      for (std::int64_t nq : lengths) {
        for (std::int64_t nk : lengths) {
          for (const auto& h : heads) {
            for (bool causal : {false, true}) {
              for (DType dtype : {DType::f32, DType::f16}) {
                const auto shape = make_shape(h[0], h[1], h[2], nq, nk, D, causal, dtype);
                const Tiling t = optimize_tiling(device, shape);
                ASSERT_TRUE(valid_tiling(device, shape, t));
                ++checked;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 5u * 32 * 4 * 4 * 3 * 2 * 2);
}

TEST(AttentionTiling, IsDeterministic) {
  const auto device = h100_like();
  const auto shape = make_shape(1, 8, 8, 1, 32768, 128);
  const Tiling a = optimize_tiling(device, shape), b = optimize_tiling(device, shape);
  EXPECT_EQ(a.block_q, b.block_q);
  EXPECT_EQ(a.block_kv, b.block_kv);
  EXPECT_EQ(a.workgroup_size, b.workgroup_size);
  EXPECT_EQ(a.splits, b.splits);
  EXPECT_EQ(a.reason, b.reason);
}

// Decode: one query per (batch, head) cannot fill 132 SMs; the K axis must be split.
TEST(AttentionTiling, DecodeSplitsOnALargeGpu) {
  for (const auto& device : {h100_like(), h100_large_shared()}) {
    for (std::int64_t D : {64, 128}) {
      for (std::int64_t hkv : {8, 1}) {
        const auto shape = make_shape(1, 8, hkv, 1, 32768, D, true);
        const Tiling t = optimize_tiling(device, shape);
        EXPECT_TRUE(valid_tiling(device, shape, t));
        EXPECT_GT(t.splits, 1u) << describe(device, shape, t);
      }
    }
  }
}

// coopmat2 tiles: 64 rows over 128 invocations, 128 rows over 256 only for D <= 64 causal at
// N >= 16k (where the H200 measured +7-8%), and only where workgroup-scope matrices allow 256.
TEST(AttentionTiling, Coopmat2TakesTallTilesOnlyForLongCausalNarrowHeads) {
  DeviceInfo device = h100_large_shared();
  device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size = 256;
  const auto rows = [&](std::int64_t n, std::int64_t D, bool causal) {
    const Tiling t = optimize_tiling_for(device, make_shape(1, 8, 8, n, n, D, causal, DType::f16),
                                         KernelPath::cooperative_matrix2);
    EXPECT_EQ(t.workgroup_size, 2 * t.block_q) << t.reason;
    return t.block_q;
  };
  EXPECT_EQ(rows(16384, 64, true), 128u);
  EXPECT_EQ(rows(32768, 40, true), 128u);
  EXPECT_EQ(rows(4096, 64, true), 64u);
  EXPECT_EQ(rows(16384, 64, false), 64u);
  EXPECT_EQ(rows(16384, 128, true), 64u);
  device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size = 128;
  EXPECT_EQ(rows(16384, 64, true), 64u);
}

// Over 256 invocations the coopmat2 kernel's column counts step by 32 (coopmat2_column_granule):
// a tile override that breaks that is refused naming the step; 128 x 64 is accepted.
TEST(AttentionTiling, Coopmat2OverridesKeepTheColumnGranule) {
  DeviceInfo device = h100_large_shared();
  device.features.cooperative_matrix2.workgroup_scope_max_workgroup_size = 256;
  const auto shape = make_shape(1, 8, 8, 4096, 4096, 64, true, DType::f16);
  const Tiling base = optimize_tiling_for(device, shape, KernelPath::cooperative_matrix2);
  EXPECT_EQ(coopmat2_column_granule(128), 16u);
  EXPECT_EQ(coopmat2_column_granule(256), 32u);
  TilingOverride change;
  change.block_q = 128;
  change.block_kv = 48;
  change.workgroup_size = 256;
  const auto refused = apply_override(device, shape, base, change);
  ASSERT_FALSE(refused);
  EXPECT_NE(std::string(refused.error().what()).find("over 256 invocations each must be a multiple of 32"),
            std::string::npos)
      << refused.error().what();
  change.block_kv = 64;
  const auto accepted = apply_override(device, shape, base, change);
  ASSERT_TRUE(accepted) << accepted.error().what();
  EXPECT_EQ(accepted->block_q, 128u);
  change.workgroup_size = 128;
  change.block_kv = 48;  // 16-column steps over 128 invocations
  EXPECT_TRUE(apply_override(device, shape, base, change));
}

// A big prefill fills any device on its own: no split (the merge would be pure overhead).
TEST(AttentionTiling, BigPrefillDoesNotSplit) {
  for (const auto& device : all_devices()) {
    for (std::int64_t D : {64, 128}) {
      for (bool causal : {false, true}) {
        const auto shape = make_shape(2, 16, 16, 4096, 4096, D, causal);
        const Tiling t = optimize_tiling(device, shape);
        EXPECT_TRUE(valid_tiling(device, shape, t));
        // CPU devices split long key axes as llvmpipe's loop limit requires (loop_limit.hpp).
        const std::uint32_t expected = device.type == DeviceType::cpu ? min_splits(device, shape, t) : 1u;
        EXPECT_EQ(t.splits, expected) << describe(device, shape, t);
        if (device.type == DeviceType::cpu) {
          EXPECT_GT(t.splits, 1u) << describe(device, shape, t);
        }
      }
    }
  }
}

TEST(AttentionTiling, CpuDevicesKeepEveryWorkgroupWithinTheLoopBudget) {
  for (const auto& device : all_devices()) {
    if (device.type != DeviceType::cpu) continue;
    for (std::int64_t D : {8, 32, 64, 128, 256}) {
      for (std::int64_t nq : {1, 16, 64, 4096}) {
        for (std::int64_t nk : {1025, 1800, 4096, 32768}) {
          const auto shape = make_shape(1, 1, 1, nq, nk, D, false);
          const Tiling t = optimize_tiling(device, shape);
          const std::uint64_t tiles = static_cast<std::uint64_t>((nk + t.block_kv - 1) / t.block_kv);
          const std::uint64_t per_split = (tiles + t.splits - 1) / t.splits;
          const std::uint64_t iterations =
              forward_iterations_fixed(t.block_q, static_cast<std::uint32_t>(D), t.workgroup_size) +
              per_split * forward_iterations_per_tile(t.block_q, t.block_kv, static_cast<std::uint32_t>(D),
                                                      t.workgroup_size);
          EXPECT_LE(iterations, kLlvmpipeLoopIterations * 8 / 10) << describe(device, shape, t);
        }
      }
    }
  }
}

// A short key axis is one or two tiles: nothing to split.
TEST(AttentionTiling, TinyKeyLengthNeverSplits) {
  for (const auto& device : all_devices()) {
    for (std::int64_t nk : {1, 16}) {
      for (std::int64_t D = 8; D <= 256; D += 8) {
        const auto shape = make_shape(1, 1, 1, 1, nk, D);
        const Tiling t = optimize_tiling(device, shape);
        EXPECT_EQ(t.splits, 1u) << describe(device, shape, t);
      }
    }
  }
}

// The scalar kernel's shared memory, as its reflection counts it (0 where it cannot tell, which
// fails the comparisons below).
std::uint64_t scalar_bytes(std::uint32_t block_q, std::uint32_t block_kv, std::uint32_t head_dim) {
  return forward_shared_bytes(KernelPath::scalar, DType::f32, {block_q, block_kv}, head_dim).value_or(0);
}

TEST(AttentionTiling, SharedBytesGrowWithEveryDimension) {
  for (std::uint32_t D : {8u, 64u, 256u}) {
    EXPECT_LT(scalar_bytes(8, 32, D), scalar_bytes(16, 32, D));
    EXPECT_LT(scalar_bytes(16, 16, D), scalar_bytes(16, 32, D));
    EXPECT_LT(scalar_bytes(16, 32, D), scalar_bytes(16, 32, D + 8));
  }
  // At least the Q tile and one K/V tile in f32.
  EXPECT_GE(scalar_bytes(16, 32, 64), 4u * (16 * 64 + 32 * 64));
}

TEST(AttentionTiling, DeviceParallelismIsPositive) {
  for (const auto& device : all_devices()) EXPECT_GE(device_parallelism(device), 1u) << device.name;
  EXPECT_GE(device_parallelism(h100_like()), 132u);
}

TEST(AttentionTiling, JsonNamesEveryField) {
  const Tiling t = optimize_tiling(lavapipe_like(), make_shape(1, 4, 4, 128, 128, 64));
  const std::string json = t.to_json();
  for (const char* key : {"\"block_q\"", "\"block_kv\"", "\"workgroup_size\"", "\"splits\"", "\"shared_bytes\"", "\"reason\""})
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing from " << json;
}

}  // namespace
}  // namespace aat::attention
