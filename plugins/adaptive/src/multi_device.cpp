#include "aat/adaptive/multi_device.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace aat::adaptive {

namespace {

using attention::AxisRange;
using attention::DeviceReport;
using attention::HeadBox;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::int64_t floor_mod(std::int64_t a, std::int64_t m) { return ((a % m) + m) % m; }

// Query-chunk bounds that keep every chunk's block map the whole problem's: multiples of Br with
// b + Nk - Nq a multiple of the key tile (the chunk's last key tile whole). Ascending, inside
// (0, Nq). None without a causal mask: the map keeps the blocks around the diagonal (key
// i + Nk - Nq of row i) full, and a chunk that kept all keys would see the diagonal moved.
std::vector<std::int64_t> chunk_bounds(const attention::AttentionShape& s, std::int64_t block_q, std::int64_t block_k) {
  std::vector<std::int64_t> bounds;
  if (!s.causal) return bounds;
  const std::int64_t delta = s.kv_len - s.q_len;
  for (std::int64_t a = block_q; a < s.q_len; a += block_q)
    if (floor_mod(a + delta, block_k) == 0) bounds.push_back(a);
  return bounds;
}

// The bound nearest `target` (ties: the lower one).
std::int64_t nearest(const std::vector<std::int64_t>& bounds, double target) {
  auto it = std::lower_bound(bounds.begin(), bounds.end(), static_cast<std::int64_t>(std::ceil(target)));
  if (it == bounds.end()) return bounds.back();
  if (it != bounds.begin() && target - static_cast<double>(*(it - 1)) <= static_cast<double>(*it) - target) --it;
  return *it;
}

std::vector<std::vector<QueryChunk>> plan_queries(const attention::AttentionShape& s, std::size_t devices,
                                                  const std::vector<std::int64_t>& bounds) {
  const std::size_t parts = s.causal ? 2 * devices : devices;
  std::vector<std::int64_t> cuts{0};
  for (std::size_t p = 1; p < parts; ++p)
    cuts.push_back(std::max(cuts.back(), nearest(bounds, static_cast<double>(s.q_len) * static_cast<double>(p) /
                                                             static_cast<double>(parts))));
  cuts.push_back(s.q_len);
  std::vector<std::vector<QueryChunk>> chunks(devices);
  for (std::size_t p = 0; p < parts; ++p) {
    const std::size_t device = p < devices ? p : parts - 1 - p;  // zig-zag when causal
    if (cuts[p + 1] > cuts[p]) chunks[device].push_back({cuts[p], cuts[p + 1]});
  }
  for (auto& list : chunks) {  // ascending, adjacent chunks joined
    std::ranges::sort(list, {}, &QueryChunk::begin);
    std::vector<QueryChunk> joined;
    for (const auto& c : list) {
      if (!joined.empty() && joined.back().end == c.begin) joined.back().end = c.end;
      else joined.push_back(c);
    }
    list = std::move(joined);
  }
  return chunks;
}

// The keys a chunk of query rows sees at most: all of them, or under a causal mask those up to
// its last row's diagonal.
std::int64_t chunk_keys(const attention::AttentionShape& s, const QueryChunk& chunk) {
  return s.causal ? std::clamp<std::int64_t>(chunk.end + s.kv_len - s.q_len, 0, s.kv_len) : s.kv_len;
}

}  // namespace

std::string_view to_string(AdaptiveSplit split) {
  switch (split) {
    case AdaptiveSplit::automatic: return "auto";
    case AdaptiveSplit::heads: return "heads";
    case AdaptiveSplit::queries: return "queries";
  }
  return "?";
}

std::optional<AdaptiveSplit> parse_adaptive_split(std::string_view name) {
  for (auto split : {AdaptiveSplit::automatic, AdaptiveSplit::heads, AdaptiveSplit::queries})
    if (name == to_string(split)) return split;
  return std::nullopt;
}

