// Adaptive attention on several devices of one process (aat::DeviceGroup), each device giving
// exactly what one device would have given for its rows:
//
//  * heads: the (batch, kv head) pairs are dealt out as exact attention's heads division does
//    (aat/attention/shards.hpp); every device runs the whole pipeline (pattern, router, kernel,
//    merge) on its heads. Chosen when there are enough pairs.
//  * queries (causal only): every device takes whole query tiles, zig-zag (chunks r and 2W-1-r
//    of 2W, so that every device sees as many visible keys), against the keys they see. Keys
//    cannot be divided here as exact attention's are: the block map of a query tile is a
//    softmax over all its key tiles, so a device holding some keys would keep other blocks.
//    A chunk [a, b) runs on the keys 0 .. b + Nk - Nq - 1 only (its rows see no later key),
//    which keeps the bottom-right rule and the diagonal where the whole problem has it, and the
//    chunk's block map equal to the whole problem's when that bound falls on a key-tile edge:
//    chunk bounds are chosen so (multiples of Br with b + Nk - Nq a multiple of the key tile).
//    Without a causal mask a chunk would keep all keys and see the diagonal (around which the
//    map keeps blocks full) moved, so there, and where no bound fits, the division is by heads.
// The query tile Br is the one the whole problem would use on the first device (AdaptiveOptions
// ::block_q), so every device cuts the same tiles.
// The exact fallback (AdaptiveOptions::exact_below_cer) decides per piece of work, from that
// piece's map: a piece whose rows have little to skip runs exact attention while another runs
// its plan, so outputs equal one device's only where both chose the same (always, with
// exact_below_cer = 0).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aat/adaptive/adaptive.hpp"
#include "aat/attention/multi_device.hpp"

namespace aat::adaptive {

enum class AdaptiveSplit { automatic, heads, queries };
std::string_view to_string(AdaptiveSplit split);
std::optional<AdaptiveSplit> parse_adaptive_split(std::string_view name);  // "auto", "heads", "queries"

struct MultiDeviceAdaptiveOptions {
  AdaptiveOptions adaptive;               // its key_lengths pointer is not used: see key_lengths
  std::vector<std::int32_t> key_lengths;  // one per batch; empty: none
  AdaptiveSplit split = AdaptiveSplit::automatic;
};

// Query rows [begin, end) of every (batch, head) a device computes.
struct QueryChunk {
  std::int64_t begin = 0, end = 0;
};

struct AdaptivePlan {
  AdaptiveSplit split = AdaptiveSplit::heads;  // heads or queries
  attention::ShardPlan heads;                  // split == heads
  std::vector<std::vector<QueryChunk>> chunks; // split == queries: per device, ascending
  std::string reason;
};

// The division for `devices` devices, query tiles of `block_q` rows and key tiles of `block_k`.
AdaptivePlan plan_adaptive(const attention::AttentionShape& shape, std::size_t devices, std::uint32_t block_q,
                           std::uint32_t block_k, AdaptiveSplit split = AdaptiveSplit::automatic);

struct MultiDeviceAdaptiveResult {
  HostArray out;  // [B, Hq, Nq, D], Q's dtype
  HostArray lse;  // f32 [B, Hq, Nq]
  AdaptivePlan plan;
  std::vector<attention::DeviceReport> devices;  // flops: what the device executed (pattern, pyramid, kept blocks)
  double dense_flops = 0, executed_flops = 0;     // summed over the devices
  double wall_ms = 0;
  std::uint32_t block_q = 0;
};

class MultiDeviceAdaptive {
 public:
  static Expected<MultiDeviceAdaptive> create(DeviceGroup devices);

  Expected<MultiDeviceAdaptiveResult> run(const HostArray& q, const HostArray& k, const HostArray& v,
                                          const MultiDeviceAdaptiveOptions& options = {});

 private:
  struct Member;
  DeviceGroup devices_;
  std::vector<std::shared_ptr<Member>> members_;
};

}  // namespace aat::adaptive
