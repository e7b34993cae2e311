#include "aat/attention/multi_device.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace aat::attention {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::int64_t state_rows(const AttentionShape& s) { return s.batch * s.q_heads * s.q_len; }

std::string device_name(const Context& context) {
  return fmt::format("{} ({})", context.device().index, context.device().name);
}

// Inputs of one key range on its device: K' and V' (see multi_device.hpp for the causal
// layout) and the key lengths the range runs with (empty when it needs none).
struct RangeInputs {
  Tensor k, v, lengths;
};

Expected<RangeInputs> upload_range(const std::shared_ptr<Context>& context, Stream& stream, const KeyBlock& block,
                                   const AttentionShape& shape, const MultiDeviceOptions& options) {
  const KeyRange& range = block.range;
  const std::vector<std::int64_t> packed_shape{shape.batch, shape.kv_heads, range.size(), shape.head_dim};
  for (const auto* array : {&block.k, &block.v})
    if (array->shape != packed_shape || array->dtype != shape.dtype)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("keys {}..{}: the block is {}[{}], expected {}[{}]", range.begin, range.end - 1,
                              to_string(array->dtype), shape_to_string(array->shape), to_string(shape.dtype),
                              shape_to_string(packed_shape)));
  RangeInputs in;
  AAT_TRY(Tensor k_packed, Tensor::from_host(context, block.k));
  AAT_TRY(Tensor v_packed, Tensor::from_host(context, block.v));
  if (!range.causal) {
    in.k = std::move(k_packed);
    in.v = std::move(v_packed);
  } else {
    // K' = keys range.begin .. Nk - 1 per (batch, head); only the range's rows are uploaded. The
    // rest is zeroed: the key length masks it, but a kernel that loads whole tiles (the
    // tensor-core paths when Nk is a multiple of the tile) may read it, and 0 x NaN would not
    // be 0.
    const std::int64_t suffix = shape.kv_len - range.begin;
    const std::vector<std::int64_t> suffix_shape{shape.batch, shape.kv_heads, suffix, shape.head_dim};
    AAT_TRY(in.k, Tensor::create(context, shape.dtype, suffix_shape));
    AAT_TRY(in.v, Tensor::create(context, shape.dtype, suffix_shape));
    AAT_CHECK(stream.fill(in.k.buffer()));
    AAT_CHECK(stream.fill(in.v.buffer()));
    const std::uint64_t row_bytes = static_cast<std::uint64_t>(shape.head_dim) * size_of(shape.dtype);
    for (std::int64_t bh = 0; bh < shape.batch * shape.kv_heads; ++bh) {
      const auto b = static_cast<std::uint64_t>(bh);
      const auto n = static_cast<std::uint64_t>(range.size());
      AAT_CHECK(stream.copy(k_packed.buffer(), in.k.buffer(), n * row_bytes, b * n * row_bytes,
                            b * static_cast<std::uint64_t>(suffix) * row_bytes));
      AAT_CHECK(stream.copy(v_packed.buffer(), in.v.buffer(), n * row_bytes, b * n * row_bytes,
                            b * static_cast<std::uint64_t>(suffix) * row_bytes));
    }
  }
  if (range.causal || !options.key_lengths.empty()) {
    std::vector<std::int32_t> lengths(static_cast<std::size_t>(shape.batch));
    for (std::size_t b = 0; b < lengths.size(); ++b) {
      const std::int64_t limit = options.key_lengths.empty() ? range.end : std::min<std::int64_t>(options.key_lengths[b], range.end);
      lengths[b] = static_cast<std::int32_t>(std::clamp<std::int64_t>(limit - range.begin, 0, range.size()));
    }
    AAT_TRY(in.lengths, Tensor::from_values<std::int32_t>(context, DType::i32, {shape.batch}, lengths));
  }
  return in;
}

AttentionOptions range_options(const MultiDeviceOptions& options, bool causal, const Tensor* lengths) {
  AttentionOptions ao;
  ao.causal = causal;
  ao.scale = options.scale;
  ao.key_lengths = lengths;
  ao.splits = options.splits;
  ao.path = options.path;
  return ao;
}

