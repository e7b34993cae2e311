#version 450
// Attention over a router plan, f32 storage (f32 accumulation). Body: adaptive_forward.glsl.
#define STORAGE_T float
#include "adaptive_forward.glsl"
