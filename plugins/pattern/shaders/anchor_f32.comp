#version 450
// Anchor mass (anchor.glsl) of f32 Q and K.
#define IN_VEC4 vec4
#include "anchor.glsl"
