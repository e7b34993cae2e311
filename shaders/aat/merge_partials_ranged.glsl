// Merge of a VARIABLE number of partial softmax states per group of rows (the router's work
// items: a query tile's key blocks split into items of different lengths). The merge is
// merge_row.glsl's, as in merge_partials.glsl; only the layout differs. One invocation per output element (row, d). Include after defining OUT_T.
//
// Rows: B*H slices of q_len query rows, each cut into tiles_q groups of GROUP_ROWS consecutive
// rows (the last one may be shorter); group g = slice * tiles_q + row_in_slice / GROUP_ROWS.
// Layout: partial_o [slots][GROUP_ROWS][D] f32 (normalised o), partial_state [slots][GROUP_ROWS]
// vec2 (m, l), group_states [groups] uvec2 = (count, first slot): group g's states are slots
// first .. first + count - 1. count 0: no state, the rows get O = 0 and L = -inf. With
// SKIP_SINGLE a group of count 1 is left alone (its producer wrote O and L directly).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HEAD_DIM = 64;
layout(constant_id = 2) const uint GROUP_ROWS = 32;
layout(constant_id = 3) const bool SKIP_SINGLE = true;

layout(std430, binding = 0) readonly buffer PartialOBuffer { float o[]; } partial_o;
layout(std430, binding = 1) readonly buffer PartialStateBuffer { vec2 ml[]; } partial_state;
layout(std430, binding = 2) readonly buffer GroupStateBuffer { uvec2 range[]; } group_states;
layout(std430, binding = 3) writeonly buffer OutBuffer { OUT_T o[]; } out_o;
layout(std430, binding = 4) writeonly buffer OutLseBuffer { float lse[]; } out_lse;

layout(push_constant) uniform RangedMergeParams {
  uint rows;     // B * H * q_len
  uint q_len;
  uint tiles_q;  // ceil(q_len / GROUP_ROWS)
} merge;

#include "aat/merge_row.glsl"

void main() {
  const uint index = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  if (index >= merge.rows * HEAD_DIM) return;
  const uint row = index / HEAD_DIM;
  const uint d = index % HEAD_DIM;
  const uint slice = row / merge.q_len;
  const uint in_slice = row % merge.q_len;
  const uint group = slice * merge.tiles_q + in_slice / GROUP_ROWS;
  const uint r = in_slice % GROUP_ROWS;
  const uvec2 range = group_states.range[group];
  if (SKIP_SINGLE && range.x == 1u) return;

  float lse;
  const float o = aat_merge_row(range.y * GROUP_ROWS + r, GROUP_ROWS, range.x, d, lse);
  out_o.o[index] = OUT_T(o);
  if (d == 0) out_lse.lse[row] = lse;
}
