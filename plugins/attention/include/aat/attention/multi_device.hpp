// Exact attention on several devices of one process (aat::DeviceGroup; "0,0" = two contexts on
// one device), divided as aat/attention/shards.hpp says:
//
//  * heads: each device runs attention on its (batch, kv head) pairs and returns final O and L;
//  * keys (context parallel): each device gets all of Q and its key ranges, runs the forward
//    kernel writing partial states (Attention::record_partials) for each range, and merges its
//    own states into one (Attention::record_merge_to_state). The others' states travel through
//    the host to the first device, which merges them all, exactly, into O and L
//    (Attention::record_merge). A causal range [a, b) runs on K' = keys a.. Nk - 1 with key
//    length b - a, so the kernel's bottom-right causal rule (key j' of K' is visible to query i
//    when j' <= i + |K'| - Nq) is the full problem's rule for the range's keys, and the keys
//    past b are never read (nor uploaded).
//
// Each device works on a thread of its own: upload, compute and download overlap across devices.
// Inputs and outputs are host arrays (.npy contents): a division of work across devices starts
// and ends on the host. Across hosts (MPI), the distributed plugin composes the same pieces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aat/attention/attention.hpp"
#include "aat/attention/host_slices.hpp"
#include "aat/attention/shards.hpp"
#include "aat/device_group.hpp"
#include "aat/npy.hpp"

namespace aat::attention {

struct MultiDeviceOptions {
  bool causal = false;
  std::optional<float> scale;             // default 1/sqrt(D)
  std::vector<std::int32_t> key_lengths;  // one per batch; empty: none
  ShardMode mode = ShardMode::automatic;
  std::optional<std::uint32_t> splits;    // K splits inside each device's runs (default: optimize_tiling)
  std::optional<KernelPath> path;
};

struct DeviceReport {
  std::string device;     // "0 (llvmpipe ...)"
  std::string share;      // WorkerShare::describe
  double flops = 0;       // visible pairs x 4 D it computed
  double gpu_ms = 0;      // its dispatches (0 without timestamps)
  double wall_ms = 0;     // its thread: upload, compute, local merge, download
};

struct MultiDeviceResult {
  HostArray out;           // [B, Hq, Nq, D], Q's dtype
  HostArray lse;           // f32 [B, Hq, Nq]
  ShardPlan plan;
  std::vector<DeviceReport> devices;
  double merge_gpu_ms = 0;  // keys: the final merge on the first device
  double merge_wall_ms = 0; // keys: uploads of the others' states, merge, download of O and L
  double wall_ms = 0;       // host inputs to host outputs
  double flops = 0;         // attention_flops of the whole problem
};

// One partial state of every query row on the host (what crosses between devices and hosts):
// o normalised, f32 [rows x D]; ml = (m, l) f32 [rows x 2]; rows = B x Hq x Nq.
struct HostState {
  std::vector<float> o, ml;
};

// K and V rows [range) of every (batch, kv head): [B, Hkv, range.size(), D] each.
struct KeyBlock {
  KeyRange range;
  HostArray k, v;
};
// Where a device's thread gets the keys of one of its ranges (called on that thread).
using KeySource = std::function<Expected<KeyBlock>(const KeyRange& range)>;
// The block of keys `range` of K and V [B, Hkv, Nk, D] (a copy: B x Hkv runs of rows).
Expected<KeyBlock> key_block(const HostArray& k, const HostArray& v, const KeyRange& range);

// The states of a keys division before the last merge: the first device's, still on it, and
// the other devices' on the host.
struct KeyStates {
  std::optional<AttentionPartials> first;  // on device 0: o [1, rows, D], state [1, rows, 2]
  std::vector<HostState> others;
  std::vector<DeviceReport> devices;
};

// Final O and L of the (batch, kv head) pairs of one HeadBox: out [batches, kv heads x G, Nq, D],
// lse [batches, kv heads x G, Nq].
struct HeadResult {
  HeadBox box;
  HostArray out, lse;
};

class MultiDeviceAttention {
 public:
  static Expected<MultiDeviceAttention> create(DeviceGroup devices);

  // The whole run: check, plan (plan_shards over the group's size), compute, merge.
  Expected<MultiDeviceResult> run(const HostArray& q, const HostArray& k, const HostArray& v,
                                  const MultiDeviceOptions& options = {});

  // The pieces run() is made of, for callers that move data between hosts themselves.
  //
  // Checks Q, K, V (and the key lengths) as attention::check_inputs would.
  static Expected<AttentionShape> check(const HostArray& q, const HostArray& k, const HostArray& v,
                                        const MultiDeviceOptions& options);
  // Keys division: device i computes shares[i] (shares.size() == the group's size) over all of Q.
  Expected<KeyStates> key_states(const HostArray& q, const KeySource& keys, std::span<const WorkerShare> shares,
                                 const AttentionShape& shape, const MultiDeviceOptions& options);
  // All of `states` (and `more`) merged exactly into one state on the host: what a rank sends.
  Expected<HostState> reduce(KeyStates states, std::vector<HostState> more, const AttentionShape& shape);
  // All of `states` and `more` merged exactly into O and L on the first device, downloaded into
  // `out` [B, Hq, Nq, D] and `lse` [B, Hq, Nq]. Returns the merge's GPU time.
  Expected<double> finish(KeyStates states, std::vector<HostState> more, const AttentionShape& shape, HostArray& out,
                          HostArray& lse);
  // Heads division: device i computes the (batch, kv head) pairs of shares[i] from the host
  // boxes `inputs(box)` returns (head_inputs of host_slices.hpp, or boxes received).
  using HeadSource = std::function<Expected<HeadInputs>(const HeadBox& box)>;
  Expected<std::vector<HeadResult>> head_results(const HeadSource& inputs, std::span<const WorkerShare> shares,
                                                 const AttentionShape& shape, const MultiDeviceOptions& options,
                                                 std::vector<DeviceReport>& reports);

  const DeviceGroup& devices() const { return devices_; }

 private:
  struct Member;
  DeviceGroup devices_;
  std::vector<std::shared_ptr<Member>> members_;
};

// O = 0 and L = -inf for every row: the answer when no key is visible to any query.
void fill_empty(HostArray& lse);

}  // namespace aat::attention
