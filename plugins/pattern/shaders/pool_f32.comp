#version 450
// Mean pooling, f32 in, f32 out. Body: pool_mean.glsl.
#define IN_T float
#define OUT_T float
#include "pool_mean.glsl"
