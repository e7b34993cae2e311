// The tiles and shared memory the attention tiling chooses, pinned with the values it gave when
// it computed shared memory from formulas copied out of the GLSL (before issue 16 made it ask the
// kernels' reflection): on lavapipe's 32 KiB and on an NVIDIA-like 48 KiB, for every path whose
// tiles depend on shared memory. Pure CPU; no Vulkan device.
#include "aat/attention/tiling.hpp"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "synthetic_device.hpp"

namespace aat::attention {
namespace {

using aat::testing::synthetic_device;

DeviceInfo device_of(std::uint32_t kib, std::uint32_t subgroup = 32) {
  if (kib == 32 && subgroup == 8) return aat::testing::lavapipe_like();
  if (kib == 48 && subgroup == 32) return aat::testing::nvidia_like_48k();
  return synthetic_device(std::to_string(kib) + " KiB", DeviceType::discrete_gpu, kib * 1024, 1024, subgroup, 132);
}

AttentionShape shape_of(std::int64_t nq, std::int64_t nk, std::int64_t head_dim, DType dtype) {
  AttentionShape s;
  s.q_len = nq;
  s.kv_len = nk;
  s.head_dim = head_dim;
  s.dtype = dtype;
  return s;
}

// Br, Bc and shared memory as pinned.
void expect_tiles(const Tiling& t, std::uint32_t block_q, std::uint32_t block_kv, std::uint32_t shared_bytes) {
  EXPECT_EQ(t.block_q, block_q);
  EXPECT_EQ(t.block_kv, block_kv);
  EXPECT_EQ(t.shared_bytes, shared_bytes);
}

// The scalar path: lavapipe-like (32 KiB, CPU, 8 lanes), NVIDIA-like (48 KiB, 32 lanes) and
// devices of 1, 4 and 8 KiB (32 lanes).
struct ScalarPin {
  std::uint32_t kib;
  std::int64_t head_dim, nq, nk;
  std::uint32_t block_q, block_kv, workgroup, shared_bytes;
};
constexpr ScalarPin kScalarPins[] = {
    {32, 16, 1, 1, 1, 8, 16, 652},
    {32, 16, 7, 100, 8, 64, 128, 7008},
    {32, 16, 4096, 4096, 32, 64, 128, 14976},
    {32, 64, 1, 1, 1, 8, 64, 2380},
    {32, 64, 7, 100, 8, 64, 128, 20832},
    {32, 64, 4096, 4096, 32, 32, 128, 20992},
    {32, 80, 1, 1, 1, 8, 80, 2956},
    {32, 80, 7, 100, 8, 64, 128, 25440},
    {32, 80, 4096, 4096, 32, 32, 128, 25088},
    {32, 128, 1, 1, 1, 8, 128, 4684},
    {32, 128, 7, 100, 8, 32, 128, 21728},
    {32, 128, 4096, 4096, 32, 16, 128, 27072},
    {32, 256, 1, 1, 1, 8, 128, 9292},
    {32, 256, 7, 100, 8, 16, 128, 25248},
    {32, 256, 4096, 4096, 8, 16, 128, 25248},
    {48, 16, 1, 1, 1, 8, 32, 652},
    {48, 16, 7, 100, 8, 64, 128, 7008},
    {48, 16, 4096, 4096, 32, 64, 128, 14976},
    {48, 64, 1, 1, 1, 8, 64, 2380},
    {48, 64, 7, 100, 8, 64, 128, 20832},
    {48, 64, 4096, 4096, 32, 64, 128, 33408},
    {48, 80, 1, 1, 1, 8, 64, 2956},
    {48, 80, 7, 100, 8, 64, 128, 25440},
    {48, 80, 4096, 4096, 32, 64, 128, 39552},
    {48, 128, 1, 1, 1, 8, 128, 4684},
    {48, 128, 7, 100, 8, 64, 128, 39264},
    {48, 128, 4096, 4096, 32, 32, 128, 37376},
    {48, 256, 1, 1, 1, 8, 128, 9292},
    {48, 256, 7, 100, 8, 32, 128, 42208},
    {48, 256, 4096, 4096, 16, 16, 128, 34048},
    // Shared memory too small for the larger tiles; at D = 256 for any: then the smallest tile
    // (Br = 1, Bc = 8) even where it does not fit (the kernel refuses to build, naming shared memory).
    {1, 64, 4096, 4096, 1, 8, 64, 2380},
    {1, 256, 4096, 4096, 1, 8, 128, 9292},
    {4, 64, 4096, 4096, 4, 8, 128, 3280},
    {4, 256, 4096, 4096, 1, 8, 128, 9292},
    {8, 64, 4096, 4096, 8, 16, 128, 6816},
    {8, 256, 4096, 4096, 1, 8, 128, 9292},
};

TEST(AttentionTilingPins, ScalarTilesAndSharedMemoryAreUnchanged) {
  for (const ScalarPin& pin : kScalarPins) {
    const DeviceInfo device = device_of(pin.kib, pin.kib == 32 ? 8 : 32);
    for (DType dtype : {DType::f32, DType::f16}) {  // two kernels, one shared-memory layout
      const Tiling t = optimize_tiling_for(device, shape_of(pin.nq, pin.nk, pin.head_dim, dtype), KernelPath::scalar);
      SCOPED_TRACE(device.name + " D=" + std::to_string(pin.head_dim) + " Nq=" + std::to_string(pin.nq) + " Nk=" +
                   std::to_string(pin.nk) + " " + std::string(to_string(dtype)) + ": " + t.reason);
      expect_tiles(t, pin.block_q, pin.block_kv, pin.shared_bytes);
      EXPECT_EQ(t.workgroup_size, pin.workgroup);
    }
  }
}

// A forced Br x Bc on the scalar path and the shared memory it takes: refused, naming that
// and the limit, where it exceeds the device's (on both devices; the same bytes either way).
struct OverridePin {
  std::int64_t head_dim;
  std::uint32_t block_q, block_kv, shared_bytes;
};
constexpr OverridePin kOverridePins[] = {
    {64, 32, 64, 33408},   {64, 16, 32, 14656},  {64, 8, 256, 76896},  {64, 1, 8, 2380},
    {128, 32, 64, 57984},  {128, 16, 32, 26944}, {128, 8, 256, 144480}, {128, 1, 8, 4684},
    {256, 32, 64, 107136}, {256, 16, 32, 51520}, {256, 8, 256, 279648}, {256, 1, 8, 9292},
};

TEST(AttentionTilingPins, ScalarOverridesAreCheckedAsBefore) {
  for (std::uint32_t kib : {32u, 48u}) {
    for (const OverridePin& pin : kOverridePins) {
      const DeviceInfo device = device_of(kib);
      const AttentionShape shape = shape_of(4096, 4096, pin.head_dim, DType::f32);
      TilingOverride change;
      change.block_q = pin.block_q;
      change.block_kv = pin.block_kv;
      const auto t = apply_override(device, shape, optimize_tiling_for(device, shape, KernelPath::scalar), change);
      SCOPED_TRACE(device.name + " D=" + std::to_string(pin.head_dim) + " Br=" + std::to_string(pin.block_q) +
                   " Bc=" + std::to_string(pin.block_kv));
      if (pin.shared_bytes > kib * 1024) {
        ASSERT_FALSE(t.has_value());
        EXPECT_NE(t.error().what().find("need " + std::to_string(pin.shared_bytes) + " bytes of shared memory; the "
                                        "device has " + std::to_string(kib * 1024)), std::string::npos)
            << t.error().what();
      } else {
        ASSERT_TRUE(t.has_value()) << t.error().what();
        EXPECT_EQ(t->shared_bytes, pin.shared_bytes);
      }
    }
  }
}

// Flash-decoding: every row of a K/V head, a chunk of subgroup-size keys (limit-independent);
// shared memory holds the rows' Q in f32 only (rows x D x 4 bytes).
struct DecodePin {
  std::uint32_t subgroup;
  std::int64_t head_dim, rows;
  std::uint32_t block_q, block_kv, shared_bytes;
};
constexpr DecodePin kDecodePins[] = {
    {8, 64, 1, 1, 8, 256},
    {8, 64, 4, 4, 8, 1024},
    {8, 64, 16, 16, 8, 4096},
    {8, 128, 1, 1, 8, 512},
    {8, 128, 4, 4, 8, 2048},
    {8, 128, 16, 16, 8, 8192},
    {8, 256, 1, 1, 8, 1024},
    {8, 256, 4, 4, 8, 4096},
    {8, 256, 16, 16, 8, 16384},
    {32, 64, 1, 1, 32, 256},
    {32, 64, 4, 4, 32, 1024},
    {32, 64, 16, 16, 32, 4096},
    {32, 128, 1, 1, 32, 512},
    {32, 128, 4, 4, 32, 2048},
    {32, 128, 16, 16, 32, 8192},
    {32, 256, 1, 1, 32, 1024},
    {32, 256, 4, 4, 32, 4096},
    {32, 256, 16, 16, 32, 16384},
};

TEST(AttentionTilingPins, DecodeSharedMemoryIsUnchanged) {
  for (std::uint32_t kib : {32u, 48u}) {
    for (const DecodePin& pin : kDecodePins) {
      const Tiling t = optimize_tiling_for(device_of(kib, pin.subgroup), shape_of(pin.rows, 4096, pin.head_dim, DType::f16),
                                           KernelPath::decode);
      SCOPED_TRACE(std::to_string(kib) + " KiB, " + std::to_string(pin.subgroup) + " lanes, D=" +
                   std::to_string(pin.head_dim) + ", " + std::to_string(pin.rows) + " rows");
      expect_tiles(t, pin.block_q, pin.block_kv, pin.shared_bytes);
    }
  }
}

// The subgroup-scope tensor-core kernels (NV and KHR: one GLSL, one layout), D = 64 and 128:
// Bc = 64 where it fits, else 32; and Bc = 32 forced (0: refused, as it does not fit).
struct CoopmatPin {
  std::uint32_t kib;
  std::int64_t head_dim;
  std::uint32_t block_kv, shared_bytes, forced_32_shared_bytes;
};
constexpr CoopmatPin kCoopmatPins[] = {
    {16, 64, 32, 20736, 0},
    {16, 128, 32, 24832, 0},
    {32, 64, 32, 20736, 20736},
    {32, 128, 32, 24832, 24832},
    {48, 64, 64, 37632, 20736},
    {48, 128, 64, 45824, 24832},
};

TEST(AttentionTilingPins, CoopmatTilesAndSharedMemoryAreUnchanged) {
  for (KernelPath path : {KernelPath::cooperative_matrix_nv, KernelPath::cooperative_matrix_khr}) {
    if (!path_compiled(path)) continue;  // KHR needs glslang >= 15.1 at build time
    for (const CoopmatPin& pin : kCoopmatPins) {
      const DeviceInfo device = device_of(pin.kib);
      const AttentionShape shape = shape_of(4096, 4096, pin.head_dim, DType::f16);
      const Tiling t = optimize_tiling_for(device, shape, path);
      SCOPED_TRACE(std::string(to_string(path)) + " " + device.name + " D=" + std::to_string(pin.head_dim));
      expect_tiles(t, 64, pin.block_kv, pin.shared_bytes);
      TilingOverride change;
      change.block_kv = 32;
      const auto forced = apply_override(device, shape, t, change);
      EXPECT_EQ(forced.has_value(), pin.forced_32_shared_bytes != 0);
      if (forced) {
        EXPECT_EQ(forced->shared_bytes, pin.forced_32_shared_bytes);
      }
    }
  }
}

}  // namespace
}  // namespace aat::attention
