#include "aat/attention/host_slices.hpp"

#include <array>
#include <cstring>

#include <fmt/format.h>

namespace aat::attention {

namespace {

// Copies a box between two C-order arrays of the same rank: `box_shape` elements along each
// axis, from `from_corner` of an array shaped `from_shape` to `to_corner` of one shaped
// `to_shape`. The trailing axes the box covers whole, in both, are copied as one run.
void copy_box(const std::byte* from, std::span<const std::int64_t> from_shape, std::span<const std::int64_t> from_corner,
              std::byte* to, std::span<const std::int64_t> to_shape, std::span<const std::int64_t> to_corner,
              std::span<const std::int64_t> box_shape, std::size_t element_bytes) {
  const std::size_t rank = box_shape.size();
  // The longest tail of axes that are whole in both arrays: one contiguous run per box row.
  std::size_t tail = rank;
  std::int64_t run = 1;
  while (tail > 0 && box_shape[tail - 1] == from_shape[tail - 1] && box_shape[tail - 1] == to_shape[tail - 1]) {
    --tail;
    run *= box_shape[tail];
  }
  if (tail > 0) {  // the innermost partial axis is part of the run too
    --tail;
    run *= box_shape[tail];
  }
  for (auto d : box_shape)
    if (d == 0) return;
  std::vector<std::int64_t> from_strides(rank, 1), to_strides(rank, 1);
  for (std::size_t a = rank; a-- > 1;) {
    from_strides[a - 1] = from_strides[a] * from_shape[a];
    to_strides[a - 1] = to_strides[a] * to_shape[a];
  }
  std::vector<std::int64_t> index(tail, 0);  // position in the box over the axes before the run
  while (true) {
    std::int64_t from_offset = 0, to_offset = 0;
    for (std::size_t a = 0; a < rank; ++a) {
      const std::int64_t i = a < tail ? index[a] : 0;
      from_offset += (from_corner[a] + i) * from_strides[a];
      to_offset += (to_corner[a] + i) * to_strides[a];
    }
    std::memcpy(to + to_offset * static_cast<std::int64_t>(element_bytes),
                from + from_offset * static_cast<std::int64_t>(element_bytes),
                static_cast<std::size_t>(run) * element_bytes);
    std::size_t a = tail;
    while (a > 0) {
      --a;
      if (++index[a] < box_shape[a]) break;
      index[a] = 0;
      if (a == 0) return;
    }
    if (tail == 0) return;
  }
}

std::vector<std::int64_t> padded(std::span<const std::int64_t> leading, std::size_t rank, std::int64_t fill) {
  std::vector<std::int64_t> v(leading.begin(), leading.end());
  v.resize(rank, fill);
  return v;
}

}  // namespace

HostArray zeros(DType dtype, std::vector<std::int64_t> shape) {
  HostArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.data.assign(static_cast<std::size_t>(array.element_count()) * size_of(dtype), std::byte{0});
  return array;
}

Expected<HostArray> slice(const HostArray& array, std::span<const AxisRange> ranges) {
  if (ranges.size() > array.shape.size())
    return fail(ErrorCode::invalid_argument, fmt::format("slice: {} ranges for an array of rank {}", ranges.size(),
                                                         array.shape.size()));
  std::vector<std::int64_t> corner, shape = array.shape;
  for (std::size_t a = 0; a < ranges.size(); ++a) {
    if (ranges[a].begin < 0 || ranges[a].end < ranges[a].begin || ranges[a].end > array.shape[a])
      return fail(ErrorCode::invalid_argument, fmt::format("slice: range {}..{} of axis {} is outside 0..{}",
                                                           ranges[a].begin, ranges[a].end, a, array.shape[a]));
    corner.push_back(ranges[a].begin);
    shape[a] = ranges[a].size();
  }
  HostArray box = zeros(array.dtype, shape);
  const auto from_corner = padded(corner, shape.size(), 0);
  const std::vector<std::int64_t> origin(shape.size(), 0);
  copy_box(array.data.data(), array.shape, from_corner, box.data.data(), box.shape, origin, box.shape,
           size_of(array.dtype));
  return box;
}

Expected<void> place(HostArray& array, std::span<const std::int64_t> corner, const HostArray& box) {
  bool fits = box.dtype == array.dtype && box.shape.size() == array.shape.size() && corner.size() <= box.shape.size();
  for (std::size_t a = 0; fits && a < box.shape.size(); ++a) {
    const std::int64_t at = a < corner.size() ? corner[a] : 0;
    fits = at >= 0 && at + box.shape[a] <= array.shape[a] && (a < corner.size() || box.shape[a] == array.shape[a]);
  }
  if (!fits)
    return fail(ErrorCode::invalid_argument,
                fmt::format("place: a {}[{}] box does not fit a {}[{}] array at corner {}", to_string(box.dtype),
                            shape_to_string(box.shape), to_string(array.dtype), shape_to_string(array.shape),
                            shape_to_string(corner)));
  const std::vector<std::int64_t> origin(box.shape.size(), 0);
  copy_box(box.data.data(), box.shape, origin, array.data.data(), array.shape, padded(corner, box.shape.size(), 0),
           box.shape, size_of(array.dtype));
  return {};
}

Expected<std::vector<std::int32_t>> read_key_lengths(const std::filesystem::path& path) {
  AAT_TRY(HostArray array, read_npy(path));
  if (array.dtype != DType::i32 || array.shape.size() != 1)
    return fail(ErrorCode::invalid_argument, fmt::format("key lengths must be i32[B] (one per batch), got {}[{}] in {}",
                                                         to_string(array.dtype), shape_to_string(array.shape),
                                                         path.string()));
  AAT_TRY(auto values, array.as<std::int32_t>());
  return std::vector<std::int32_t>(values.begin(), values.end());
}

HostBox HostBox::owning(HostArray array) {
  auto storage = std::make_shared<const HostArray>(std::move(array));
  return HostBox{storage->dtype, storage->shape, storage->data, storage};
}

std::int64_t HostBox::element_count() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

Expected<HostBox> box_of(const HostArray& array, std::span<const AxisRange> ranges) {
  // Contiguous when every axis before the last partial one holds a single index.
  std::size_t last_partial = 0;
  bool any_partial = false;
  for (std::size_t a = 0; a < ranges.size() && a < array.shape.size(); ++a)
    if (ranges[a].begin != 0 || ranges[a].end != array.shape[a]) {
      last_partial = a;
      any_partial = true;
    }
  bool contiguous = ranges.size() <= array.shape.size();
  for (std::size_t a = 0; contiguous && any_partial && a < last_partial; ++a) contiguous = ranges[a].size() == 1;
  for (std::size_t a = 0; contiguous && a < ranges.size(); ++a)
    contiguous = ranges[a].begin >= 0 && ranges[a].begin <= ranges[a].end && ranges[a].end <= array.shape[a];
  if (!contiguous) {
    AAT_TRY(HostArray copy, slice(array, ranges));
    return HostBox::owning(std::move(copy));
  }
  HostBox box{array.dtype, array.shape, {}, nullptr};
  std::int64_t offset = 0, stride = 1;
  for (std::size_t a = array.shape.size(); a-- > 0;) {
    if (a < ranges.size()) {
      offset += ranges[a].begin * stride;
      box.shape[a] = ranges[a].size();
    }
    stride *= array.shape[a];
  }
  const auto element = static_cast<std::int64_t>(size_of(array.dtype));
  box.bytes = std::span(array.data).subspan(static_cast<std::size_t>(offset * element),
                                            static_cast<std::size_t>(box.element_count() * element));
  return box;
}

Expected<Tensor> to_device(const std::shared_ptr<Context>& context, const HostBox& box) {
  AAT_TRY(Tensor tensor, Tensor::create(context, box.dtype, box.shape));
  AAT_CHECK(tensor.upload(box.bytes));
  return tensor;
}

Expected<HeadInputs> head_inputs(const HostArray& q, const HostArray& k, const HostArray& v, const HeadBox& box) {
  if (q.shape.size() != 4 || k.shape.size() != 4 || k.shape[1] == 0)
    return fail(ErrorCode::invalid_argument, "head_inputs: Q and K must be [B, H, N, D]");
  const std::int64_t group = q.shape[1] / k.shape[1];
  const AxisRange q_heads{box.kv_heads.begin * group, box.kv_heads.end * group};
  HeadInputs in;
  AAT_TRY(in.q, box_of(q, std::array{box.batches, q_heads}));
  AAT_TRY(in.k, box_of(k, std::array{box.batches, box.kv_heads}));
  AAT_TRY(in.v, box_of(v, std::array{box.batches, box.kv_heads}));
  return in;
}

std::vector<HeadBox> head_boxes(std::int64_t unit_begin, std::int64_t unit_end, std::int64_t kv_heads) {
  std::vector<HeadBox> boxes;
  std::int64_t u = unit_begin;
  while (u < unit_end) {
    const std::int64_t b = u / kv_heads, h = u % kv_heads;
    if (h != 0 || unit_end - u < kv_heads) {  // part of one batch
      const std::int64_t h_end = std::min(kv_heads, h + (unit_end - u));
      boxes.push_back({{b, b + 1}, {h, h_end}});
      u += h_end - h;
    } else {  // whole batches
      const std::int64_t batches = (unit_end - u) / kv_heads;
      boxes.push_back({{b, b + batches}, {0, kv_heads}});
      u += batches * kv_heads;
    }
  }
  return boxes;
}

}  // namespace aat::attention
