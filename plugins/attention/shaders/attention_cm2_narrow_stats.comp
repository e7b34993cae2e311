#version 450
// REQUIRES: coopmat2
// Tensor-core attention through VK_NV_cooperative_matrix2, row statistics kept 16 columns wide
// and row sums of P on the tensor cores (tiling variant 2). Body: attention_cm2.glsl.
#extension GL_GOOGLE_include_directive : require
#define AAT_NARROW_ROW_STATS
#include "attention_cm2.glsl"
