#version 450
// Anchor mass (anchor.glsl) of f32 Q and K.
#define IN_T float
#include "anchor.glsl"