Expected<AttentionPartials> empty_partials(const std::shared_ptr<Context>& context, std::int64_t slots,
                                           std::int64_t rows, std::int64_t head_dim) {
  AttentionPartials p;
  AAT_TRY(p.o, Tensor::create(context, DType::f32, {slots, rows, head_dim}));
  AAT_TRY(p.state, Tensor::create(context, DType::f32, {slots, rows, 2}));
  p.tiling.splits = static_cast<std::uint32_t>(slots);
  return p;
}

// The parts' slots side by side in one pair of tensors (device copies; one part is used as is).
Expected<AttentionPartials> concatenate(const std::shared_ptr<Context>& context, Stream& stream,
                                        std::span<const AttentionPartials> parts, std::int64_t rows,
                                        std::int64_t head_dim) {
  if (parts.size() == 1) return parts.front();
  std::int64_t slots = 0;
  for (const auto& p : parts) slots += p.o.dim(0);
  AAT_TRY(AttentionPartials all, empty_partials(context, slots, rows, head_dim));
  std::uint64_t o_at = 0, state_at = 0;
  for (const auto& p : parts) {
    AAT_CHECK(stream.copy(p.o.buffer(), all.o.buffer(), p.o.byte_size(), 0, o_at));
    AAT_CHECK(stream.copy(p.state.buffer(), all.state.buffer(), p.state.byte_size(), 0, state_at));
    o_at += p.o.byte_size();
    state_at += p.state.byte_size();
  }
  return all;
}

// Records the exact merge of every slot of `parts` (on one device) into `out` and `second`:
// O (Q's dtype) and L when `final`, else one partial state (f32 [1, rows, D] and [1, rows, 2]).
// Merges at most as many slots at once as one storage buffer can bind; the rest in rounds,
// each round's state taking part in the next (merges compose exactly).
Expected<void> record_merge_all(Attention& attention, Stream& stream, std::vector<AttentionPartials> parts,
                                std::int64_t rows, std::int64_t head_dim, const Tensor& out, const Tensor& second,
                                bool final) {
  const auto& context = attention.context();
  const std::uint64_t slot_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(rows * head_dim, 1)) * 4;
  const std::int64_t capacity =
      std::max<std::int64_t>(2, static_cast<std::int64_t>(context->device().limits.max_storage_buffer_range / slot_bytes));
  while (true) {
    std::int64_t total = 0;
    for (const auto& p : parts) total += p.o.dim(0);
    if (total <= capacity) {
      AAT_TRY(AttentionPartials all, concatenate(context, stream, parts, rows, head_dim));
      return final ? attention.record_merge(stream, all.o, all.state, out, second)
                   : attention.record_merge_to_state(stream, all.o, all.state, out, second);
    }
    std::size_t take = 0;
    std::int64_t slots = 0;
    while (take < parts.size() && slots + parts[take].o.dim(0) <= capacity) slots += parts[take++].o.dim(0);
    if (take < 2)
      return fail(ErrorCode::unsupported,
                  fmt::format("merge: {} partial states of {} rows x D = {} exceed what device '{}' binds at once",
                              parts.front().o.dim(0), rows, head_dim, context->device().name));
    AAT_TRY(AttentionPartials all, concatenate(context, stream, std::span(parts).first(take), rows, head_dim));
    AAT_TRY(AttentionPartials merged, empty_partials(context, 1, rows, head_dim));
    AAT_CHECK(attention.record_merge_to_state(stream, all.o, all.state, merged.o, merged.state));
    parts.erase(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(take));
    parts.insert(parts.begin(), std::move(merged));
  }
}

Expected<AttentionPartials> upload_state(const std::shared_ptr<Context>& context, const HostState& state,
                                         std::int64_t rows, std::int64_t head_dim) {
  if (static_cast<std::int64_t>(state.o.size()) != rows * head_dim || static_cast<std::int64_t>(state.ml.size()) != rows * 2)
    return fail(ErrorCode::size_mismatch, fmt::format("a partial state of {} and {} floats; {} rows x D = {} need {} "
                                                      "and {}", state.o.size(), state.ml.size(), rows, head_dim,
                                                      rows * head_dim, rows * 2));
  AttentionPartials p;
  AAT_TRY(p.o, Tensor::from_values<float>(context, DType::f32, {1, rows, head_dim}, state.o));
  AAT_TRY(p.state, Tensor::from_values<float>(context, DType::f32, {1, rows, 2}, state.ml));
  p.tiling.splits = 1;
  return p;
}

