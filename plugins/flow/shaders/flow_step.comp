#version 450
// One explicit Euler step of the Ricci flow of g = e^{2 phi} (dx^2 + dy^2) in the variable
// u = e^{2 phi}:   du/dt = Laplacian(log u)   (the same as d phi/dt = e^{-2 phi} Laplacian(phi)).
//   u_out = u_in + (dt / h^2) * (sum of the 4 neighbours' log u - 4 log u)
// The 5-point differences telescope, so sum(u) is conserved exactly up to rounding on the
// torus and with zero-flux (Neumann) edges. Stable and monotone for dt <= h^2 min(u) / 4
// (the host sub-steps above it). One workgroup per 16x16 tile, log u staged with its halo in
// shared memory, so each log is taken once per tile.

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer InBuffer { float values[]; } u_in;
layout(std430, binding = 1) writeonly buffer OutBuffer { float values[]; } u_out;

layout(push_constant) uniform Params {
  uint nx;
  uint ny;
  uint periodic;  // 1: torus, 0: Neumann (zero flux)
  float rate;     // dt / h^2
} params;

#define TILE_VALUE(index) log(u_in.values[index])
#include "halo_tile.glsl"

void main() {
  load_tile(int(params.nx), int(params.ny), params.periodic != 0u);
  const uvec2 g = gl_GlobalInvocationID.xy;
  if (g.x >= params.nx || g.y >= params.ny) return;
  const uint index = g.y * params.nx + g.x;
  u_out.values[index] = u_in.values[index] + params.rate * tile_laplacian(ivec2(gl_LocalInvocationID.xy));
}
