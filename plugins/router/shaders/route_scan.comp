#version 450
// Router pass 2: first item and first partial slot of every row tile, and the totals
// (route_common.glsl). One workgroup; each invocation scans a contiguous run of row tiles.
#include "route_common.glsl"

layout(local_size_x_id = 0) in;
const uint MAX_WORKGROUP = 1024;

shared uint sItems[MAX_WORKGROUP];
shared uint sPartials[MAX_WORKGROUP];
shared uint sKept[MAX_WORKGROUP];
shared uint sSlots[MAX_WORKGROUP];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint threads = gl_WorkGroupSize.x;
  const uint run = (p.rows + threads - 1u) / threads;
  const uint first = min(tid * run, p.rows);
  const uint last = min(first + run, p.rows);
  uint items = 0u, partials = 0u, kept = 0u, slots = 0u;
  for (uint r = first; r < last; ++r) {
    const uvec4 c = RowCounts.n[r];
    items += c.z;
    partials += c.z > 1u ? c.z : 0u;
    kept += c.x;
    slots += c.y;
  }
  sItems[tid] = items;
  sPartials[tid] = partials;
  sKept[tid] = kept;
  sSlots[tid] = slots;
  barrier();
  if (tid == 0u) {
    uint item_sum = 0u, partial_sum = 0u, kept_sum = 0u, slot_sum = 0u;
    for (uint t = 0; t < threads; ++t) {
      const uint a = sItems[t], b = sPartials[t];
      sItems[t] = item_sum;
      sPartials[t] = partial_sum;
      item_sum += a;
      partial_sum += b;
      kept_sum += sKept[t];
      slot_sum += sSlots[t];
    }
    Counters.n[COUNTER_ITEMS] = item_sum;
    Counters.n[COUNTER_PARTIALS] = partial_sum;
    Counters.n[COUNTER_BLOCKS] = kept_sum;
    Counters.n[COUNTER_SLOTS] = slot_sum;
    Counters.n[COUNTER_OVERFLOW] = item_sum > p.item_capacity || partial_sum > p.partial_capacity ? 1u : 0u;
  }
  barrier();
  uint item_at = sItems[tid], partial_at = sPartials[tid];
  for (uint r = first; r < last; ++r) {
    const uint count = RowCounts.n[r].z;
    RowCounts.n[r].w = item_at;
    RowItems.range[r] = uvec2(count, count > 1u ? partial_at : NO_SLOT);
    item_at += count;
    partial_at += count > 1u ? count : 0u;
  }
}
