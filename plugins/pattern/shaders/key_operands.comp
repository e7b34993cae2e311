#version 450
// The key tiles' moments as the f16 operands of the bound rule's tensor-core moments
// (bound_moments_coopmat.glsl), one invocation per (batch x kv head, key tile j). From the
// tile-major means m_j and means of squares (pool_mean.glsl, f32), with v_j = max(m2_j - m_j^2, 0)
// as the invocation kernel takes it:
//   m_j 2^-g_j = mh + ml,  v_j 2^-f_j = vh + vl   (split_operands.glsl; 2^g_j > max_d |m_jd|, likewise f_j)
// Out: [heads][4][D_PAD][tiles_pad] f16 (mh, ml, vh, vl; coordinate-major, so the map kernel
// loads K^T row-major; zero past D and past tiles_k) and
// (2^g_j, 2^f_j) per tile; NaN scales and zero operands for a tile with a non-finite moment.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "split_operands.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;  // a multiple of 4
const uint D4 = HEAD_DIM / 4u;
const uint D_PAD = (HEAD_DIM + 15u) / 16u * 16u;

layout(std430, binding = 0) readonly buffer KMeanBuffer { vec4 x[]; } KMean;      // [heads, D / 4, tiles_k] of vec4
layout(std430, binding = 1) readonly buffer KSquareBuffer { vec4 x[]; } KSquare;  // mean k^2, as KMean
layout(std430, binding = 2) writeonly buffer OperandBuffer { float16_t x[]; } Operands;
layout(std430, binding = 3) writeonly buffer ScaleBuffer { vec2 x[]; } Scales;    // [heads, tiles_pad]

layout(push_constant) uniform KeyOperandParams {
  uint heads;      // batch x kv heads
  uint tiles_k;
  uint tiles_pad;  // tiles_k rounded up to 16
} p;

void main() {
  const uint index = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;  // a 2D grid
  if (index >= p.heads * p.tiles_pad) return;
  const uint head = index / p.tiles_pad, j = index % p.tiles_pad;
  const uint src = head * D4 * p.tiles_k + j;
  bool finite = true;
  float top_mean = 0.0, top_var = 0.0;
  if (j < p.tiles_k) {
    for (uint d4 = 0u; d4 < D4; ++d4) {
      const vec4 m = KMean.x[src + d4 * p.tiles_k];
      const vec4 v = max(KSquare.x[src + d4 * p.tiles_k] - m * m, vec4(0.0));
      finite = finite && !any(isnan(m)) && !any(isinf(m)) && !any(isnan(v)) && !any(isinf(v));
      top_mean = max(top_mean, max(max(abs(m.x), abs(m.y)), max(abs(m.z), abs(m.w))));
      top_var = max(top_var, max(max(v.x, v.y), max(v.z, v.w)));
    }
  }
  const int g = finite ? exponent_above(top_mean) : 0, f = finite ? exponent_above(top_var) : 0;
  Scales.x[index] = finite ? vec2(ldexp(1.0, g), ldexp(1.0, f)) : vec2(SPLIT_NAN);
  const uint plane = p.tiles_pad * D_PAD;
  const uint out0 = head * 4u * plane + j;
  for (uint d = 0u; d < D_PAD; ++d) {
    float m = 0.0, v = 0.0;
    if (j < p.tiles_k && finite && d < HEAD_DIM) {
      m = KMean.x[src + (d / 4u) * p.tiles_k][d % 4u];
      v = max(KSquare.x[src + (d / 4u) * p.tiles_k][d % 4u] - m * m, 0.0);
    }
    const f16vec2 mean = split_half(m, g), variance = split_half(v, f);
    const uint at = out0 + d * p.tiles_pad;
    Operands.x[at] = mean.x;
    Operands.x[at + plane] = mean.y;
    Operands.x[at + 2u * plane] = variance.x;
    Operands.x[at + 3u * plane] = variance.y;
  }
}