AdaptivePlan plan_adaptive(const attention::AttentionShape& shape, std::size_t devices, std::uint32_t block_q,
                           std::uint32_t block_k, AdaptiveSplit split) {
  devices = std::max<std::size_t>(devices, 1);
  AdaptivePlan plan;
  const std::int64_t units = shape.batch * shape.kv_heads;
  const std::vector<std::int64_t> bounds = chunk_bounds(shape, block_q, block_k);
  const bool heads_balanced = attention::heads_balanced(units, devices);
  // Why no chunk bound exists (empty when some does).
  const std::string no_bounds =
      !bounds.empty() ? std::string()
      : shape.causal  ? fmt::format("no query-tile bound keeps the block maps (Br = {}, key tile {}, Nk - Nq = {})",
                                    block_q, block_k, shape.kv_len - shape.q_len)
                      : std::string("without a causal mask a chunk of query rows would see the diagonal of the block "
                                    "map moved");
  if (split == AdaptiveSplit::automatic) {
    if (devices == 1 || heads_balanced) {
      split = AdaptiveSplit::heads;
      plan.reason = devices == 1 ? "one device" : fmt::format("{} (batch, kv head) pairs over {} devices", units, devices);
    } else if (bounds.empty()) {
      split = AdaptiveSplit::heads;
      plan.reason = fmt::format("{} (batch, kv head) pairs for {} devices, but {}: heads", units, devices, no_bounds);
    } else {
      split = AdaptiveSplit::queries;
      plan.reason = fmt::format("{} (batch, kv head) pairs cannot keep {} devices within {}% of the mean: query tiles are "
                                "divided zig-zag", units, devices, std::lround((attention::kHeadsImbalance - 1) * 100));
    }
  } else {
    plan.reason = fmt::format("{} forced", to_string(split));
    if (split == AdaptiveSplit::queries && bounds.empty() && devices > 1) {
      split = AdaptiveSplit::heads;
      plan.reason += fmt::format("; {}: heads", no_bounds);
    }
  }
  plan.split = split;
  if (split == AdaptiveSplit::heads) {
    plan.heads = attention::plan_shards(shape, devices, attention::ShardMode::heads);
  } else if (devices == 1) {
    plan.chunks = {{{0, shape.q_len}}};
  } else {
    plan.chunks = plan_queries(shape, devices, bounds);
  }
  return plan;
}

struct MultiDeviceAdaptive::Member {
  std::shared_ptr<Context> context;
  AdaptiveAttention adaptive;
};

Expected<MultiDeviceAdaptive> MultiDeviceAdaptive::create(DeviceGroup devices) {
  MultiDeviceAdaptive m;
  for (const auto& context : devices.contexts()) {
    auto adaptive = AdaptiveAttention::create(context);
    if (!adaptive)
      return forward(std::move(adaptive), fmt::format("device {} ({})", context->device().index, context->device().name));
    m.members_.push_back(std::make_shared<Member>(Member{context, std::move(*adaptive)}));
  }
  m.devices_ = std::move(devices);
  return m;
}

