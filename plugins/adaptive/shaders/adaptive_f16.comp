#version 450
// Attention over a router plan, f16 storage (f32 accumulation). Body: adaptive_forward.glsl.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define STORAGE_T float16_t
#include "adaptive_forward.glsl"
