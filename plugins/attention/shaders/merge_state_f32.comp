#version 450
// Exact merge of partial states into one partial state (normalised o f32, (m, l)): a device's
// share of the keys reduced before it meets the other devices' (aat/attention/multi_device.hpp).
// Body: shaders/aat/merge_partials.glsl.
#define OUT_T float
#define MERGE_TO_STATE
#include "aat/merge_partials.glsl"
