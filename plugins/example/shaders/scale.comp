#version 450
// y[i] = alpha * x[i] + beta, for i < n.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Input { float values[]; } x;
layout(std430, binding = 1) writeonly buffer Output { float values[]; } y;
layout(push_constant) uniform Params {
  float alpha;
  float beta;
  uint n;
} params;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i < params.n) y.values[i] = params.alpha * x.values[i] + params.beta;
}