Expected<MultiDeviceAdaptiveResult> MultiDeviceAdaptive::run(const HostArray& q, const HostArray& k, const HostArray& v,
                                                             const MultiDeviceAdaptiveOptions& options) {
  const auto started = Clock::now();
  attention::MultiDeviceOptions check;
  check.causal = options.adaptive.causal;
  check.key_lengths = options.key_lengths;
  AAT_TRY(const attention::AttentionShape shape, with_context(attention::MultiDeviceAttention::check(q, k, v, check),
                                                              "adaptive attention"));
  MultiDeviceAdaptiveResult result;
  // Every device cuts the query tiles the whole problem would get on the first device.
  result.block_q = plan_block_q(members_.front()->context->device(), shape, options.adaptive);
  result.plan = plan_adaptive(shape, members_.size(), result.block_q, options.adaptive.block_k, options.split);
  result.out = attention::zeros(shape.dtype, q.shape);
  result.lse = attention::zeros(DType::f32, {shape.batch, shape.q_heads, shape.q_len});
  attention::fill_empty(result.lse);
  const std::int64_t group = shape.q_heads / shape.kv_heads;
  result.devices.resize(members_.size());
  std::vector<double> dense(members_.size(), 0.0), executed(members_.size(), 0.0);

  // One piece of work on device `i`: Q/K/V boxes in, O and L placed at `corner` (disjoint per piece).
  auto run_piece = [&](std::size_t i, const attention::HeadInputs& in, std::vector<std::int32_t> lengths,
                       std::array<std::int64_t, 3> corner) -> Expected<void> {
    Member& member = *members_[i];
    AAT_TRY(Tensor qt, attention::to_device(member.context, in.q));
    AAT_TRY(Tensor kt, attention::to_device(member.context, in.k));
    AAT_TRY(Tensor vt, attention::to_device(member.context, in.v));
    AdaptiveOptions o = options.adaptive;
    o.block_q = result.block_q;
    Tensor lengths_tensor;
    if (!lengths.empty()) {
      AAT_TRY(lengths_tensor, Tensor::from_values<std::int32_t>(member.context, DType::i32,
                                                                {static_cast<std::int64_t>(lengths.size())}, lengths));
      o.key_lengths = &lengths_tensor;
    } else {
      o.key_lengths = nullptr;
    }
    AAT_TRY(AdaptiveResult r, member.adaptive.run(qt, kt, vt, o));
    result.devices[i].gpu_ms += r.gpu_ms;
    result.devices[i].flops += r.executed_flops();
    dense[i] += r.cost.dense_flops;
    executed[i] += r.executed_flops();
    AAT_TRY(HostArray out, r.out.to_host());
    AAT_TRY(HostArray lse, r.lse.to_host());
    AAT_CHECK(attention::place(result.out, corner, out));
    return attention::place(result.lse, corner, lse);
  };

  AAT_CHECK(devices_.run_each([&](std::size_t i) -> Expected<void> {
    const auto device_started = Clock::now();
    const auto& info = members_[i]->context->device();
    DeviceReport& report = result.devices[i];
    report.device = fmt::format("{} ({})", info.index, info.name);
    if (result.plan.split == AdaptiveSplit::heads) {
      const auto& share = result.plan.heads.workers[i];
      report.share = share.describe(attention::ShardMode::heads);
      for (const HeadBox& box : attention::head_boxes(share.unit_begin, share.unit_end, shape.kv_heads)) {
        AAT_TRY(attention::HeadInputs in, attention::head_inputs(q, k, v, box));
        std::vector<std::int32_t> lengths;
        if (!options.key_lengths.empty())
          lengths.assign(options.key_lengths.begin() + box.batches.begin, options.key_lengths.begin() + box.batches.end);
        AAT_CHECK(run_piece(i, in, std::move(lengths), {box.batches.begin, box.kv_heads.begin * group, 0}));
      }
    } else {
      report.share = "queries";
      for (const QueryChunk& chunk : result.plan.chunks[i]) {
        report.share += fmt::format(" {}..{}", chunk.begin, chunk.end - 1);
        const std::int64_t keys = chunk_keys(shape, chunk);
        if (keys == 0) continue;  // no row of the chunk sees a key: O = 0, L = -inf as filled
        const AxisRange all_b{0, shape.batch}, all_q{0, shape.q_heads}, all_kv{0, shape.kv_heads};
        attention::HeadInputs in;
        AAT_TRY(in.q, attention::box_of(q, std::array{all_b, all_q, AxisRange{chunk.begin, chunk.end}}));
        AAT_TRY(in.k, attention::box_of(k, std::array{all_b, all_kv, AxisRange{0, keys}}));
        AAT_TRY(in.v, attention::box_of(v, std::array{all_b, all_kv, AxisRange{0, keys}}));
        std::vector<std::int32_t> lengths;
        for (auto length : options.key_lengths) lengths.push_back(static_cast<std::int32_t>(std::min<std::int64_t>(length, keys)));
        AAT_CHECK(run_piece(i, in, std::move(lengths), {0, 0, chunk.begin}));
      }
    }
    report.wall_ms = ms_since(device_started);
    return {};
  }));
  result.dense_flops = std::accumulate(dense.begin(), dense.end(), 0.0);
  result.executed_flops = std::accumulate(executed.begin(), executed.end(), 0.0);
  result.wall_ms = ms_since(started);
  return result;
}

}  // namespace aat::adaptive
