// Boxes of host arrays (.npy contents, C order): what one device or rank of a divided attention
// run receives (a range of batches, heads or keys) and where its results go back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "aat/error.hpp"
#include "aat/npy.hpp"
#include "aat/tensor.hpp"

namespace aat::attention {

// [begin, end) of one axis.
struct AxisRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

// The box `ranges` (one per leading axis; the axes after them are taken whole) of `array`, as a
// new array of the box's shape.
Expected<HostArray> slice(const HostArray& array, std::span<const AxisRange> ranges);

// Writes `box` into `array` with its corner at `corner` (one entry per leading axis of the box;
// the remaining axes must match whole). The inverse of slice().
Expected<void> place(HostArray& array, std::span<const std::int64_t> corner, const HostArray& box);

// A zero-filled array.
HostArray zeros(DType dtype, std::vector<std::int64_t> shape);

// Key lengths from a .npy file: i32 [B] (anything else is an error naming the file).
Expected<std::vector<std::int32_t>> read_key_lengths(const std::filesystem::path& path);

// A box of a host array as bytes in C order: where they lie in the array when the box is one
// contiguous run there (e.g. a range of heads of one batch), else a copy the box owns. Copies
// share `storage`; a view is valid while the array it points into is.
struct HostBox {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
  std::shared_ptr<const HostArray> storage;  // set when the box owns its bytes

  static HostBox owning(HostArray array);
  std::int64_t element_count() const;
};
Expected<HostBox> box_of(const HostArray& array, std::span<const AxisRange> ranges);

// A new device tensor holding the box.
Expected<Tensor> to_device(const std::shared_ptr<Context>& context, const HostBox& box);

// The (batch, kv head) pairs [unit_begin, unit_end) (u = b * kv_heads + h) as rectangles of
// batches x kv heads, in order: a partial first batch, whole batches, a partial last batch.
struct HeadBox {
  AxisRange batches, kv_heads;
};
std::vector<HeadBox> head_boxes(std::int64_t unit_begin, std::int64_t unit_end, std::int64_t kv_heads);

// Q, K and V of a HeadBox: Q [batches, kv heads x G, Nq, D] (G = Hq / Hkv), K and V
// [batches, kv heads, Nk, D]; views where contiguous (one batch, or every head).
struct HeadInputs {
  HostBox q, k, v;
};
Expected<HeadInputs> head_inputs(const HostArray& q, const HostArray& k, const HostArray& v, const HeadBox& box);

}  // namespace aat::attention
