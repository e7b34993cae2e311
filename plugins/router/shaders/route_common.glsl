// The cross-tile router's plan: block map -> balanced work items, in three passes over the
// row tiles (one (batch, head, query tile) each), deterministic (no atomics):
//
// 1. route_lists.comp, one invocation per row tile. Boundary handling: a block the mask hides
//    entirely is dropped whatever the map says; a partially masked block runs at full
//    resolution (pooled keys carry no per-key mask); a skipped block is dropped. The kept
//    blocks are compacted, in key order, into the row tile's list: (j << 2) | level, level 0
//    full, 1 pooled x2, 2 pooled x4. Resolution matching: a block of c keys at pool p stands
//    as ceil(c / p) key slots (mean-pooled keys and values; the attention kernel adds
//    log(keys in the pool) to their scores). Load distribution: the row tile's S slots will be
//    cut at block boundaries into items of about S / k slots, k = ceil(S / item_slots)
//    (greedy: an item closes once it holds ceil(S / k) slots), which makes at most k items.
// 2. route_scan.comp, one workgroup: exclusive prefix sums of the item counts (first item of
//    each row tile) and of the counts of split row tiles (first partial-state slot), and the
//    totals.
// 3. route_items.comp, one invocation per row tile: writes the row tile's items
//    (row tile, first block, end block, partial slot or NO_SLOT). A row tile with one item
//    writes O directly; with k >= 2 its items' states go to k consecutive partial slots,
//    merged exactly afterwards (shaders/aat/merge_partials_ranged.glsl).
#extension GL_EXT_control_flow_attributes : require

const uint NO_SLOT = 0xffffffffu;
const uint COUNTER_ITEMS = 0u, COUNTER_PARTIALS = 1u, COUNTER_BLOCKS = 2u, COUNTER_SLOTS = 3u, COUNTER_OVERFLOW = 4u;

layout(std430, binding = 0) buffer RowBlockBuffer { uint entry[]; } RowBlocks;        // [rows][Tk]
layout(std430, binding = 1) buffer RowCountBuffer { uvec4 n[]; } RowCounts;            // (kept, slots, items, first item)
layout(std430, binding = 2) buffer RowItemBuffer { uvec2 range[]; } RowItems;          // (items, first partial slot)
layout(std430, binding = 3) buffer CounterBuffer { uint n[]; } Counters;               // [8]

layout(push_constant) uniform RouteParams {
  uint rows;  // B * Hq * Tq
  uint q_heads;
  uint tiles_q;
  uint tiles_k;
  uint q_len;
  uint kv_len;
  uint block_q;
  uint block_k;
  uint item_slots;
  uint item_capacity;
  uint partial_capacity;
} p;

uint entry_slots(uint entry) {
  const uint j = entry >> 2;
  const uint level = entry & 3u;
  const uint cols = min(p.block_k, p.kv_len - j * p.block_k);
  return (cols + (1u << level) - 1u) >> level;
}

// Slots per item of a row tile with `slots` slots: ceil(S / k), k = ceil(S / item_slots).
uint item_target(uint slots) {
  if (slots == 0u) return 0u;
  const uint k = (slots + p.item_slots - 1u) / p.item_slots;
  return (slots + k - 1u) / k;
}

uint row_index() {
  return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}
