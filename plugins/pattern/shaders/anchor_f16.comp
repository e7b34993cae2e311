#version 450
// Anchor mass (anchor.glsl) of f16 Q and K (f32 arithmetic).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define IN_VEC4 f16vec4
#include "anchor.glsl"
