#version 450
// REQUIRES: coopmat2
// Attention over a router plan on tensor cores (VK_NV_cooperative_matrix2; f16 in, f32
// accumulate): the machinery of plugins/attention/shaders/attention_cm2.glsl run over a work
// item's blocks instead of every key tile. Same bindings, push constants and outputs as
// adaptive_forward.glsl (the scalar kernel), so the host binds either.
//
// One workgroup per work item: BLOCK_Q query rows (workgroup-scope matrices, Q loaded once) and
// a run of the row tile's kept blocks. Each block is one step of the online softmax, at its own
// width: a full block is BLOCK_KV keys of K/V, a pooled block BLOCK_KV/2 or BLOCK_KV/4 rows of
// the x2 / x4 pyramid, read by bounds-clamped tensor loads at the block's row offset (no slot
// gathering, no shared-memory staging). A pooled row stands for n keys (n = the pool, fewer at
// the end of the sequence) and is scored s = scale q.k_pool + log n, so equal scores give the
// pool exactly the mass of its n keys. Masks run only on the blocks that need them: full blocks
// crossing the causal diagonal or the key length, the last key tile's pooled rows.
//
// The row statistics (m, l, alpha) are 16 columns wide whatever the step's width, so the three
// widths share them; row sums of P are P x ones on the tensor cores (attention_cm2 variant 1).
// Contract as adaptive_forward.glsl: a row tile with one item writes O and L; otherwise the
// item writes its state (m in natural-log units, l, o = O / l) to its partial slot for the
// router's exact merge. A row without a visible key gives O = 0, L = -inf (l = 0 in a partial
// state, which the merge ignores); NaN in a row stays in that row.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int32 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#include "aat/constants.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BLOCK_Q = 64;
layout(constant_id = 2) const uint BLOCK_KV = 64;  // keys per key tile of the map (block_k)
layout(constant_id = 3) const uint HEAD_DIM = 64;
layout(constant_id = 4) const bool CAUSAL = false;
layout(constant_id = 5) const bool HAS_LENGTHS = false;

const uint D_PAD = (HEAD_DIM + 15) / 16 * 16;
const uint WIDTH2 = BLOCK_KV / 2;
const uint WIDTH4 = BLOCK_KV / 4;
const uint STATS_COLS = 16;
const uint NO_SLOT = 0xffffffffu;

