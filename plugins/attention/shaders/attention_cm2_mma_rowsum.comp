#version 450
// REQUIRES: coopmat2
// Tensor-core attention through VK_NV_cooperative_matrix2, row sums of P as P x ones on the
// tensor cores (tiling variant 1). Body: attention_cm2.glsl.
#extension GL_GOOGLE_include_directive : require
#define AAT_ROW_SUM_ON_TENSOR_CORES
#include "attention_cm2.glsl"
