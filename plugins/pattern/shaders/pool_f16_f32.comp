#version 450
// Mean pooling, f16 in, f32 out (tile means for the pattern). Body: pool_mean.glsl.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define IN_T float16_t
#define OUT_T float
#include "pool_mean.glsl"