// The first device's state and the host states, all on the first device.
Expected<std::vector<AttentionPartials>> gather_parts(const std::shared_ptr<Context>& context, KeyStates& states,
                                                      const std::vector<HostState>& more, std::int64_t rows,
                                                      std::int64_t head_dim) {
  std::vector<AttentionPartials> parts;
  if (states.first) parts.push_back(std::move(*states.first));
  for (const std::vector<HostState>* list : std::array<const std::vector<HostState>*, 2>{&states.others, &more})
    for (const auto& s : *list) {
      AAT_TRY(auto p, upload_state(context, s, rows, head_dim));
      parts.push_back(std::move(p));
    }
  return parts;
}

}  // namespace

Expected<KeyBlock> key_block(const HostArray& k, const HostArray& v, const KeyRange& range) {
  if (k.shape.size() != 4) return fail(ErrorCode::invalid_argument, "key_block: K must be [B, H, N, D]");
  const std::array<AxisRange, 3> box{AxisRange{0, k.shape[0]}, AxisRange{0, k.shape[1]}, AxisRange{range.begin, range.end}};
  KeyBlock block{range, {}, {}};
  AAT_TRY(block.k, slice(k, box));
  AAT_TRY(block.v, slice(v, box));
  return block;
}

void fill_empty(HostArray& lse) {
  auto* values = reinterpret_cast<float*>(lse.data.data());
  std::fill(values, values + lse.element_count(), -std::numeric_limits<float>::infinity());
}

struct MultiDeviceAttention::Member {
  std::shared_ptr<Context> context;
  Attention attention;
};

Expected<MultiDeviceAttention> MultiDeviceAttention::create(DeviceGroup devices) {
  MultiDeviceAttention m;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    auto attention = Attention::create(devices.context(i));
    if (!attention) return forward(std::move(attention), fmt::format("device {}", device_name(*devices.context(i))));
    m.members_.push_back(std::make_shared<Member>(Member{devices.context(i), std::move(*attention)}));
  }
  m.devices_ = std::move(devices);
  return m;
}

Expected<AttentionShape> MultiDeviceAttention::check(const HostArray& q, const HostArray& k, const HostArray& v,
                                                     const MultiDeviceOptions& options) {
  AAT_TRY(AttentionShape shape, check_shapes(q.dtype, q.shape, k.dtype, k.shape, v.dtype, v.shape, options.causal));
  if (!options.key_lengths.empty()) {
    AAT_CHECK(check_key_lengths(options.key_lengths, shape));
  }
  if (options.splits && *options.splits == 0) return fail(ErrorCode::invalid_argument, "splits must be at least 1");
  return shape;
}

