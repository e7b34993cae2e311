// Merge of NUM partial softmax states per row (split-K / flash-decoding, router work items).
// One invocation per output element (row, d). Include after defining OUT_T (storage type of
// the merged output) and declaring nothing else; see attention's merge_f32.comp.
//
// Layout: partial_o [splits][rows][D] f32, partial_state [splits][rows][2] f32 = (m, l),
//         out [rows][D] OUT_T, out_lse [rows] f32.
// With MERGE_TO_STATE defined, binding 3 receives the merged state (m, l) [rows][2] instead of
// the log-sum-exp, and out (normalised o, OUT_T float) with it is one partial state again: what
// a device sends on when its states are merged with other devices' (attention's merge_state_f32.comp).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;

layout(std430, binding = 0) readonly buffer PartialOBuffer { float o[]; } partial_o;
layout(std430, binding = 1) readonly buffer PartialStateBuffer { vec2 ml[]; } partial_state;
layout(std430, binding = 2) writeonly buffer OutBuffer { OUT_T o[]; } out_o;
#ifdef MERGE_TO_STATE
layout(std430, binding = 3) writeonly buffer OutStateBuffer { vec2 ml[]; } out_state;
#else
layout(std430, binding = 3) writeonly buffer OutLseBuffer { float lse[]; } out_lse;
#endif

layout(push_constant) uniform MergeParams {
  uint rows;
  uint splits;
} merge;

#include "aat/merge_row.glsl"

void main() {
  // A 2D grid keeps large merges under the per-axis workgroup-count limit.
  const uint index = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  if (index >= merge.rows * HEAD_DIM) return;
  const uint row = index / HEAD_DIM;
  const uint d = index % HEAD_DIM;

#ifdef MERGE_TO_STATE
  vec2 ml;
  out_o.o[index] = aat_merge_row_state(row, merge.rows, merge.splits, d, ml);
  if (d == 0) out_state.ml[row] = ml;
#else
  float lse;
  const float o = aat_merge_row(row, merge.rows, merge.splits, d, lse);
  out_o.o[index] = OUT_T(o);
  if (d == 0) out_lse.lse[row] = lse;
#endif
}
