#version 450
// The bound rule's map kernel, phase A (the moments) on the invocations: pattern_bound.glsl.
#extension GL_GOOGLE_include_directive : require
#include "pattern_bound.glsl"
