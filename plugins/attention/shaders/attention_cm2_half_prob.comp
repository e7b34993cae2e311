#version 450
// REQUIRES: coopmat2
// Tensor-core attention through VK_NV_cooperative_matrix2 as variant 2 (narrow row statistics,
// row sums of P on the tensor cores), with P = exp2(S - m) evaluated in f16 (tiling variant 3):
// S, m and l stay f32; P is rounded to f16 for P V in every variant, so only the exponent's
// argument gains rounding (|S - m| < 8 moves P by < 0.4%, smaller P matter less). Body:
// attention_cm2.glsl.
#extension GL_GOOGLE_include_directive : require
#define AAT_NARROW_ROW_STATS
#define AAT_HALF_PROB
#include "attention_cm2.glsl"
