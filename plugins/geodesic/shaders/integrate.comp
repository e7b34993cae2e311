#version 450
// Geodesics of g = e^{2 phi} (dx^2 + dy^2), one invocation per geodesic.
//
// State (x, y, x', y') and the length L, integrated together with classic RK4:
//   x'' = -2 (grad phi . x') x' + |x'|^2 grad phi,      L' = e^{phi} |x'|.
// phi and grad phi come from field (connection.comp: one (phi, phi_x, phi_y, 0) per node),
// each interpolated bilinearly inside its cell, wherever a path is: tiles are how the field
// was computed, not a limit on where a path may go. RK4 stages that probe outside the
// rectangle read the field clamped to it.
//
// Leaving the domain: when a full step would end outside the closed rectangle, the fraction
// s of that step at which the path reaches the edge is found by bisection (kBisections
// halvings of [0, 1], each an RK4 step of s*dt from the last inside state); the result is the
// RK4 step of the largest fraction known to stay inside, so the exit point is on the edge to
// within |x'| dt 2^-24 (below f32 resolution), the length covers the path up to it, and the
// status is 1. A start outside the rectangle (or a NaN state) is returned as is with status 1.
//
// out[m] = (x, y, x', y', L, status), status 0 = inside after all steps, 1 = left the domain.
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer FieldBuffer { vec4 nodes[]; } field;
layout(std430, binding = 1) readonly buffer StateBuffer { float values[]; } states;
layout(std430, binding = 2) writeonly buffer OutBuffer { float values[]; } result;

layout(push_constant) uniform Params {
  float x0;       // the rectangle [x0, x1] x [y0, y1]; node (i, j) sits at (x0 + j hx, y0 + i hy)
  float y0;
  float x1;
  float y1;
  float inv_hx;   // 1 / hx, hx = (x1 - x0) / (nx - 1)
  float inv_hy;
  uint nx;
  uint ny;
  uint count;     // geodesics
  uint steps;
  float dt;
} params;

const int kBisections = 24;

// (phi, phi_x, phi_y), bilinear in the cell holding q (q clamped to the rectangle).
vec3 sample_field(vec2 q) {
  const vec2 lo = vec2(params.x0, params.y0);
  const vec2 c = clamp(q, lo, vec2(params.x1, params.y1));
  const vec2 u = (c - lo) * vec2(params.inv_hx, params.inv_hy);
  const uint j = min(uint(u.x), params.nx - 2u);
  const uint i = min(uint(u.y), params.ny - 2u);
  const vec2 w = clamp(u - vec2(float(j), float(i)), 0.0, 1.0);
  const uint base = i * params.nx + j;
  const vec4 f00 = field.nodes[base];
  const vec4 f01 = field.nodes[base + 1u];
  const vec4 f10 = field.nodes[base + params.nx];
  const vec4 f11 = field.nodes[base + params.nx + 1u];
  return mix(mix(f00, f01, w.x), mix(f10, f11, w.x), w.y).xyz;
}

// d/dt of the state, and of the length in `dl`.
vec4 rate(vec4 s, out float dl) {
  const vec3 f = sample_field(s.xy);
  const vec2 v = s.zw;
  const vec2 grad = f.yz;
  const float speed2 = dot(v, v);
  dl = exp(f.x) * sqrt(speed2);
  return vec4(v, -2.0 * dot(grad, v) * v + speed2 * grad);
}

// One classic RK4 step of size h from s; the length gained in `dl`.
vec4 rk4(vec4 s, float h, out float dl) {
  float l1, l2, l3, l4;
  const vec4 k1 = rate(s, l1);
  const vec4 k2 = rate(s + 0.5 * h * k1, l2);
  const vec4 k3 = rate(s + 0.5 * h * k2, l3);
  const vec4 k4 = rate(s + h * k3, l4);
  dl = h / 6.0 * (l1 + 2.0 * l2 + 2.0 * l3 + l4);
  return s + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
}

bool inside(vec2 q) {
  return q.x >= params.x0 && q.x <= params.x1 && q.y >= params.y0 && q.y <= params.y1;
}

void main() {
  const uint m = gl_GlobalInvocationID.x;
  if (m >= params.count) return;
  vec4 s = vec4(states.values[4u * m], states.values[4u * m + 1u], states.values[4u * m + 2u],
                states.values[4u * m + 3u]);
  float travelled = 0.0;
  float status = inside(s.xy) ? 0.0 : 1.0;

  [[dont_unroll]] for (uint k = 0u; k < params.steps && status == 0.0; ++k) {
    float dl;
    const vec4 next = rk4(s, params.dt, dl);
    if (inside(next.xy)) {
      s = next;
      travelled += dl;
      continue;
    }
    float lo = 0.0, hi = 1.0;
    [[dont_unroll]] for (int b = 0; b < kBisections; ++b) {
      const float mid = 0.5 * (lo + hi);
      float ignored;
      if (inside(rk4(s, mid * params.dt, ignored).xy)) lo = mid; else hi = mid;
    }
    s = rk4(s, lo * params.dt, dl);
    travelled += dl;
    status = 1.0;
  }

  const uint o = 6u * m;
  result.values[o] = s.x;
  result.values[o + 1u] = s.y;
  result.values[o + 2u] = s.z;
  result.values[o + 3u] = s.w;
  result.values[o + 4u] = travelled;
  result.values[o + 5u] = status;
}