Expected<KeyStates> MultiDeviceAttention::key_states(const HostArray& q, const KeySource& keys,
                                                     std::span<const WorkerShare> shares, const AttentionShape& shape,
                                                     const MultiDeviceOptions& options) {
  if (shares.size() != members_.size())
    return fail(ErrorCode::invalid_argument, fmt::format("{} shares for {} devices", shares.size(), members_.size()));
  const std::int64_t rows = state_rows(shape);
  if (rows * shape.head_dim >= (std::int64_t{1} << 31))
    return fail(ErrorCode::unsupported, fmt::format("keys division: B x Hq x Nq x D = {} must stay under 2^31 (32-bit "
                                                    "indexing of the partial states)", rows * shape.head_dim));
  KeyStates states;
  states.devices.resize(members_.size());
  std::vector<std::optional<HostState>> host(members_.size());
  AAT_CHECK(devices_.run_each([&](std::size_t i) -> Expected<void> {
    const auto started = Clock::now();
    Member& member = *members_[i];
    DeviceReport& report = states.devices[i];
    report.device = device_name(*member.context);
    report.share = shares[i].describe(ShardMode::keys);
    report.flops = shares[i].flops;
    if (shares[i].keys.empty()) return {};
    AAT_TRY(Tensor q_device, Tensor::from_host(member.context, q));
    AAT_TRY(Stream stream, Stream::create(member.context));
    std::vector<AttentionPartials> parts;
    for (const KeyRange& range : shares[i].keys) {
      AAT_TRY(KeyBlock block, keys(range));
      block.range = range;
      AAT_TRY(RangeInputs in, upload_range(member.context, stream, block, shape, options));
      const AttentionOptions ao = range_options(options, range.causal, in.lengths ? &in.lengths : nullptr);
      AAT_TRY(auto p, member.attention.record_partials(stream, q_device, in.k, in.v, ao));
      parts.push_back(std::move(p));
    }
    AttentionPartials state;
    if (parts.size() == 1 && parts.front().o.dim(0) == 1) {
      state = std::move(parts.front());
    } else {
      AAT_TRY(state, empty_partials(member.context, 1, rows, shape.head_dim));
      AAT_CHECK(record_merge_all(member.attention, stream, std::move(parts), rows, shape.head_dim, state.o, state.state,
                                 false));
    }
    AAT_CHECK(stream.run());
    report.gpu_ms = stream.total_gpu_ms();
    if (i == 0) {
      states.first = std::move(state);
    } else {
      HostState h;
      AAT_TRY(h.o, state.o.download_values<float>());
      AAT_TRY(h.ml, state.state.download_values<float>());
      host[i] = std::move(h);
    }
    report.wall_ms = ms_since(started);
    return {};
  }));
  for (auto& h : host)
    if (h) states.others.push_back(std::move(*h));
  return states;
}

Expected<HostState> MultiDeviceAttention::reduce(KeyStates states, std::vector<HostState> more,
                                                 const AttentionShape& shape) {
  const std::int64_t rows = state_rows(shape);
  const auto& context = members_.front()->context;
  AAT_TRY(auto parts, gather_parts(context, states, more, rows, shape.head_dim));
  HostState result;
  if (parts.empty()) {  // no visible key anywhere: the empty state (l = 0)
    result.o.assign(static_cast<std::size_t>(rows * shape.head_dim), 0.0f);
    result.ml.assign(static_cast<std::size_t>(rows * 2), 0.0f);
    return result;
  }
  AAT_TRY(AttentionPartials merged, empty_partials(context, 1, rows, shape.head_dim));
  AAT_TRY(Stream stream, Stream::create(context));
  AAT_CHECK(record_merge_all(members_.front()->attention, stream, std::move(parts), rows, shape.head_dim, merged.o,
                             merged.state, false));
  AAT_CHECK(stream.run());
  AAT_TRY(result.o, merged.o.download_values<float>());
  AAT_TRY(result.ml, merged.state.download_values<float>());
  return result;
}

Expected<double> MultiDeviceAttention::finish(KeyStates states, std::vector<HostState> more,
                                              const AttentionShape& shape, HostArray& out, HostArray& lse) {
  const std::int64_t rows = state_rows(shape);
  const auto& context = members_.front()->context;
  out = zeros(shape.dtype, {shape.batch, shape.q_heads, shape.q_len, shape.head_dim});
  lse = zeros(DType::f32, {shape.batch, shape.q_heads, shape.q_len});
  AAT_TRY(auto parts, gather_parts(context, states, more, rows, shape.head_dim));
  if (parts.empty() || rows == 0) {
    fill_empty(lse);
    return 0.0;
  }
  AAT_TRY(Tensor out_device, Tensor::create(context, shape.dtype, out.shape));
  AAT_TRY(Tensor lse_device, Tensor::create(context, DType::f32, lse.shape));
  AAT_TRY(Stream stream, Stream::create(context));
  AAT_CHECK(record_merge_all(members_.front()->attention, stream, std::move(parts), rows, shape.head_dim, out_device,
                             lse_device, true));
  AAT_CHECK(stream.run());
  AAT_TRY(out, out_device.to_host());
  AAT_TRY(lse, lse_device.to_host());
  return stream.total_gpu_ms();
}

