#version 450
// The query rows as the f16 operands of the bound rule's tensor-core moments
// (bound_moments_coopmat.glsl), one invocation per (batch x head, query row a). From q_a (f32):
//   q_a 2^-e_a = qh + ql,  (q_a 2^-e_a)^2 = rh + rl   (split_operands.glsl; 2^e_a > max_d |q_ad|)
// Out: [heads][4][rows_pad][D_PAD] f16 (qh, ql, rh, rl; zero past D and past the rows: the map
// kernel reads whole 16-row matrices from any row of a tile) and 2^e_a per row; NaN for a row with
// a non-finite value, whose operands are zero.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "split_operands.glsl"

layout(local_size_x_id = 0) in;  // rows per workgroup
layout(constant_id = 1) const uint HEAD_DIM = 64;  // a multiple of 4
const uint D4 = HEAD_DIM / 4u;
const uint D_PAD = (HEAD_DIM + 15u) / 16u * 16u;

layout(std430, binding = 0) readonly buffer QBuffer { vec4 x[]; } Q;  // [heads, rows, D] f32
layout(std430, binding = 1) writeonly buffer OperandBuffer { float16_t x[]; } Operands;
layout(std430, binding = 2) writeonly buffer ScaleBuffer { float x[]; } Scales;  // [heads, rows_pad]

layout(push_constant) uniform RowOperandParams {
  uint heads;     // batch x query heads
  uint rows;      // Nq
  uint rows_pad;  // Nq + 16
} p;

shared int sExponent[gl_WorkGroupSize.x];  // of each row; -1000: a non-finite row

// A workgroup per gl_WorkGroupSize.x consecutive (head, row) pairs: each invocation finds its
// row's exponent, then the workgroup writes the rows' planes with consecutive invocations on
// consecutive coordinates (an invocation per row writing its own row was 2-3x slower than the
// whole map on the H200: every store of a subgroup hit a different cache line).
void main() {
  const uint rows_per_group = gl_WorkGroupSize.x;
  const uint first = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * rows_per_group;
  const uint total = p.heads * p.rows_pad;
  {
    const uint index = first + gl_LocalInvocationID.x;
    const uint head = index / p.rows_pad, a = index % p.rows_pad;
    bool finite = true;
    float top = 0.0;
    if (index < total && a < p.rows) {
      for (uint d4 = 0u; d4 < D4; ++d4) {
        const vec4 q = Q.x[(head * p.rows + a) * D4 + d4];
        finite = finite && !any(isnan(q)) && !any(isinf(q));
        top = max(top, max(max(abs(q.x), abs(q.y)), max(abs(q.z), abs(q.w))));
      }
    }
    const int e = finite ? exponent_above(top) : 0;
    sExponent[gl_LocalInvocationID.x] = finite ? e : -1000;
    if (index < total) Scales.x[index] = finite ? ldexp(1.0, e) : SPLIT_NAN;
  }
  barrier();
  const uint plane = p.rows_pad * D_PAD;
  for (uint x = gl_LocalInvocationID.x; x < rows_per_group * D_PAD; x += rows_per_group) {
    const uint index = first + x / D_PAD, d = x % D_PAD;
    if (index >= total) break;
    const uint head = index / p.rows_pad, a = index % p.rows_pad;
    const int e = sExponent[x / D_PAD];
    float q = 0.0;
    if (a < p.rows && e != -1000 && d < HEAD_DIM) q = ldexp(Q.x[(head * p.rows + a) * D4 + d / 4u][d % 4u], -e);
    const f16vec2 value = split_half(q, 0), square = split_half(q * q, 0);
    const uint at = head * 4u * plane + a * D_PAD + d;
    Operands.x[at] = value.x;
    Operands.x[at + plane] = value.y;
    Operands.x[at + 2u * plane] = square.x;
    Operands.x[at + 3u * plane] = square.y;
  }
}
