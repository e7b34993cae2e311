#version 450
// REQUIRES: coopmat_khr
// Tensor-core attention through VK_KHR_cooperative_matrix, f16, D = 128. Body: attention_coopmat.glsl.
#extension GL_GOOGLE_include_directive : require
#define AAT_COOPMAT_KHR
#define HEAD_DIM 128
#include "attention_coopmat.glsl"
