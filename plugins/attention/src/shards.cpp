#include "aat/attention/shards.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace aat::attention {

namespace {

std::int64_t key_limit(const AttentionShape& shape, std::span<const std::int32_t> key_lengths, std::int64_t b) {
  return key_lengths.empty() ? shape.kv_len : std::clamp<std::int64_t>(key_lengths[b], 0, shape.kv_len);
}

// Visible pairs of one (batch, query head) over keys [begin, end): sum over query rows i of
// max(0, min(end, i + Nk - Nq + 1) - begin) with the causal mask, Nq x (end - begin) without.
double row_pairs(const AttentionShape& shape, std::int64_t begin, std::int64_t end) {
  const std::int64_t width = end - begin;
  if (width <= 0 || shape.q_len <= 0) return 0;
  if (!shape.causal) return static_cast<double>(shape.q_len) * static_cast<double>(width);
  // Row i sees t_i = i + delta + 1 - begin keys of the range, clamped to [0, width].
  const std::int64_t delta = shape.kv_len - shape.q_len;
  const std::int64_t first = std::clamp<std::int64_t>(begin - delta, 0, shape.q_len);           // t_i >= 1 from here
  const std::int64_t full = std::clamp<std::int64_t>(begin - delta - 1 + width, 0, shape.q_len);  // t_i >= width from here
  double pairs = static_cast<double>(shape.q_len - full) * static_cast<double>(width);
  if (full > first) {  // rows first .. full-1 see t_first .. t_{full-1}: an arithmetic series
    const double t0 = static_cast<double>(first + delta + 1 - begin);
    const double n = static_cast<double>(full - first);
    pairs += n * t0 + n * (n - 1) / 2;
  }
  return pairs;
}

// [begin, end) cut into `parts` pieces of (nearly) equal size; empty pieces are kept.
std::vector<KeyRange> cut(std::int64_t begin, std::int64_t end, std::size_t parts) {
  std::vector<KeyRange> pieces;
  const std::int64_t width = std::max<std::int64_t>(end - begin, 0);
  for (std::size_t p = 0; p < parts; ++p)
    pieces.push_back({begin + width * static_cast<std::int64_t>(p) / static_cast<std::int64_t>(parts),
                      begin + width * static_cast<std::int64_t>(p + 1) / static_cast<std::int64_t>(parts), false});
  return pieces;
}

// Sorted, without empty ranges, adjacent ones joined.
std::vector<KeyRange> normalise(std::vector<KeyRange> ranges) {
  std::erase_if(ranges, [](const KeyRange& r) { return r.size() <= 0; });
  std::ranges::sort(ranges, {}, &KeyRange::begin);
  std::vector<KeyRange> joined;
  for (const auto& r : ranges) {
    if (!joined.empty() && joined.back().end == r.begin) joined.back().end = r.end;
    else joined.push_back(r);
  }
  return joined;
}

ShardPlan plan_heads(const AttentionShape& shape, std::size_t workers, std::span<const std::int32_t> key_lengths) {
  ShardPlan plan;
  plan.mode = ShardMode::heads;
  const std::int64_t units = shape.batch * shape.kv_heads;
  const std::int64_t group = shape.kv_heads > 0 ? shape.q_heads / shape.kv_heads : 0;
  const auto w = static_cast<std::int64_t>(workers);
  for (std::int64_t r = 0; r < w; ++r) {
    WorkerShare share;
    share.unit_begin = units * r / w;
    share.unit_end = units * (r + 1) / w;
    for (std::int64_t u = share.unit_begin; u < share.unit_end; ++u) {
      const std::int64_t limit = key_limit(shape, key_lengths, u / shape.kv_heads);
      share.flops += 4.0 * static_cast<double>(shape.head_dim * group) * row_pairs(shape, 0, limit);
    }
    plan.workers.push_back(share);
  }
  return plan;
}

ShardPlan plan_keys(const AttentionShape& shape, std::size_t workers, std::span<const std::int32_t> key_lengths) {
  ShardPlan plan;
  plan.mode = ShardMode::keys;
  std::int64_t visible_end = 0;  // no key at or past this is visible to any query
  for (std::int64_t b = 0; b < shape.batch; ++b) visible_end = std::max(visible_end, key_limit(shape, key_lengths, b));
  if (shape.q_len == 0) visible_end = 0;
  const std::int64_t delta = shape.kv_len - shape.q_len;
  std::vector<std::vector<KeyRange>> ranges(workers);
  if (!shape.causal) {
    const auto pieces = cut(0, visible_end, workers);
    for (std::size_t r = 0; r < workers; ++r) ranges[r].push_back(pieces[r]);
  } else {
    // Keys j < delta are seen by every query (the flat prefix); from key delta on, by Nq, Nq - 1,
    // ..., 1 queries (the triangle). The prefix pieces go out in reverse so that worker 0's
    // piece ends where its first triangle chunk begins: one range fewer to run.
    const std::int64_t prefix_end = std::clamp<std::int64_t>(delta, 0, visible_end);
    const auto prefix = cut(0, prefix_end, workers);
    const auto triangle = cut(prefix_end, visible_end, 2 * workers);
    for (std::size_t r = 0; r < workers; ++r) {
      ranges[r].push_back(prefix[workers - 1 - r]);
      ranges[r].push_back(triangle[r]);
      ranges[r].push_back(triangle[2 * workers - 1 - r]);
    }
  }
  for (auto& worker_ranges : ranges) {
    WorkerShare share;
    share.keys = normalise(std::move(worker_ranges));
    for (auto& range : share.keys) {
      range.causal = shape.causal && range.end - 1 > delta;
      share.flops += 4.0 * static_cast<double>(shape.head_dim) * visible_pairs(shape, range, key_lengths);
    }
    plan.workers.push_back(std::move(share));
  }
  return plan;
}

}  // namespace