Expected<std::vector<HeadResult>> MultiDeviceAttention::head_results(const HeadSource& inputs,
                                                                     std::span<const WorkerShare> shares,
                                                                     const AttentionShape& shape,
                                                                     const MultiDeviceOptions& options,
                                                                     std::vector<DeviceReport>& reports) {
  if (shares.size() != members_.size())
    return fail(ErrorCode::invalid_argument, fmt::format("{} shares for {} devices", shares.size(), members_.size()));
  reports.assign(members_.size(), {});
  std::vector<std::vector<HeadResult>> per_device(members_.size());
  AAT_CHECK(devices_.run_each([&](std::size_t i) -> Expected<void> {
    const auto started = Clock::now();
    Member& member = *members_[i];
    DeviceReport& report = reports[i];
    report.device = device_name(*member.context);
    report.share = shares[i].describe(ShardMode::heads);
    report.flops = shares[i].flops;
    for (const HeadBox& box : head_boxes(shares[i].unit_begin, shares[i].unit_end, shape.kv_heads)) {
      AAT_TRY(HeadInputs in, inputs(box));
      AAT_TRY(Tensor q, to_device(member.context, in.q));
      AAT_TRY(Tensor k, to_device(member.context, in.k));
      AAT_TRY(Tensor v, to_device(member.context, in.v));
      Tensor lengths;
      if (!options.key_lengths.empty()) {
        const auto first = options.key_lengths.begin() + box.batches.begin;
        const std::vector<std::int32_t> slice(first, first + box.batches.size());
        AAT_TRY(lengths, Tensor::from_values<std::int32_t>(member.context, DType::i32, {box.batches.size()}, slice));
      }
      const AttentionOptions ao = range_options(options, shape.causal, lengths ? &lengths : nullptr);
      AAT_TRY(AttentionResult r, member.attention.run(q, k, v, ao));
      report.gpu_ms += r.gpu_ms;
      HeadResult result{box, {}, {}};
      AAT_TRY(result.out, r.out.to_host());
      AAT_TRY(result.lse, r.lse.to_host());
      per_device[i].push_back(std::move(result));
    }
    report.wall_ms = ms_since(started);
    return {};
  }));
  std::vector<HeadResult> all;
  for (auto& list : per_device)
    for (auto& r : list) all.push_back(std::move(r));
  return all;
}

Expected<MultiDeviceResult> MultiDeviceAttention::run(const HostArray& q, const HostArray& k, const HostArray& v,
                                                      const MultiDeviceOptions& options) {
  const auto started = Clock::now();
  AAT_TRY(const AttentionShape shape, check(q, k, v, options));
  MultiDeviceResult result;
  result.plan = plan_shards(shape, members_.size(), options.mode, options.key_lengths);
  result.flops = attention_flops(shape);
  const std::int64_t group = shape.q_heads / shape.kv_heads;
  if (result.plan.mode == ShardMode::heads) {
    result.out = zeros(shape.dtype, q.shape);
    result.lse = zeros(DType::f32, {shape.batch, shape.q_heads, shape.q_len});
    const HeadSource source = [&](const HeadBox& box) { return head_inputs(q, k, v, box); };
    AAT_TRY(auto results, head_results(source, result.plan.workers, shape, options, result.devices));
    for (const auto& r : results) {
      const std::array<std::int64_t, 2> corner{r.box.batches.begin, r.box.kv_heads.begin * group};
      AAT_CHECK(place(result.out, corner, r.out));
      AAT_CHECK(place(result.lse, corner, r.lse));
    }
  } else {
    const KeySource source = [&](const KeyRange& range) { return key_block(k, v, range); };
    AAT_TRY(KeyStates states, key_states(q, source, result.plan.workers, shape, options));
    result.devices = states.devices;
    const auto merging = Clock::now();
    AAT_TRY(result.merge_gpu_ms, finish(std::move(states), {}, shape, result.out, result.lse));
    result.merge_wall_ms = ms_since(merging);
  }
  result.wall_ms = ms_since(started);
  return result;
}

}  // namespace aat::attention
