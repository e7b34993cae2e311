// Mean pooling of consecutive rows: for each group g (a (batch, head) slice of N rows of D values)
//   out[g][t][d] = mean over rows r in [t * pool, min((t + 1) * pool, limit)) of in[g][r][d],
// limit = N, or with HAS_LENGTHS min(N, key_lengths[g / groups_per_batch]). An empty pool is 0.
// With SQUARES the mean of in^2 instead (the pattern's key variances). With TILE_MAJOR (D a
// multiple of 4) the output is [group][D / 4][pooled row][4]: a pooled row's 4-vectors sit
// beside the next row's, so invocations reading consecutive rows read contiguous memory (the
// bound rule's map kernel).
// The pattern pools whole tiles (Q and K means per tile, f32 out); the router pools 2 or 4
// keys (K and V pyramids for pooled blocks, stored like the input).
// Include after defining IN_T and OUT_T. One invocation per output element.
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool HAS_LENGTHS = false;
layout(constant_id = 2) const bool SQUARES = false;
layout(constant_id = 3) const bool TILE_MAJOR = false;

layout(std430, binding = 0) readonly buffer InBuffer { IN_T x[]; } src;
layout(std430, binding = 1) writeonly buffer OutBuffer { OUT_T x[]; } dst;
layout(std430, binding = 2) readonly buffer KeyLengthBuffer { int len[]; } KeyLengths;

layout(push_constant) uniform PoolParams {
  uint groups;            // (batch, head) slices
  uint rows;              // N: rows per slice
  uint dim;               // D
  uint pool;              // rows per pool
  uint pooled_rows;       // ceil(N / pool)
  uint groups_per_batch;  // slices per batch entry (heads), for the key lengths
} p;

void main() {
  // A 2D grid keeps large inputs under the per-axis workgroup-count limit.
  const uint index = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  if (index >= p.groups * p.pooled_rows * p.dim) return;
  const uint d = index % p.dim;
  const uint t = (index / p.dim) % p.pooled_rows;
  const uint g = index / (p.dim * p.pooled_rows);
  uint limit = p.rows;
  if (HAS_LENGTHS) limit = min(limit, uint(clamp(KeyLengths.len[g / p.groups_per_batch], 0, int(p.rows))));
  const uint first = t * p.pool;
  const uint last = min(first + p.pool, limit);
  float sum = 0.0;
  [[dont_unroll]] for (uint r = first; r < last; ++r) {
    const float x = float(src.x[(g * p.rows + r) * p.dim + d]);
    sum += SQUARES ? x * x : x;
  }
  const uint at = TILE_MAJOR ? ((g * (p.dim / 4u) + d / 4u) * p.pooled_rows + t) * 4u + d % 4u : index;
  dst.x[at] = OUT_T(last > first ? sum / float(last - first) : 0.0);
}
