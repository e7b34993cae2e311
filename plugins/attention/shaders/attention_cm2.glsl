// Exact attention on tensor cores through VK_NV_cooperative_matrix2 (f16 in, f32 accumulate).
//
// One workgroup owns BLOCK_Q query rows of one (batch, head) as workgroup-scope matrices; the
// driver spreads them over the workgroup's subgroups and stages the operands. Per key tile:
//   S  = Q K^T                                  tensor cores, f32, scores in log2 units
//   masks only on tiles that need them: causal diagonal tiles, the key-length edge, padding
//   m' = max(m, rowmax S)                       coopMatReduceNV, in registers
//   P  = exp2(S - m'), alpha = exp2(m - m')     coopMatPerElementNV, in registers
//   l  = alpha l + rowsum P                     reduction or P x ones (ROW_SUM)
//   O  = alpha O + P V                          P converted accumulator -> A in registers
// Tiles wholly above the causal diagonal or past the key length are never visited. Loads are
// bounds-clamped tensor loads (rows past Nq/Nk and columns past D read as 0), so no padding
// copy exists. Same contract as attention_forward.glsl: every mask, GQA, split-K partial
// states, a fully masked row gives O = 0 and L = -inf, NaN in a row stays in that row.
//
// Spec constants: the workgroup size and BLOCK_Q x BLOCK_KV come from the host's tiling
// (tiling.cpp), HEAD_DIM is the true D (any multiple of 8 up to 256; padded to COLUMN_GRANULE here).
// Include from a .comp that defines AAT_ROW_SUM_ON_TENSOR_CORES or not (see below).
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int32 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#include "attention_common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BLOCK_Q = 64;
layout(constant_id = 2) const uint BLOCK_KV = 64;
layout(constant_id = 3) const uint HEAD_DIM = 128;
// Bounds handling of the K/V tile loads: gl_CooperativeMatrixClampModeConstantNV (1) where
// Nk or D is not a multiple of the tile, Undefined (0) where every load is in bounds.
layout(constant_id = 8) const uint KV_CLAMP = 1;
// Column counts are multiples of this (16, or 32 over 256 invocations: the device's flexible
// dimensions, coopmat2_column_granule in tiling.cpp).
layout(constant_id = 9) const uint COLUMN_GRANULE = 16;

const uint D_PAD = (HEAD_DIM + COLUMN_GRANULE - 1) / COLUMN_GRANULE * COLUMN_GRANULE;

