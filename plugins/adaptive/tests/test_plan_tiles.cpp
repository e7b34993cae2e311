// The plan kernel's tiles (plan_tiles) on synthetic devices, pinned with the values they had when
// adaptive attention computed shared memory from a formula copied out of adaptive_forward.glsl
// (before issue 16 made it ask the kernel's reflection): 16 KiB (Vulkan's minimum), lavapipe's
// 32 KiB and an NVIDIA-like 48 KiB. Pure CPU; no Vulkan device.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "aat/adaptive/adaptive.hpp"
#include "synthetic_device.hpp"

namespace aat::adaptive {
namespace {

DeviceInfo device_of(std::uint32_t kib) {
  if (kib == 32) return aat::testing::lavapipe_like();
  if (kib == 48) return aat::testing::nvidia_like_48k();
  return aat::testing::synthetic_device(std::to_string(kib) + " KiB", DeviceType::discrete_gpu, kib * 1024, 1024, 32,
                                        132);
}

// block_q 0: plan_tiles' own choice. Refused (0 tiles): the shared memory the smallest Bc needs.
struct TilePin {
  std::uint32_t kib;
  std::int64_t head_dim, nq, nk;
  std::uint32_t forced_block_q, block_q, block_kv, workgroup, refused_needing;
};
constexpr TilePin kPins[] = {
    {16, 16, 1, 100, 0, 1, 64, 64, 0},
    {16, 16, 1, 100, 16, 16, 64, 128, 0},
    {16, 16, 1, 100, 32, 32, 32, 128, 0},
    {16, 16, 4096, 4096, 0, 32, 32, 128, 0},
    {16, 16, 4096, 4096, 16, 16, 64, 128, 0},
    {16, 16, 4096, 4096, 32, 32, 32, 128, 0},
    {16, 64, 1, 100, 0, 1, 32, 64, 0},
    {16, 64, 1, 100, 16, 16, 32, 128, 0},
    {16, 64, 1, 100, 32, 32, 16, 128, 0},
    {16, 64, 4096, 4096, 0, 32, 16, 128, 0},
    {16, 64, 4096, 4096, 16, 16, 16, 128, 0},
    {16, 64, 4096, 4096, 32, 32, 16, 128, 0},
    {16, 128, 1, 100, 0, 1, 16, 128, 0},
    {16, 128, 1, 100, 16, 16, 8, 128, 0},
    {16, 128, 1, 100, 32, 0, 0, 0, 23048},
    {16, 128, 4096, 4096, 0, 8, 16, 128, 0},
    {16, 128, 4096, 4096, 16, 16, 8, 128, 0},
    {16, 128, 4096, 4096, 32, 0, 0, 0, 23048},
    {16, 256, 1, 100, 0, 1, 8, 128, 0},
    {16, 256, 1, 100, 16, 0, 0, 0, 26440},
    {16, 256, 1, 100, 32, 0, 0, 0, 43528},
    {16, 256, 4096, 4096, 0, 4, 8, 128, 0},
    {16, 256, 4096, 4096, 16, 0, 0, 0, 26440},
    {16, 256, 4096, 4096, 32, 0, 0, 0, 43528},
    {32, 16, 1, 100, 0, 1, 64, 64, 0},
    {32, 16, 1, 100, 16, 16, 64, 128, 0},
    {32, 16, 1, 100, 32, 32, 64, 128, 0},
    {32, 16, 4096, 4096, 0, 32, 64, 128, 0},
    {32, 16, 4096, 4096, 16, 16, 64, 128, 0},
    {32, 16, 4096, 4096, 32, 32, 64, 128, 0},
    {32, 64, 1, 100, 0, 1, 64, 64, 0},
    {32, 64, 1, 100, 16, 16, 64, 128, 0},
    {32, 64, 1, 100, 32, 32, 32, 128, 0},
    {32, 64, 4096, 4096, 0, 32, 32, 128, 0},
    {32, 64, 4096, 4096, 16, 16, 32, 128, 0},
    {32, 64, 4096, 4096, 32, 32, 32, 128, 0},
    {32, 128, 1, 100, 0, 1, 32, 128, 0},
    {32, 128, 1, 100, 16, 16, 32, 128, 0},
    {32, 128, 1, 100, 32, 32, 16, 128, 0},
    {32, 128, 4096, 4096, 0, 32, 16, 128, 0},
    {32, 128, 4096, 4096, 16, 16, 16, 128, 0},
    {32, 128, 4096, 4096, 32, 32, 16, 128, 0},
    {32, 256, 1, 100, 0, 1, 16, 128, 0},
    {32, 256, 1, 100, 16, 16, 8, 128, 0},
    {32, 256, 1, 100, 32, 0, 0, 0, 43528},
    {32, 256, 4096, 4096, 0, 8, 16, 128, 0},
    {32, 256, 4096, 4096, 16, 16, 8, 128, 0},
    {32, 256, 4096, 4096, 32, 0, 0, 0, 43528},
    {48, 16, 1, 100, 0, 1, 64, 64, 0},
    {48, 16, 1, 100, 16, 16, 64, 128, 0},
    {48, 16, 1, 100, 32, 32, 64, 128, 0},
    {48, 16, 4096, 4096, 0, 32, 64, 128, 0},
    {48, 16, 4096, 4096, 16, 16, 64, 128, 0},
    {48, 16, 4096, 4096, 32, 32, 64, 128, 0},
    {48, 64, 1, 100, 0, 1, 64, 64, 0},
    {48, 64, 1, 100, 16, 16, 64, 128, 0},
    {48, 64, 1, 100, 32, 32, 64, 128, 0},
    {48, 64, 4096, 4096, 0, 32, 64, 128, 0},
    {48, 64, 4096, 4096, 16, 16, 64, 128, 0},
    {48, 64, 4096, 4096, 32, 32, 64, 128, 0},
    {48, 128, 1, 100, 0, 1, 64, 128, 0},
    {48, 128, 1, 100, 16, 16, 64, 128, 0},
    {48, 128, 1, 100, 32, 32, 32, 128, 0},
    {48, 128, 4096, 4096, 0, 32, 32, 128, 0},
    {48, 128, 4096, 4096, 16, 16, 32, 128, 0},
    {48, 128, 4096, 4096, 32, 32, 32, 128, 0},
    {48, 256, 1, 100, 0, 1, 32, 128, 0},
    {48, 256, 1, 100, 16, 16, 16, 128, 0},
    {48, 256, 1, 100, 32, 32, 8, 128, 0},
    {48, 256, 4096, 4096, 0, 16, 16, 128, 0},
    {48, 256, 4096, 4096, 16, 16, 16, 128, 0},
    {48, 256, 4096, 4096, 32, 32, 8, 128, 0},
};

TEST(AdaptivePlanTiles, ScalarTilesAreUnchanged) {
  for (const TilePin& pin : kPins) {
    for (DType dtype : {DType::f32, DType::f16}) {  // two kernels, one shared-memory layout
      const DeviceInfo device = device_of(pin.kib);
      attention::AttentionShape shape;
      shape.q_len = pin.nq;
      shape.kv_len = pin.nk;
      shape.head_dim = pin.head_dim;
      shape.dtype = dtype;
      AdaptiveOptions options;
      if (pin.forced_block_q) options.block_q = pin.forced_block_q;
      const auto tiles = plan_tiles(device, shape, options);
      SCOPED_TRACE(device.name + " D=" + std::to_string(pin.head_dim) + " Nq=" + std::to_string(pin.nq) + " Br=" +
                   std::to_string(pin.forced_block_q) + " " + std::string(to_string(dtype)));
      if (pin.refused_needing) {
        ASSERT_FALSE(tiles.has_value());
        EXPECT_EQ(tiles.error().code(), ErrorCode::unsupported);
        EXPECT_NE(tiles.error().what().find("needs " + std::to_string(pin.refused_needing) + " bytes of shared memory"),
                  std::string::npos)
            << tiles.error().what();
        continue;
      }
      ASSERT_TRUE(tiles.has_value()) << tiles.error().what();
      EXPECT_EQ(tiles->path, attention::KernelPath::scalar);
      EXPECT_EQ(tiles->block_q, pin.block_q);
      EXPECT_EQ(tiles->block_kv, pin.block_kv);
      EXPECT_EQ(tiles->workgroup, pin.workgroup);
    }
  }
}

}  // namespace
}  // namespace aat::adaptive
