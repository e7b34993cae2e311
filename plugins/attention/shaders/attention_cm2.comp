#version 450
// REQUIRES: coopmat2
// Tensor-core attention through VK_NV_cooperative_matrix2, row sums of P by reduction.
// Body: attention_cm2.glsl.
#extension GL_GOOGLE_include_directive : require
#include "attention_cm2.glsl"