layout(std430, binding = 0) readonly buffer QBuffer { float16_t q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { float16_t k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { float16_t v[]; } V;
layout(std430, binding = 3) readonly buffer K2Buffer { float16_t k[]; } K2;
layout(std430, binding = 4) readonly buffer V2Buffer { float16_t v[]; } V2;
layout(std430, binding = 5) readonly buffer K4Buffer { float16_t k[]; } K4;
layout(std430, binding = 6) readonly buffer V4Buffer { float16_t v[]; } V4;
layout(std430, binding = 7) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;
layout(std430, binding = 8) readonly buffer RowBlockBuffer { uint entry[]; } RowBlocks;  // [row tiles][Tk]
layout(std430, binding = 9) readonly buffer ItemBuffer { uvec4 item[]; } Items;
layout(std430, binding = 10) readonly buffer CounterBuffer { uint n[]; } Counters;       // [0]: items
layout(std430, binding = 11) writeonly buffer OBuffer { float16_t o[]; } O;
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
  uint block_k;  // keys per key tile of the map (= BLOCK_KV)
} p;

const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
// The running max starts here rather than at -inf, so exp2(s - m) of a masked score is
// exp2(-inf) = 0 and never NaN (attention_cm2.glsl).
const float M_START = -1.7014117e38;

#define ROWS_X(C) coopmat<float, gl_ScopeWorkgroup, BLOCK_Q, C, gl_MatrixUseAccumulator>
#define STATS_F32 ROWS_X(STATS_COLS)
#define OUT_F32 ROWS_X(D_PAD)

float combine_max(const in float a, const in float b) { return aat_max(a, b); }
float combine_first(const in float a, const in float b) { return a; }
float elem_exp2(const in uint32_t row, const in uint32_t col, const in float x) { return exp2(x); }
float elem_max(const in uint32_t row, const in uint32_t col, const in float a, const in float b) { return aat_max(a, b); }
float elem_normalize(const in uint32_t row, const in uint32_t col, const in float o, const in float l) {
  return l == 0.0 ? 0.0 : o / l;
}

// -inf where key kv0 + col is hidden from query q0 + row: past the key limit, or causally.
float elem_mask(const in uint32_t row, const in uint32_t col, const in float s, const in uint32_t q0,
                const in uint32_t kv0, const in uint32_t key_limit) {
  const uint qi = q0 + row, kj = kv0 + col;
  const bool hidden = kj >= key_limit || (CAUSAL && int(kj) > int(qi) + int(p.kv_len) - int(p.q_len));
  return hidden ? AAT_NEG_INF : s;
}

// The last key tile's pooled rows: -inf past the tile's pooled width, log2 of the keys of the
// (possibly short) last pooled row on it, log2 of the pool elsewhere.
float elem_pool_edge(const in uint32_t row, const in uint32_t col, const in float s, const in uint32_t width,
                     const in float bias, const in float last_bias) {
  return col >= width ? AAT_NEG_INF : s + (col + 1u == width ? last_bias : bias);
}

// Row state out from column 0 of the row-smeared (m, l): L, or the partial state (m, l).
float elem_store_row_state(const in uint32_t row, const in uint32_t col, const in float l, const in float m,
                           const in uint32_t rows, const in uint32_t lse_row0, const in uint32_t state_row0,
                           const in bool direct) {
  if (col == 0 && row < rows) {
    if (direct)
      L.lse[lse_row0 + row] = l == 0.0 ? AAT_NEG_INF : (m + log2(l)) * LN2;
    else
      PartialState.ml[state_row0 + row] = vec2(m * LN2, l);
  }
  return l;
}

// One online-softmax step over a score tile S (BLOCK_Q x W, log2 units, masked) and its values:
// m, l, alpha 16 columns wide, P converted to an A operand in registers, O rescaled and
// accumulated on the tensor cores. A macro, not a function: the width is a type parameter.
#define SOFTMAX_STEP(W, S, V_BUF, V_LAYOUT, V_ROW)                                                                    \
  {                                                                                                                  \
    STATS_F32 row_max;                                                                                               \
    coopMatReduceNV(row_max, S, gl_CooperativeMatrixReduceRowNV, combine_max);                                       \
    const STATS_F32 m_old = m_run;                                                                                   \
    coopMatPerElementNV(m_run, row_max, elem_max, m_old);                                                            \
    STATS_F32 alpha;                                                                                                 \
    coopMatPerElementNV(alpha, m_old - m_run, elem_exp2);                                                            \
    ROWS_X(W) m_tile;                                                                                                \
    coopMatReduceNV(m_tile, m_run, gl_CooperativeMatrixReduceRowNV, combine_first);                                  \
    ROWS_X(W) prob;                                                                                                  \
    coopMatPerElementNV(prob, S - m_tile, elem_exp2);                                                                \
    const coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, W, gl_MatrixUseA> prob_a =                                   \
        coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, W, gl_MatrixUseA>(prob);                                      \
    const coopmat<float16_t, gl_ScopeWorkgroup, W, STATS_COLS, gl_MatrixUseB> ones =                                  \
        coopmat<float16_t, gl_ScopeWorkgroup, W, STATS_COLS, gl_MatrixUseB>(1.0);                                    \
    l_run = alpha * l_run + coopMatMulAdd(prob_a, ones, STATS_F32(0.0));                                             \
    OUT_F32 alpha_o;                                                                                                 \
    coopMatReduceNV(alpha_o, alpha, gl_CooperativeMatrixReduceRowNV, combine_first);                                 \
    o_acc = o_acc * alpha_o;                                                                                         \
    coopmat<float16_t, gl_ScopeWorkgroup, W, D_PAD, gl_MatrixUseB> v_tile;                                           \
    coopMatLoadTensorNV(v_tile, V_BUF, 0, sliceTensorLayoutNV(V_LAYOUT, V_ROW, W, 0, D_PAD));                         \
    o_acc = coopMatMulAdd(prob_a, v_tile, o_acc);                                                                    \
  }

// S = Q K^T of one block (K rows from K_ROW of K_BUF), in log2 units.
#define SCORES(W, S, K_BUF, K_LAYOUT, K_ROW)                                                                          \
  coopmat<float16_t, gl_ScopeWorkgroup, D_PAD, W, gl_MatrixUseB> k_t;                                                \
  coopMatLoadTensorNV(k_t, K_BUF, 0, sliceTensorLayoutNV(K_LAYOUT, K_ROW, W, 0, D_PAD), transposed);                 \
  ROWS_X(W) S = coopMatMulAdd(q_tile, k_t, ROWS_X(W)(0.0));                                                          \
  S = S * log2_scale;

void main() {
  const uint item_index = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (item_index >= Counters.n[0]) return;  // the grid is the plan's upper bound
  const uvec4 item = Items.item[item_index];
  const uint row_tile = item.x;
  const uint bh = row_tile / p.tiles_q;
  const uint q0 = (row_tile % p.tiles_q) * BLOCK_Q;
  const uint batch_index = bh / p.q_heads;
  const uint kv_head = (bh % p.q_heads) / (p.q_heads / p.kv_heads);
  const uint rows = min(BLOCK_Q, p.q_len - q0);
  const uint kv_slice = batch_index * p.kv_heads + kv_head;
  const uint list_base = row_tile * p.tiles_k;
  const uint key_limit = HAS_LENGTHS ? uint(clamp(KeyLengths.len[batch_index], 0, int(p.kv_len))) : p.kv_len;
  // Keys every row of the tile sees: full blocks ending there need no mask.
  const uint unmasked_end =
      CAUSAL ? min(key_limit, uint(max(int(q0) + int(p.kv_len) - int(p.q_len) + 1, 0))) : key_limit;

  // Each tensor as 2D [rows, D]; this (batch, head)'s rows are addressed through their offset so
  // clamping stops at its last row.
  const uint q_row0 = bh * p.q_len;
  const uint len2 = (p.kv_len + 1u) / 2u, len4 = (p.kv_len + 3u) / 4u;
  const uint row0_1 = kv_slice * p.kv_len, row0_2 = kv_slice * len2, row0_4 = kv_slice * len4;
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> q_layout =
      createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  q_layout = setTensorLayoutDimensionNV(q_layout, q_row0 + p.q_len, HEAD_DIM);
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> layout1 =
      createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  layout1 = setTensorLayoutDimensionNV(layout1, row0_1 + p.kv_len, HEAD_DIM);
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> layout2 =
      createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  layout2 = setTensorLayoutDimensionNV(layout2, row0_2 + len2, HEAD_DIM);
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> layout4 =
      createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  layout4 = setTensorLayoutDimensionNV(layout4, row0_4 + len4, HEAD_DIM);
  tensorViewNV<2, false, 1, 0> transposed = createTensorViewNV(2, false, 1, 0);

  coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, D_PAD, gl_MatrixUseA> q_tile;
  coopMatLoadTensorNV(q_tile, Q.q, 0, sliceTensorLayoutNV(q_layout, q_row0 + q0, BLOCK_Q, 0, D_PAD));

  const float log2_scale = p.scale * LOG2E;
  OUT_F32 o_acc = OUT_F32(0.0);
  STATS_F32 m_run = STATS_F32(M_START);
  STATS_F32 l_run = STATS_F32(0.0);

  [[dont_unroll]]
  for (uint n = item.y; n < item.z; ++n) {
    const uint entry = RowBlocks.entry[list_base + n];
    const uint j = entry >> 2;
    const uint level = entry & 3u;
    const uint kv0 = j * BLOCK_KV;
    const uint cols = min(BLOCK_KV, p.kv_len - kv0);
    if (level == 0u) {
      SCORES(BLOCK_KV, s, K.k, layout1, row0_1 + kv0)
      if (kv0 + BLOCK_KV > unmasked_end) coopMatPerElementNV(s, s, elem_mask, q0, kv0, key_limit);
      SOFTMAX_STEP(BLOCK_KV, s, V.v, layout1, row0_1 + kv0)
    } else if (level == 1u) {
      const uint r0 = j * WIDTH2;
      SCORES(WIDTH2, s, K2.k, layout2, row0_2 + r0)
      if (cols < BLOCK_KV) {
        const uint width = (cols + 1u) / 2u;
        coopMatPerElementNV(s, s, elem_pool_edge, width, 1.0, log2(float(min(2u, p.kv_len - (r0 + width - 1u) * 2u))));
      } else {
        s = s + ROWS_X(WIDTH2)(1.0);  // log2 2
      }
      SOFTMAX_STEP(WIDTH2, s, V2.v, layout2, row0_2 + r0)
    } else {
      const uint r0 = j * WIDTH4;
      SCORES(WIDTH4, s, K4.k, layout4, row0_4 + r0)
      if (cols < BLOCK_KV) {
        const uint width = (cols + 3u) / 4u;
        coopMatPerElementNV(s, s, elem_pool_edge, width, 2.0, log2(float(min(4u, p.kv_len - (r0 + width - 1u) * 4u))));
      } else {
        s = s + ROWS_X(WIDTH4)(2.0);  // log2 4
      }
      SOFTMAX_STEP(WIDTH4, s, V4.v, layout4, row0_4 + r0)
    }
  }

  OUT_F32 l_o;
  coopMatReduceNV(l_o, l_run, gl_CooperativeMatrixReduceRowNV, combine_first);
  coopMatPerElementNV(o_acc, o_acc, elem_normalize, l_o);

  const bool direct = item.w == NO_SLOT;
  coopMatPerElementNV(l_run, l_run, elem_store_row_state, m_run, rows, q_row0 + q0, item.w * BLOCK_Q, direct);
  if (direct) {
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> o_layout =
        createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    o_layout = setTensorLayoutDimensionNV(o_layout, q_row0 + p.q_len, HEAD_DIM);
    const coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, D_PAD, gl_MatrixUseAccumulator> o_half =
        coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, D_PAD, gl_MatrixUseAccumulator>(o_acc);
    coopMatStoreTensorNV(o_half, O.o, 0, sliceTensorLayoutNV(o_layout, q_row0 + q0, BLOCK_Q, 0, D_PAD));
  } else {
    // The slot's rows past the tile's last query row are written too (the merge never reads them).
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> part_layout =
        createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    part_layout = setTensorLayoutDimensionNV(part_layout, (item.w + 1u) * BLOCK_Q, HEAD_DIM);
    coopMatStoreTensorNV(o_acc, PartialO.o, 0, sliceTensorLayoutNV(part_layout, item.w * BLOCK_Q, BLOCK_Q, 0, D_PAD));
  }
}
