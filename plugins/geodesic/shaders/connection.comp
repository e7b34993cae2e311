#version 450
// The connection of the conformal metric g = e^{2 phi} (dx^2 + dy^2): per grid node the
// gradient of phi, by central differences inside and second-order one-sided differences on
// the grid's edges (first order when the grid is 2 nodes wide). Writes
// field[i, j] = (phi, d phi/dx, d phi/dy, 0), what integrate.comp interpolates.
//
// One workgroup per 16x16 tile of nodes. The tile and a 2-node halo of phi are staged in
// shared memory (the one-sided 3-point stencil on an edge node reaches two nodes in); reads
// past the grid are clamped and never used by a stencil.
//
// Also checks phi: any node holding a non-finite value sets flag.non_finite to 1 (the host
// clears it beforehand and, when it is set, finds which node on the host). Racing stores all
// write the same word, so no atomics are needed.
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer PhiBuffer { float values[]; } phi;
layout(std430, binding = 1) writeonly buffer FieldBuffer { vec4 nodes[]; } field;
layout(std430, binding = 2) writeonly buffer FlagBuffer { uint non_finite; } flag;

layout(push_constant) uniform Params {
  uint nx;         // nodes along x (columns), >= 2
  uint ny;         // nodes along y (rows), >= 2
  float inv_2hx;   // 1 / (2 hx)
  float inv_2hy;   // 1 / (2 hy)
} params;

const int kTile = 16;
const int kHalo = 2;
const int kSpan = kTile + 2 * kHalo;

shared float tile[kSpan * kSpan];

float at(int x, int y) { return tile[(y + kHalo) * kSpan + (x + kHalo)]; }

// d/ds of phi along one axis at tile-local position `l` (a node of the grid at `g` of `n`),
// `step` the unit offset along that axis in tile coordinates.
float derivative(ivec2 l, ivec2 step, int g, int n, float inv_2h) {
  const float here = at(l.x, l.y);
  if (n == 2) {  // two nodes: the one difference there is (exact for a linear phi)
    const float other = at(l.x + (g == 0 ? step.x : -step.x), l.y + (g == 0 ? step.y : -step.y));
    return (g == 0 ? other - here : here - other) * 2.0 * inv_2h;
  }
  if (g == 0)
    return (-3.0 * here + 4.0 * at(l.x + step.x, l.y + step.y) - at(l.x + 2 * step.x, l.y + 2 * step.y)) * inv_2h;
  if (g == n - 1)
    return (3.0 * here - 4.0 * at(l.x - step.x, l.y - step.y) + at(l.x - 2 * step.x, l.y - 2 * step.y)) * inv_2h;
  return (at(l.x + step.x, l.y + step.y) - at(l.x - step.x, l.y - step.y)) * inv_2h;
}

void main() {
  const int nx = int(params.nx);
  const int ny = int(params.ny);
  const ivec2 origin = ivec2(gl_WorkGroupID.xy) * kTile - kHalo;
  for (uint k = gl_LocalInvocationIndex; k < uint(kSpan * kSpan); k += uint(kTile * kTile)) {
    const ivec2 l = ivec2(int(k) % kSpan, int(k) / kSpan);
    const ivec2 g = clamp(origin + l, ivec2(0), ivec2(nx - 1, ny - 1));
    tile[k] = phi.values[g.y * nx + g.x];
  }
  barrier();

  const ivec2 g = ivec2(gl_GlobalInvocationID.xy);
  if (g.x >= nx || g.y >= ny) return;
  const ivec2 l = ivec2(gl_LocalInvocationID.xy);
  const float value = at(l.x, l.y);
  const uint index = uint(g.y * nx + g.x);
  if (isnan(value) || isinf(value)) flag.non_finite = 1u;
  const float dx = derivative(l, ivec2(1, 0), g.x, nx, params.inv_2hx);
  const float dy = derivative(l, ivec2(0, 1), g.y, ny, params.inv_2hy);
  field.nodes[index] = vec4(value, dx, dy, 0.0);
}
