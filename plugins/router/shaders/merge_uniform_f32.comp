#version 450
// The fixed-count merge (attention's split-K layout) as the router offers it for callers with
// the same number of states per row. Body: shaders/aat/merge_partials.glsl.
#define OUT_T float
#include "aat/merge_partials.glsl"
