#version 450
// Exact merge of the router's work-item states into an f16 output. Body: shaders/aat/merge_partials_ranged.glsl.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define OUT_T float16_t
#include "aat/merge_partials_ranged.glsl"
