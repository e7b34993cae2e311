// y[i] = a * x[i] + y[i] for i < n: the framework tests' smallest complete kernel (two storage
// bindings, X by instance name and XBuffer by block name, a push block of a float and a uint).
#pragma once

#include <string>

namespace aat::testing {

// The local size is specialization constant 0 (local_size_x), `local_size` unless set.
inline std::string saxpy_glsl(int local_size = 64) {
  return "#version 450\n"
         "layout(local_size_x = " + std::to_string(local_size) + ", local_size_x_id = 0) in;\n" + R"(
layout(std430, binding = 0) readonly buffer XBuffer { float x[]; } X;
layout(std430, binding = 1) buffer YBuffer { float y[]; } Y;
layout(push_constant) uniform Params { float a; uint n; } params;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) Y.y[i] = params.a * X.x[i] + Y.y[i];
}
)";
}

}  // namespace aat::testing
