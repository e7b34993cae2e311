#version 450
// y = a*x + y. Run it with no C++ written:
//   aat run examples/shaders/saxpy.comp --bind X=x.npy --bind Y=y.npy --out Y=y_out.npy \
//       --push a=2.0 --push n=1000 --grid 1000
layout(local_size_x = 64, local_size_x_id = 0) in;  // 64 by default; --spec local_size_x=128 changes it

layout(std430, binding = 0) readonly buffer XBuffer { float x[]; } X;
layout(std430, binding = 1) buffer YBuffer { float y[]; } Y;
layout(push_constant) uniform Params {
  float a;
  uint n;
} params;

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) Y.y[i] = params.a * X.x[i] + Y.y[i];
}
