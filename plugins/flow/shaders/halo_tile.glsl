// A 16x16 tile of grid nodes and a 1-node halo in shared memory, for the 5-point Laplacian.
//
// Before including, define TILE_VALUE(index): the value stored for the node of flat index
// `index` (e.g. log(u.values[index])). Then call load_tile() from every invocation of the
// workgroup (it ends in a barrier) and read with tile_at / tile_laplacian.
//
// Boundary: periodic wraps the halo around the grid (a torus); Neumann (zero flux) reads the
// edge node itself for a node past the edge, so the domain boundary lies half a node spacing
// outside the outer nodes (nodes are cell centres) and no flux crosses it.

#ifndef TILE_VALUE
#error "define TILE_VALUE(index) before including halo_tile.glsl"
#endif

const int kTile = 16;
const int kSpan = kTile + 2;

shared float tile[kSpan * kSpan];

int wrap_or_clamp(int g, int n, bool periodic) {
  return periodic ? (g + n) % n : clamp(g, 0, n - 1);
}

void load_tile(int nx, int ny, bool periodic) {
  const ivec2 origin = ivec2(gl_WorkGroupID.xy) * kTile - 1;
  for (uint k = gl_LocalInvocationIndex; k < uint(kSpan * kSpan); k += uint(kTile * kTile)) {
    const ivec2 l = ivec2(int(k) % kSpan, int(k) / kSpan);
    // Nodes beyond the far edge of a partial tile are loaded too (clamped or wrapped into the
    // grid) but only halo positions of real nodes are ever read.
    const int gx = wrap_or_clamp(min(origin.x + l.x, nx), nx, periodic);
    const int gy = wrap_or_clamp(min(origin.y + l.y, ny), ny, periodic);
    tile[k] = TILE_VALUE(uint(gy * nx + gx));
  }
  barrier();
}

// The value at tile-local node l (0..15 inside the tile, -1 and 16 the halo).
float tile_at(ivec2 l) { return tile[(l.y + 1) * kSpan + (l.x + 1)]; }

// Sum of the four neighbours minus four times the node: h^2 times the 5-point Laplacian.
float tile_laplacian(ivec2 l) {
  return tile_at(l + ivec2(1, 0)) + tile_at(l - ivec2(1, 0)) + tile_at(l + ivec2(0, 1)) + tile_at(l - ivec2(0, 1)) -
         4.0 * tile_at(l);
}
