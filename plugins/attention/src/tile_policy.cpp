#include "aat/attention/tile_policy.hpp"

#include <fmt/format.h>

namespace aat::attention {

Expected<TileFit> first_fitting_tile(std::span<const Tile> candidates, std::uint64_t limit,
                                     const TileSharedBytes& shared_bytes) {
  if (candidates.empty()) return fail(ErrorCode::invalid_argument, "no tile to choose from");
  TileFit last;
  for (const Tile& tile : candidates) {
    AAT_TRY(last.shared_bytes, shared_bytes(tile));
    last.tile = tile;
    if (last.shared_bytes <= limit) return last;
  }
  return fail(ErrorCode::unsupported,
              fmt::format("Br = {}, Bc = {} needs {} bytes of shared memory, more than the {} there are (the last of {} "
                          "tiles tried)", last.tile.block_q, last.tile.block_kv, last.shared_bytes, limit,
                          candidates.size()));
}

}  // namespace aat::attention