layout(std430, binding = 0) readonly buffer QBuffer { float16_t q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { float16_t k[]; } K;
layout(std430, binding = 2) readonly buffer VBuffer { float16_t v[]; } V;
layout(std430, binding = 3) writeonly buffer OBuffer { float16_t o[]; } O;

const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
// The running max starts here rather than at -inf, so exp2(s - m) of a masked score is
// exp2(-inf) = 0 and never exp2(-inf + inf) = NaN (as ggml does).
const float M_START = -1.7014117e38;  // -FLT_MAX / 2

#define ROWS_X(C) coopmat<float, gl_ScopeWorkgroup, BLOCK_Q, C, gl_MatrixUseAccumulator>
#define TILE_F32 ROWS_X(BLOCK_KV)
#define OUT_F32 ROWS_X(D_PAD)
// The running row statistics (max m, sum l, rescale alpha), each value smeared over its row:
// over a whole key tile, or (AAT_NARROW_ROW_STATS) over one block of COLUMN_GRANULE columns,
// which costs a quarter of the exp2 calls for alpha and a quarter of the row-sum products at
// Bc = 64 (a half at 256 invocations), for one more row broadcast of m per tile.
#ifdef AAT_NARROW_ROW_STATS
#define STATS_COLS COLUMN_GRANULE
#else
#define STATS_COLS BLOCK_KV
#endif
#define STATS_F32 ROWS_X(STATS_COLS)

// NaN-propagating max (GLSL's max(NaN, x) may return x): a NaN score must reach its row.
float combine_max(const in float a, const in float b) { return aat_max(a, b); }
float combine_sum(const in float a, const in float b) { return a + b; }
// The first value of the row (all equal after a row reduction): resizes a row-smeared matrix.
float combine_first(const in float a, const in float b) { return a; }

float elem_exp2(const in uint32_t row, const in uint32_t col, const in float x) { return exp2(x); }
float16_t elem_exp2_half(const in uint32_t row, const in uint32_t col, const in float16_t x) { return exp2(x); }
float elem_max(const in uint32_t row, const in uint32_t col, const in float a, const in float b) { return aat_max(a, b); }

// -inf where key kv0 + col is hidden from query q0 + row: past the key limit, or causally.
float elem_mask(const in uint32_t row, const in uint32_t col, const in float s, const in uint32_t q0,
                const in uint32_t kv0, const in uint32_t key_limit) {
  const uint qi = q0 + row, kj = kv0 + col;
  return (kj >= key_limit || causally_hidden(qi, kj)) ? AAT_NEG_INF : s;
}

// o / l, 0 for a row without any visible key (l = 0).
float elem_normalize(const in uint32_t row, const in uint32_t col, const in float o, const in float l) {
  return l == 0.0 ? 0.0 : o / l;
}

// Writes a row's statistics from column 0 of the row-smeared (m, l) matrices: the log-sum-exp
// L (natural log), or the split's partial state (m in natural log units, l).
float elem_store_row_state(const in uint32_t row, const in uint32_t col, const in float l, const in float m,
                           const in uint32_t first_row, const in uint32_t rows, const in uint32_t state_base) {
  if (col == 0 && row < rows) {
    if (WRITE_PARTIALS)
      PartialL.ml[state_base + first_row + row] = vec2(m * LN2, l);
    else
      L.lse[first_row + row] = l == 0.0 ? AAT_NEG_INF : (m + log2(l)) * LN2;
  }
  return l;
}

void main() {
  const uint bh = gl_WorkGroupID.y;  // batch * q_heads + head
  const uint batch_index = bh / p.q_heads;
  const uint head = bh % p.q_heads;
  const uint kv_head = head / (p.q_heads / p.kv_heads);
  const uint q0 = gl_WorkGroupID.x * BLOCK_Q;
  const uint rows = min(BLOCK_Q, p.q_len - q0);

  const uint key_limit = key_length(batch_index);
  const uint key_end = visible_key_end(batch_index, q0, rows);
  const uint split_begin = gl_WorkGroupID.z * p.tiles_per_split * BLOCK_KV;
  const uint split_end = min(key_end, split_begin + p.tiles_per_split * BLOCK_KV);
  // Keys every row of this block sees: tiles ending at or before it need no mask.
  const uint unmasked_end = keys_visible_to_all(batch_index, q0);

  // Tensors as 2D [rows, D] row-major slices; rows before this head's are addressed through
  // the slice offset, so bounds clamping stops exactly at this head's last row.
  const uint q_row0 = bh * p.q_len;
  const uint kv_row0 = (batch_index * p.kv_heads + kv_head) * p.kv_len;
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> q_layout =
      createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  q_layout = setTensorLayoutDimensionNV(q_layout, q_row0 + p.q_len, HEAD_DIM);
  tensorLayoutNV<2, KV_CLAMP> kv_layout = createTensorLayoutNV(2, KV_CLAMP);
  kv_layout = setTensorLayoutDimensionNV(kv_layout, kv_row0 + p.kv_len, HEAD_DIM);
  tensorViewNV<2, false, 1, 0> transposed = createTensorViewNV(2, false, 1, 0);

  coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, D_PAD, gl_MatrixUseA> q_tile;
  coopMatLoadTensorNV(q_tile, Q.q, 0, sliceTensorLayoutNV(q_layout, q_row0 + q0, BLOCK_Q, 0, D_PAD));

  const float log2_scale = p.scale * LOG2E;  // scores in log2 units: exp2 instead of exp
  OUT_F32 o_acc = OUT_F32(0.0);
  STATS_F32 m_run = STATS_F32(M_START);
  STATS_F32 l_run = STATS_F32(0.0);

  [[dont_unroll]]
  for (uint kv0 = split_begin; kv0 < split_end; kv0 += BLOCK_KV) {
    coopmat<float16_t, gl_ScopeWorkgroup, D_PAD, BLOCK_KV, gl_MatrixUseB> k_t;
    coopMatLoadTensorNV(k_t, K.k, 0, sliceTensorLayoutNV(kv_layout, kv_row0 + kv0, BLOCK_KV, 0, D_PAD), transposed);
    TILE_F32 s = coopMatMulAdd(q_tile, k_t, TILE_F32(0.0));
    s = s * log2_scale;
    if (HAS_BIAS) {
      // bias rows of this (batch, head) start at bias_row0; past q_len they read as 0 (discarded rows).
      const uint bias_row0 = (batch_index * p.bias_stride_b + head * p.bias_stride_h) / p.kv_len;
      tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> bias_layout =
          createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
      bias_layout = setTensorLayoutDimensionNV(bias_layout, bias_row0 + p.q_len, p.kv_len);
      TILE_F32 bias;
      coopMatLoadTensorNV(bias, Bias.bias, 0, sliceTensorLayoutNV(bias_layout, bias_row0 + q0, BLOCK_Q, kv0, BLOCK_KV));
      s = s + bias * LOG2E;
    }
    if (kv0 + BLOCK_KV > unmasked_end) coopMatPerElementNV(s, s, elem_mask, q0, kv0, key_limit);

    STATS_F32 row_max;
    coopMatReduceNV(row_max, s, gl_CooperativeMatrixReduceRowNV, combine_max);
    const STATS_F32 m_old = m_run;
    coopMatPerElementNV(m_run, row_max, elem_max, m_old);
    STATS_F32 alpha;
    coopMatPerElementNV(alpha, m_old - m_run, elem_exp2);
#ifdef AAT_NARROW_ROW_STATS
    TILE_F32 m_tile;
    coopMatReduceNV(m_tile, m_run, gl_CooperativeMatrixReduceRowNV, combine_first);
#else
    const TILE_F32 m_tile = m_run;
#endif
#ifdef AAT_HALF_PROB
    // f16 arithmetic for the tile's exponentials (twice the f32 rate where the ALUs pair halves).
    coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, BLOCK_KV, gl_MatrixUseAccumulator> prob =
        coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, BLOCK_KV, gl_MatrixUseAccumulator>(s - m_tile);
    coopMatPerElementNV(prob, prob, elem_exp2_half);
#else
    TILE_F32 prob;
    coopMatPerElementNV(prob, s - m_tile, elem_exp2);
#endif

    const coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, BLOCK_KV, gl_MatrixUseA> prob_a =
        coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, BLOCK_KV, gl_MatrixUseA>(prob);
    // Each row's sum of P: by a reduction (ALU and shuffles), or as P x ones on the tensor
    // cores (ggml's way). Separate kernels rather than a spec constant: unoptimized SPIR-V would
    // keep the unused branch's matrix types, which the validation layer then checks.
    STATS_F32 row_sum;
#if defined(AAT_ROW_SUM_ON_TENSOR_CORES) || defined(AAT_NARROW_ROW_STATS)
    const coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_KV, STATS_COLS, gl_MatrixUseB> ones =
        coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_KV, STATS_COLS, gl_MatrixUseB>(1.0);
    row_sum = coopMatMulAdd(prob_a, ones, STATS_F32(0.0));
#else
    coopMatReduceNV(row_sum, prob, gl_CooperativeMatrixReduceRowNV, combine_sum);
#endif
    l_run = alpha * l_run + row_sum;

    OUT_F32 alpha_o;
    coopMatReduceNV(alpha_o, alpha, gl_CooperativeMatrixReduceRowNV, combine_first);
    o_acc = o_acc * alpha_o;
    coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_KV, D_PAD, gl_MatrixUseB> v_tile;
    coopMatLoadTensorNV(v_tile, V.v, 0, sliceTensorLayoutNV(kv_layout, kv_row0 + kv0, BLOCK_KV, 0, D_PAD));
    o_acc = coopMatMulAdd(prob_a, v_tile, o_acc);
  }

  OUT_F32 l_o;
  coopMatReduceNV(l_o, l_run, gl_CooperativeMatrixReduceRowNV, combine_first);
  coopMatPerElementNV(o_acc, o_acc, elem_normalize, l_o);

  const uint rows_total = p.batch * p.q_heads * p.q_len;
  coopMatPerElementNV(l_run, l_run, elem_store_row_state, m_run, q_row0 + q0, rows,
                      gl_WorkGroupID.z * rows_total);
  if (WRITE_PARTIALS) {
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> part_layout =
        createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    const uint part_row0 = gl_WorkGroupID.z * rows_total + q_row0;
    part_layout = setTensorLayoutDimensionNV(part_layout, part_row0 + p.q_len, HEAD_DIM);
    coopMatStoreTensorNV(o_acc, PartialO.o, 0, sliceTensorLayoutNV(part_layout, part_row0 + q0, BLOCK_Q, 0, D_PAD));
  } else {
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> o_layout =
        createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    o_layout = setTensorLayoutDimensionNV(o_layout, q_row0 + p.q_len, HEAD_DIM);
    const coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, D_PAD, gl_MatrixUseAccumulator> o_half =
        coopmat<float16_t, gl_ScopeWorkgroup, BLOCK_Q, D_PAD, gl_MatrixUseAccumulator>(o_acc);
    coopMatStoreTensorNV(o_half, O.o, 0, sliceTensorLayoutNV(o_layout, q_row0 + q0, BLOCK_Q, 0, D_PAD));
  }
}
