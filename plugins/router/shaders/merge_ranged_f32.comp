#version 450
// Exact merge of the router's work-item states into an f32 output. Body: shaders/aat/merge_partials_ranged.glsl.
#define OUT_T float
#include "aat/merge_partials_ranged.glsl"
