#version 450
// Exact attention over f32 Q, K, V, O (f32 accumulation). Body: attention_forward.glsl.
#define STORAGE_T float
#include "attention_forward.glsl"
