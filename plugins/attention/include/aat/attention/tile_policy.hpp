// The one rule attention and adaptive attention choose their tiles by: the first candidate, in
// preference order, whose shared memory (the kernel's reflection, specialized for it) fits.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "aat/error.hpp"

namespace aat::attention {

struct Tile {
  std::uint32_t block_q = 0;   // Br: query rows
  std::uint32_t block_kv = 0;  // Bc: keys per shared-memory tile
};

struct TileFit {
  Tile tile;
  std::uint64_t shared_bytes = 0;
};

// The shared memory of a kernel specialized for a tile, or why it cannot be known.
using TileSharedBytes = std::function<Expected<std::uint64_t>(const Tile&)>;

// The first of `candidates` whose shared memory fits `limit` bytes. `unsupported` when none does,
// naming the last candidate (the smallest, in a preference order that shrinks) and what it needs;
// a `shared_bytes` error comes back as it is.
Expected<TileFit> first_fitting_tile(std::span<const Tile> candidates, std::uint64_t limit,
                                     const TileSharedBytes& shared_bytes);

}  // namespace aat::attention
