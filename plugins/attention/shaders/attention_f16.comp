#version 450
// Exact attention over f16 Q, K, V, O (f32 accumulation). Body: attention_forward.glsl.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define STORAGE_T float16_t
#include "attention_forward.glsl"
