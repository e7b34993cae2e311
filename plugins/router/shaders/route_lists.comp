#version 450
// Router pass 1: each row tile's kept blocks and its item count (route_common.glsl).
#extension GL_EXT_shader_8bit_storage : require
#include "route_common.glsl"
#include "aat/block_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool CAUSAL = false;
layout(constant_id = 2) const bool HAS_LENGTHS = false;

layout(std430, binding = 4) readonly buffer LevelBuffer { uint8_t level[]; } Levels;  // [rows][Tk]
layout(std430, binding = 5) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;

void main() {
  const uint row = row_index();
  if (row >= p.rows) return;
  const uint bh = row / p.tiles_q;
  const uint i = row % p.tiles_q;
  const uint b = bh / p.q_heads;
  const uint q0 = i * p.block_q;
  const uint q1 = min(q0 + p.block_q, p.q_len);
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[b], 0, int(p.kv_len))) : p.kv_len;
  const uint base = row * p.tiles_k;

  uint kept = 0u;
  uint slots = 0u;
  [[dont_unroll]] for (uint j = 0; j < p.tiles_k; ++j) {
    uint level = uint(Levels.level[base + j]);
    if (level >= 3u) continue;  // skipped or masked
    const uint k0 = j * p.block_k;
    const uint k1 = min(k0 + p.block_k, p.kv_len);
    const uint cls = aat_block_class(q0, q1, k0, k1, p.q_len, p.kv_len, key_limit, CAUSAL);
    if (cls == AAT_BLOCK_MASKED) continue;
    if (cls == AAT_BLOCK_PARTIAL) level = 0u;
    const uint entry = (j << 2) | level;
    RowBlocks.entry[base + kept] = entry;
    slots += entry_slots(entry);
    ++kept;
  }
  const uint target = item_target(slots);
  uint count = 0u;
  uint held = 0u;
  [[dont_unroll]] for (uint t = 0; t < kept; ++t) {
    held += entry_slots(RowBlocks.entry[base + t]);
    if (held >= target || t + 1u == kept) {
      ++count;
      held = 0u;
    }
  }
  RowCounts.n[row] = uvec4(kept, slots, count, 0u);
}
