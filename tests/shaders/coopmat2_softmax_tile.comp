#version 450
// REQUIRES: coopmat2
// The framework's proof that a coopmat2 kernel runs correctly (tests/test_coopmat2.cpp): one
// 64 x 64 tile of S = Q K^T on the tensor cores (workgroup-scope matrices, tensor-layout
// loads), its row maxima and row sums through coopMatReduceNV, and P = exp(S - rowmax) through
// coopMatPerElementNV, checked against a double-precision CPU reference.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int32 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require

layout(local_size_x = 128) in;
const uint N = 64;  // rows of Q, rows of K, head dim

layout(std430, binding = 0) readonly buffer QBuffer { float16_t q[]; } Q;
layout(std430, binding = 1) readonly buffer KBuffer { float16_t k[]; } K;
layout(std430, binding = 2) writeonly buffer PBuffer { float p[]; } P;
layout(std430, binding = 3) writeonly buffer RowBuffer { float stats[]; } Rows;  // [max(64), sum(64)]

#define TILE coopmat<float, gl_ScopeWorkgroup, N, N, gl_MatrixUseAccumulator>

float combine_max(const in float a, const in float b) { return max(a, b); }
float combine_sum(const in float a, const in float b) { return a + b; }
float elem_exp(const in uint32_t row, const in uint32_t col, const in float x) { return exp(x); }
float elem_store(const in uint32_t row, const in uint32_t col, const in float x, const in uint32_t base) {
  if (col == 0) Rows.stats[base + row] = x;
  return x;
}

void main() {
  tensorLayoutNV<2> layout_ = createTensorLayoutNV(2);
  layout_ = setTensorLayoutDimensionNV(layout_, N, N);
  coopmat<float16_t, gl_ScopeWorkgroup, N, N, gl_MatrixUseA> q;
  coopMatLoadTensorNV(q, Q.q, 0, sliceTensorLayoutNV(layout_, 0, N, 0, N));
  coopmat<float16_t, gl_ScopeWorkgroup, N, N, gl_MatrixUseB> k_t;
  coopMatLoadTensorNV(k_t, K.k, 0, sliceTensorLayoutNV(layout_, 0, N, 0, N), createTensorViewNV(2, false, 1, 0));
  TILE s = coopMatMulAdd(q, k_t, TILE(0.0));

  TILE row_max;
  coopMatReduceNV(row_max, s, gl_CooperativeMatrixReduceRowNV, combine_max);
  TILE p;
  coopMatPerElementNV(p, s - row_max, elem_exp);
  TILE row_sum;
  coopMatReduceNV(row_sum, p, gl_CooperativeMatrixReduceRowNV, combine_sum);

  coopMatStoreTensorNV(p, P.p, 0, sliceTensorLayoutNV(layout_, 0, N, 0, N));
  coopMatPerElementNV(row_max, row_max, elem_store, 0u);
  coopMatPerElementNV(row_sum, row_sum, elem_store, N);
}
