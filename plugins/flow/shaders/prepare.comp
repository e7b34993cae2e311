#version 450
// Start of a flow: u = e^{2 phi} per node (the flow evolves u, whose sum it conserves), and
// per 16x16 tile the smallest and largest phi (the host turns them into the stability bound
// and a range check). Any non-finite phi sets flag.non_finite (racing stores of the same word:
// no atomics needed; the host finds which node).
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer PhiBuffer { float values[]; } phi;
layout(std430, binding = 1) writeonly buffer DensityBuffer { float values[]; } u;
layout(std430, binding = 2) writeonly buffer RangeBuffer { vec2 min_max[]; } tiles;  // per workgroup
layout(std430, binding = 3) writeonly buffer FlagBuffer { uint non_finite; } flag;

layout(push_constant) uniform Params {
  uint nx;
  uint ny;
} params;

const uint kThreads = 256u;
shared vec2 partial[kThreads];

void main() {
  const uvec2 g = gl_GlobalInvocationID.xy;
  const bool node = g.x < params.nx && g.y < params.ny;
  vec2 range = vec2(3.0e38, -3.0e38);
  if (node) {
    const uint index = g.y * params.nx + g.x;
    const float value = phi.values[index];
    if (isnan(value) || isinf(value)) {
      flag.non_finite = 1u;
    } else {
      range = vec2(value);
    }
    u.values[index] = exp(2.0 * value);
  }
  const uint lid = gl_LocalInvocationIndex;
  partial[lid] = range;
  barrier();
  [[unroll]] for (uint stride = kThreads / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] = vec2(min(partial[lid].x, partial[lid + stride].x), max(partial[lid].y, partial[lid + stride].y));
    }
    barrier();
  }
  if (lid == 0u) tiles.min_max[gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x] = partial[0];
}
