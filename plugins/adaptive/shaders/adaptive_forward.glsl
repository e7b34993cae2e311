// Attention over a router plan (plugins/router): one workgroup per work item.
//
// Include after defining STORAGE_T (the element type of Q, K, V, the pooled K/V and O). A work
// item is (row tile, first block, end block, partial slot): BLOCK_Q query rows of one
// (batch, head) and a run of that row tile's kept blocks, each (key tile j, level). The blocks'
// keys are streamed as key SLOTS through shared memory in tiles of BLOCK_KV slots, a tile
// gathering slots from several blocks when they are short:
//   level 0 (full):      slot s of block j is key j * Bc + s (masks applied per key);
//   level 1/2 (pooled):  slot s is pooled row j * Bc / p + s of the x2 / x4 pyramid (mean of p
//                        keys and of their values), scored s = scale * q . k_pool + log(n),
//                        n = keys in the pool (p, fewer at the end of the sequence), so equal
//                        scores give the pool exactly the mass of its n keys. Pooled blocks are
//                        fully visible (the router promotes partially masked ones to full).
// The rest is the online softmax of shaders/aat/flash_tile.glsl, as in attention_forward.glsl:
// f32 state, the same NaN rule, and a row with no visible key gives O = 0, L = -inf. A row tile with one item
// writes O and L; otherwise each item writes its state (m, l, o = O / l) in f32 to its partial
// slot, merged exactly by shaders/aat/merge_partials_ranged.glsl.
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BLOCK_Q = 32;
layout(constant_id = 2) const uint BLOCK_KV = 32;   // key slots per shared tile
layout(constant_id = 3) const uint HEAD_DIM = 64;
layout(constant_id = 4) const bool CAUSAL = false;
layout(constant_id = 5) const bool HAS_LENGTHS = false;
layout(constant_id = 6) const uint OUTPUTS_PER_THREAD = 8;  // ceil(BLOCK_Q * HEAD_DIM / workgroup size)
#include "aat/flash_tile.glsl"

const uint NO_SLOT = 0xffffffffu;
const int SLOT_POOLED = -1;  // a pooled key: no per-key mask
const int SLOT_EMPTY = -2;   // past the item's last block
const uint ROW_MASK = 0x3fffffffu;
const uint MAX_STAGED = 256;  // an item's first block entries, staged in shared memory

