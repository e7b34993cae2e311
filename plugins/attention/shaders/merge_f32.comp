#version 450
// Exact merge of split-K partial states into an f32 output. Body: shaders/aat/merge_partials.glsl.
#define OUT_T float
#include "aat/merge_partials.glsl"
