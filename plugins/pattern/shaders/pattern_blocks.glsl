// Shared by the two level rules, pattern_map.comp (mass) and pattern_bound.comp (bound): the
// flags of a query tile's key tiles, the visible keys of a group of query rows, and the halo and
// boundary rules with the output. Include after the spec constants CAUSAL and MAX_TILES, the
// buffers KeyLengths, Density and Levels, and the push constants `p` (q_len, kv_len, block_k,
// tiles_k, sink_tiles, local_window, halo).

const uint LEVEL_FULL = 0u, LEVEL_POOL2 = 1u, LEVEL_POOL4 = 2u, LEVEL_SKIP = 3u, LEVEL_MASKED = 4u;
const uint FLAG_VISIBLE = 1u, FLAG_PARTIAL = 2u, FLAG_FORCED = 4u;
const uint FLAG_HALO = 8u;  // a forced tile whose content widens the halo too (the bound rule)

shared float sD[MAX_TILES];  // the density written out
// Per key tile: FLAG_* in bits 0..7, the level before the halo in bits 8..15 (one array: the
// bound rule's kernel needs all of lavapipe's 32 KiB of shared memory otherwise). Each tile
// belongs to one invocation (j = tid + n * workgroup size, n < MAX_OWNED), which keeps the
// tile's level in registers (keep_level) while others read the flags and stores it
// (store_levels) between barriers: no write races a read of the same word, no atomics
// (lavapipe lacks device-scope ones).
shared uint sTiles[MAX_TILES];
const uint MAX_OWNED = 16u;  // tiles per invocation: MAX_TILES / workgroup size (the host checks it)
uint gOwned[2] = uint[2](0u, 0u);  // the owned tiles' levels, 4 bits each

uint tile_flags(uint j) { return sTiles[j] & 0xffu; }
uint tile_level(uint j) { return sTiles[j] >> 8; }
void keep_level(uint j, uint level) {
  const uint n = j / gl_WorkGroupSize.x, shift = 4u * (n % 8u);
  gOwned[n / 8u] = (gOwned[n / 8u] & ~(0xfu << shift)) | (level << shift);
}
uint kept_level(uint j) {
  const uint n = j / gl_WorkGroupSize.x;
  return (gOwned[n / 8u] >> (4u * (n % 8u))) & 0xfu;
}
// Stores every owned tile's kept level; call between barriers. Ends with a barrier.
void store_levels() {
  for (uint j = gl_LocalInvocationID.x; j < p.tiles_k; j += gl_WorkGroupSize.x)
    sTiles[j] = (sTiles[j] & 0xffu) | (kept_level(j) << 8);
  barrier();
}

// Mean visible keys of tile [k0, k1) over the query rows [a0, a1).
float group_keys(uint a0, uint a1, uint k0, uint k1, uint key_limit) {
  uint keys = 0u;
  for (uint a = a0; a < a1; ++a) {
    const uint end = min(k1, aat_row_key_end(a, p.q_len, p.kv_len, key_limit, CAUSAL));
    keys += end > k0 ? end - k0 : 0u;
  }
  return float(keys) / float(a1 - a0);
}

// The flags of every key tile for the query rows [q0, q1): visibility, forced (the first
// `sink_tiles` key tiles and the tiles meeting the diagonal window
// [q0 + offset - W, q1 - 1 + offset + (causal ? 0 : W)] in keys). Ends with a barrier.
void mark_tiles(uint q0, uint q1, uint key_limit) {
  const int offset = int(p.kv_len) - int(p.q_len);
  const int window_lo = int(q0) + offset - int(p.local_window);
  const int window_hi = int(q1) - 1 + offset + (CAUSAL ? 0 : int(p.local_window));
  for (uint j = gl_LocalInvocationID.x; j < p.tiles_k; j += gl_WorkGroupSize.x) {
    const uint k0 = j * p.block_k;
    const uint k1 = min(k0 + p.block_k, p.kv_len);
    const uint cls = aat_block_class(q0, q1, k0, k1, p.q_len, p.kv_len, key_limit, CAUSAL);
    uint flags = 0u;
    if (cls != AAT_BLOCK_MASKED) {
      flags = FLAG_VISIBLE | (cls == AAT_BLOCK_PARTIAL ? FLAG_PARTIAL : 0u);
      if (j < p.sink_tiles || (int(k1) - 1 >= window_lo && int(k0) <= window_hi)) flags |= FLAG_FORCED;
    }
    sTiles[j] = flags | (LEVEL_MASKED << 8);
  }
  barrier();
}

// From the levels and sD: the halo (a block within `halo` key tiles of a block ranked full, not
// forced, or of a forced block flagged FLAG_HALO, is full), boundary promotion (a partially
// masked block is never pooled), output.
void write_tiles(uint out_base) {
  for (uint j = gl_LocalInvocationID.x; j < p.tiles_k; j += gl_WorkGroupSize.x) {
    const uint flags = tile_flags(j);
    uint level = tile_level(j);
    if (level == LEVEL_POOL2 || level == LEVEL_POOL4 || level == LEVEL_SKIP) {
      const uint lo = j >= p.halo ? j - p.halo : 0u;
      const uint hi = min(j + p.halo, p.tiles_k - 1u);
      for (uint k = lo; k <= hi; ++k) {
        const uint fk = tile_flags(k);
        if ((tile_level(k) == LEVEL_FULL && (fk & FLAG_FORCED) == 0u) || (fk & FLAG_HALO) != 0u) level = LEVEL_FULL;
      }
    }
    if ((flags & FLAG_PARTIAL) != 0u && (level == LEVEL_POOL2 || level == LEVEL_POOL4)) level = LEVEL_FULL;
    Density.d[out_base + j] = sD[j];
    Levels.level[out_base + j] = uint8_t(level);
  }
}