std::string_view to_string(ShardMode mode) {
  switch (mode) {
    case ShardMode::automatic: return "auto";
    case ShardMode::heads: return "heads";
    case ShardMode::keys: return "keys";
  }
  return "?";
}

std::optional<ShardMode> parse_shard_mode(std::string_view name) {
  for (auto mode : {ShardMode::automatic, ShardMode::heads, ShardMode::keys})
    if (name == to_string(mode)) return mode;
  return std::nullopt;
}

std::string WorkerShare::describe(ShardMode mode) const {
  if (idle()) return "idle";
  if (mode == ShardMode::heads) return fmt::format("heads {}..{}", unit_begin, unit_end - 1);
  std::string text = "keys";
  for (const auto& r : keys) text += fmt::format(" {}..{}{}", r.begin, r.end - 1, r.causal ? " (causal)" : "");
  return text;
}

bool heads_balanced(std::int64_t units, std::size_t workers) {
  const auto w = static_cast<std::int64_t>(std::max<std::size_t>(workers, 1));
  const std::int64_t largest = (units + w - 1) / w;
  return units >= w && static_cast<double>(largest * w) <= kHeadsImbalance * static_cast<double>(units);
}

double ShardPlan::flops() const {
  double total = 0;
  for (const auto& w : workers) total += w.flops;
  return total;
}

double ShardPlan::imbalance() const {
  double largest = 0;
  for (const auto& w : workers) largest = std::max(largest, w.flops);
  const double total = flops();
  return total > 0 ? largest * static_cast<double>(workers.size()) / total : 0.0;
}

double visible_pairs(const AttentionShape& shape, const KeyRange& range, std::span<const std::int32_t> key_lengths) {
  double pairs = 0;
  for (std::int64_t b = 0; b < shape.batch; ++b)
    pairs += row_pairs(shape, range.begin, std::min(range.end, key_limit(shape, key_lengths, b)));
  return pairs * static_cast<double>(shape.q_heads);
}

ShardPlan plan_shards(const AttentionShape& shape, std::size_t workers, ShardMode mode,
                      std::span<const std::int32_t> key_lengths) {
  workers = std::max<std::size_t>(workers, 1);
  const std::int64_t units = shape.batch * shape.kv_heads;
  const auto w = static_cast<std::int64_t>(workers);
  std::string reason;
  if (mode == ShardMode::automatic) {
    const std::int64_t largest = (units + w - 1) / w;  // the slowest worker's pairs
    const bool balanced = heads_balanced(units, workers);
    if (workers == 1) {
      mode = ShardMode::heads;
      reason = "one worker: nothing to divide";
    } else if (balanced) {
      mode = ShardMode::heads;
      reason = fmt::format("{} (batch, kv head) pairs over {} workers: at most {} each, within {}% of the mean",
                           units, workers, largest, std::lround((kHeadsImbalance - 1) * 100));
    } else {
      mode = ShardMode::keys;
      reason = fmt::format("{} (batch, kv head) pairs cannot keep {} workers within {}% of the mean: keys are divided "
                           "(context parallel){}", units, workers, std::lround((kHeadsImbalance - 1) * 100),
                           shape.causal ? ", causal prefix evenly and triangle zig-zag" : "");
    }
  } else {
    reason = fmt::format("{} forced", to_string(mode));
  }
  ShardPlan plan = mode == ShardMode::heads ? plan_heads(shape, workers, key_lengths) : plan_keys(shape, workers, key_lengths);
  plan.reason = std::move(reason);
  return plan;
}

}  // namespace aat::attention
