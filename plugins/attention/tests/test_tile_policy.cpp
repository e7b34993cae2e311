// first_fitting_tile: the one rule attention and adaptive attention choose tiles by.
#include "aat/attention/tile_policy.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace aat::attention {
namespace {

// Bytes as a kernel with a Br x Bc score tile of floats would report them.
Expected<std::uint64_t> score_tile_bytes(const Tile& tile) { return std::uint64_t{4} * tile.block_q * tile.block_kv; }

TEST(TilePolicy, TakesTheFirstCandidateThatFits) {
  const std::vector<Tile> candidates{{32, 64}, {32, 32}, {16, 32}, {16, 16}};
  const auto fit = first_fitting_tile(candidates, 4 * 32 * 32, score_tile_bytes);
  ASSERT_TRUE(fit.has_value()) << fit.error().what();
  EXPECT_EQ(fit->tile.block_q, 32u);
  EXPECT_EQ(fit->tile.block_kv, 32u);
  EXPECT_EQ(fit->shared_bytes, 4u * 32 * 32);
  // Order is preference, not size: a smaller tile listed first wins.
  const std::vector<Tile> small_first{{16, 16}, {32, 32}};
  EXPECT_EQ(first_fitting_tile(small_first, 1 << 20, score_tile_bytes)->tile.block_q, 16u);
}

TEST(TilePolicy, NamesTheLastCandidateWhenNoneFits) {
  const std::vector<Tile> candidates{{32, 64}, {16, 8}};
  const auto fit = first_fitting_tile(candidates, 100, score_tile_bytes);
  ASSERT_FALSE(fit.has_value());
  EXPECT_EQ(fit.error().code(), ErrorCode::unsupported);
  EXPECT_NE(fit.error().what().find("Br = 16, Bc = 8 needs 512 bytes of shared memory, more than the 100"),
            std::string::npos)
      << fit.error().what();
}

TEST(TilePolicy, PassesTheKernelsErrorOn) {
  const std::vector<Tile> candidates{{32, 64}};
  const auto fit = first_fitting_tile(candidates, 1 << 20, [](const Tile&) -> Expected<std::uint64_t> {
    return fail(ErrorCode::reflection, "cannot reflect");
  });
  ASSERT_FALSE(fit.has_value());
  EXPECT_EQ(fit.error().code(), ErrorCode::reflection);
  EXPECT_FALSE(first_fitting_tile({}, 1 << 20, score_tile_bytes).has_value());
}

}  // namespace
}  // namespace aat::attention
