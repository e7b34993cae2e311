#version 450
// Gauss curvature of g = e^{2 phi} (dx^2 + dy^2):  K = -e^{-2 phi} Laplacian(phi), with the
// same 5-point Laplacian, tiles and boundaries as flow_step.comp.

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer PhiBuffer { float values[]; } phi;
layout(std430, binding = 1) writeonly buffer CurvatureBuffer { float values[]; } curvature;

layout(push_constant) uniform Params {
  uint nx;
  uint ny;
  uint periodic;    // 1: torus, 0: Neumann (zero flux)
  float inv_h2;     // 1 / h^2
} params;

#define TILE_VALUE(index) phi.values[index]
#include "halo_tile.glsl"

void main() {
  load_tile(int(params.nx), int(params.ny), params.periodic != 0u);
  const uvec2 g = gl_GlobalInvocationID.xy;
  if (g.x >= params.nx || g.y >= params.ny) return;
  const ivec2 l = ivec2(gl_LocalInvocationID.xy);
  curvature.values[g.y * params.nx + g.x] = -exp(-2.0 * tile_at(l)) * tile_laplacian(l) * params.inv_h2;
}
