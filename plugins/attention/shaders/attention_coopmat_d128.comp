#version 450
// REQUIRES: coopmat_nv
// Tensor-core attention, f16, D = 128. Body: attention_coopmat.glsl.
#define HEAD_DIM 128
#include "attention_coopmat.glsl"
