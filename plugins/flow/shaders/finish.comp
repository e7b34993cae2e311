#version 450
// End of a flow: phi = log(u) / 2 per node.

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer DensityBuffer { float values[]; } u;
layout(std430, binding = 1) writeonly buffer PhiBuffer { float values[]; } phi;

layout(push_constant) uniform Params {
  uint nx;
  uint ny;
} params;

void main() {
  const uvec2 g = gl_GlobalInvocationID.xy;
  if (g.x >= params.nx || g.y >= params.ny) return;
  const uint index = g.y * params.nx + g.x;
  phi.values[index] = 0.5 * log(u.values[index]);
}
