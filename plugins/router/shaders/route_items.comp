#version 450
// Router pass 3: the work items of every row tile (route_common.glsl).
#include "route_common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 4) writeonly buffer ItemBuffer { uvec4 item[]; } Items;  // (row, begin, end, partial)

void main() {
  const uint row = row_index();
  if (row >= p.rows || Counters.n[COUNTER_OVERFLOW] != 0u) return;  // overflow: cannot happen, flagged for the tests
  const uvec4 c = RowCounts.n[row];
  const uint kept = c.x, count = c.z, first_item = c.w;
  const uint first_partial = RowItems.range[row].y;
  const uint base = row * p.tiles_k;
  const uint target = item_target(c.y);
  uint begin = 0u, held = 0u, made = 0u;
  [[dont_unroll]] for (uint t = 0; t < kept; ++t) {
    held += entry_slots(RowBlocks.entry[base + t]);
    if (held >= target || t + 1u == kept) {
      Items.item[first_item + made] = uvec4(row, begin, t + 1u, count > 1u ? first_partial + made : NO_SLOT);
      ++made;
      begin = t + 1u;
      held = 0u;
    }
  }
}
