#version 450
// REQUIRES: coopmat_khr
// The bound rule's map kernel with phase A (the moments) as f16 matrix products on the tensor
// cores (VK_KHR_cooperative_matrix, 16x16x16, f32 accumulate): pattern_bound.glsl,
// bound_moments_coopmat.glsl. Groups of one query row; subgroups of 32.
#extension GL_GOOGLE_include_directive : require
#define AAT_BOUND_TENSOR_MOMENTS
#include "pattern_bound.glsl"
