// Boxes of host arrays (.npy contents, C order): what one device or rank of a divided attention
// run receives (a range of batches, heads or keys) and where its results go back.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "aat/error.hpp"
#include "aat/npy.hpp"

namespace aat::attention {

// [begin, end) of one axis.
struct AxisRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

// The box `ranges` (one per leading axis; the axes after them are taken whole) of `array`, as a
// new array of the box's shape.
Expected<NpyArray> slice(const NpyArray& array, std::span<const AxisRange> ranges);

// Writes `box` into `array` with its corner at `corner` (one entry per leading axis of the box;
// the remaining axes must match whole). The inverse of slice().
Expected<void> place(NpyArray& array, std::span<const std::int64_t> corner, const NpyArray& box);

// A zero-filled array.
NpyArray zeros(DType dtype, std::vector<std::int64_t> shape);

// The (batch, kv head) pairs [unit_begin, unit_end) (u = b * kv_heads + h) as rectangles of
// batches x kv heads, in order: a partial first batch, whole batches, a partial last batch.
struct HeadBox {
  AxisRange batches, kv_heads;
};
std::vector<HeadBox> head_boxes(std::int64_t unit_begin, std::int64_t unit_end, std::int64_t kv_heads);

}  // namespace aat::attention