layout(std430, binding = 0) readonly buffer QBuffer { STORAGE_T q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { STORAGE_T k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { STORAGE_T v[]; } V;
layout(std430, binding = 3) readonly buffer K2Buffer { STORAGE_T k[]; } K2;
layout(std430, binding = 4) readonly buffer V2Buffer { STORAGE_T v[]; } V2;
layout(std430, binding = 5) readonly buffer K4Buffer { STORAGE_T k[]; } K4;
layout(std430, binding = 6) readonly buffer V4Buffer { STORAGE_T v[]; } V4;
layout(std430, binding = 7) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 8) readonly buffer RowBlockBuffer { uint entry[]; } RowBlocks;  // [row tiles][Tk]
layout(std430, binding = 9) readonly buffer ItemBuffer { uvec4 item[]; } Items;
layout(std430, binding = 10) readonly buffer CounterBuffer { uint n[]; } Counters;       // [0]: items
layout(std430, binding = 11) writeonly buffer OBuffer { STORAGE_T o[]; } O;
layout(std430, binding = 12) writeonly buffer LseBuffer { float lse[]; } L;
layout(std430, binding = 13) writeonly buffer PartialOBuffer { float o[]; } PartialO;
layout(std430, binding = 14) writeonly buffer PartialStateBuffer { vec2 ml[]; } PartialState;  // (m, l)

layout(push_constant) uniform AdaptiveParams {
  uint batch;
  uint q_heads;
  uint kv_heads;
  uint q_len;
  uint kv_len;
  float scale;
  uint tiles_q;
  uint tiles_k;
  uint block_k;  // keys per key tile of the map
} p;

shared uint sSlotRow[BLOCK_KV];   // (level << 30) | row in that level's tensor
shared int sSlotKey[BLOCK_KV];    // key index (full slots), SLOT_POOLED or SLOT_EMPTY
shared float sSlotBias[BLOCK_KV]; // log(keys in the pool); 0 for full slots
shared uint sCursor[2];           // the next tile's first block and slot within it
shared uint sEntries[MAX_STAGED]; // the item's block entries (the rest are read from RowBlocks)

// Entry n of the row tile's list; staged ones (from the item's first block on) from shared memory.
uint entry_at(uint list_base, uint first, uint n) {
  return n - first < MAX_STAGED ? sEntries[n - first] : RowBlocks.entry[list_base + n];
}

uint entry_width(uint entry) {
  const uint j = entry >> 2;
  const uint level = entry & 3u;
  const uint cols = min(p.block_k, p.kv_len - j * p.block_k);
  return (cols + (1u << level) - 1u) >> level;
}

// Loads the current tile's keys (values = false) or values into sKV, by slot.
void load_tile(uint base1, uint base2, uint base4, bool values) {
  for (uint i = gl_LocalInvocationID.x; i < BLOCK_KV * HEAD_DIM; i += gl_WorkGroupSize.x) {
    const uint j = i / HEAD_DIM;
    const uint d = i % HEAD_DIM;
    float x = 0.0;
    if (sSlotKey[j] != SLOT_EMPTY) {
      const uint src = sSlotRow[j];
      const uint level = src >> 30;
      const uint offset = (src & ROW_MASK) * HEAD_DIM + d;
      if (level == 0u) x = values ? float(V.v[base1 + offset]) : float(K.k[base1 + offset]);
      else if (level == 1u) x = values ? float(V2.v[base2 + offset]) : float(K2.k[base2 + offset]);
      else x = values ? float(V4.v[base4 + offset]) : float(K4.k[base4 + offset]);
    }
    sKV[j * KV_STRIDE + d] = x;
  }
}

void main() {
  const uint item_index = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (item_index >= Counters.n[0]) return;  // the grid is the plan's upper bound
  const uvec4 item = Items.item[item_index];
  const uint tid = gl_LocalInvocationID.x;
  const uint threads = gl_WorkGroupSize.x;
  const uint row_tile = item.x;
  const uint bh = row_tile / p.tiles_q;
  const uint tile = row_tile % p.tiles_q;
  const uint batch_index = bh / p.q_heads;
  const uint head = bh % p.q_heads;
  const uint kv_head = head / (p.q_heads / p.kv_heads);
  const uint q0 = tile * BLOCK_Q;
  const uint rows = min(BLOCK_Q, p.q_len - q0);
  const uint q_base = (bh * p.q_len + q0) * HEAD_DIM;
  const uint kv_slice = batch_index * p.kv_heads + kv_head;
  const uint base1 = kv_slice * p.kv_len * HEAD_DIM;
  const uint base2 = kv_slice * ((p.kv_len + 1u) / 2u) * HEAD_DIM;
  const uint base4 = kv_slice * ((p.kv_len + 3u) / 4u) * HEAD_DIM;
  const uint list_base = row_tile * p.tiles_k;
  const uint block_end = item.z;
  const int key_limit = HAS_LENGTHS ? clamp(KeyLengths.len[batch_index], 0, int(p.kv_len)) : int(p.kv_len);
  const int causal_offset = int(p.kv_len) - int(p.q_len);

  for (uint i = tid; i < BLOCK_Q * HEAD_DIM; i += threads)
    sQ[i] = (i / HEAD_DIM) < rows ? float(Q.q[q_base + i]) : 0.0;
  tile_reset_state();
  if (tid == 0u) {
    sCursor[0] = item.y;
    sCursor[1] = 0u;
  }
  for (uint t = tid; t < min(block_end - item.y, MAX_STAGED); t += threads) sEntries[t] = RowBlocks.entry[list_base + item.y + t];
  barrier();

  [[dont_unroll]] while (true) {
    const uint cursor_block = sCursor[0];
    const uint cursor_slot = sCursor[1];
    if (cursor_block >= block_end) break;  // uniform: every invocation read the same cursor

    // The tile's slot table: invocation t < BLOCK_KV finds slot cursor + t.
    if (tid < BLOCK_KV) {
      uint n = cursor_block;
      uint s = cursor_slot + tid;
      int key = SLOT_EMPTY;
      uint src = 0u;
      float bias = 0.0;
      [[dont_unroll]] while (n < block_end) {
        const uint entry = entry_at(list_base, item.y, n);
        const uint width = entry_width(entry);
        if (s < width) {
          const uint j = entry >> 2;
          const uint level = entry & 3u;
          if (level == 0u) {
            key = int(j * p.block_k + s);
            src = j * p.block_k + s;
          } else {
            const uint pool = 1u << level;
            const uint pooled_row = j * p.block_k / pool + s;
            key = SLOT_POOLED;
            src = (level << 30) | pooled_row;
            bias = log(float(min(pool, p.kv_len - pooled_row * pool)));
          }
          break;
        }
        s -= width;
        ++n;
      }
      sSlotKey[tid] = key;
      sSlotRow[tid] = src;
      sSlotBias[tid] = bias;
    }
    barrier();
    if (tid == 0u) {  // the next tile starts BLOCK_KV slots on
      uint n = cursor_block;
      uint s = cursor_slot + BLOCK_KV;
      [[dont_unroll]] while (n < block_end) {
        const uint width = entry_width(entry_at(list_base, item.y, n));
        if (s < width) break;
        s -= width;
        ++n;
      }
      sCursor[0] = n;
      sCursor[1] = n < block_end ? s : 0u;
    }
    load_tile(base1, base2, base4, false);
    barrier();

    // Scores, masked to -inf.
    for (uint i = tid; i < BLOCK_Q * BLOCK_KV; i += threads) {
      const uint r = i / BLOCK_KV;
      const uint j = i % BLOCK_KV;
      const int key = sSlotKey[j];
      float s = AAT_NEG_INF;
      if (r < rows && key != SLOT_EMPTY) {
        s = tile_dot(r, j) * p.scale + sSlotBias[j];
        if (key >= 0) {
          if (CAUSAL && key > int(q0 + r) + causal_offset) s = AAT_NEG_INF;
          if (HAS_LENGTHS && key >= key_limit) s = AAT_NEG_INF;
        }
      }
      sS[i] = s;
    }
    barrier();

    tile_softmax_rows();
    load_tile(base1, base2, base4, true);
    barrier();

    tile_accumulate();
    barrier();
  }

  const bool direct = item.w == NO_SLOT;
  for (uint k = 0; k < OUTPUTS_PER_THREAD; ++k) {
    const uint index = tid + k * threads;
    if (index >= BLOCK_Q * HEAD_DIM) continue;
    const uint r = index / HEAD_DIM;
    const uint d = index % HEAD_DIM;
    if (r >= rows) continue;
    const float o = tile_output(k, r);
    if (direct) {
      const uint row = bh * p.q_len + q0 + r;
      O.o[row * HEAD_DIM + d] = STORAGE_T(o);
      if (d == 0) L.lse[row] = tile_lse(r);
    } else {
      const uint slot = item.w * BLOCK_Q + r;
      PartialO.o[slot * HEAD_DIM + d] = o;
      if (d == 0) PartialState.ml[slot] = vec2(sMax[r], sSum[r]);
    }
  }
}
