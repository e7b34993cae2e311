// Exact attention across the ranks of an MPI job, each rank on its own device(s):
//
//   agree    every rank reports to rank 0 whether it is ready (its devices opened) and the
//            settings it was started with; rank 0 adds its inputs (read and checked), plans the
//            division over all ranks' devices (aat/attention/shards.hpp) and sends every rank
//            one verdict: the shape and its share, or the one error that stops all of them
//            (a rank's problem named with its rank and host).
//   data     keys division (context parallel): Q goes to every rank, each rank gets only the K/V
//            rows of its key ranges. Heads division: each rank gets the Q/K/V of its heads.
//   compute  each rank runs its share on its devices (aat/attention/multi_device.hpp) and merges
//            its devices' partial states into one (keys) while rank 0 sends the others their data.
//   combine  the ranks send rank 0 their state (rows x (D + 2) floats) or their heads' O and L;
//            rank 0 merges the states exactly on its first device (the merge of softmax_state.glsl,
//            a gather + merge) and sends every rank the outcome, so all return the same.
//
// Every wait is bounded (Communicator): rank 0 waits `timeout` for any rank, the ranks wait
// twice that for rank 0 (which may be waiting for a stuck rank before it can answer, and so is
// the one that names it). A rank that stalls or dies is named in the error of the rank that
// waited for it, and the communicator is marked broken: the caller then aborts the job, since
// the other ranks may be waiting too.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aat/attention/multi_device.hpp"
#include "aat/distributed/communicator.hpp"

namespace aat::distributed {

struct RootInputs {
  HostArray q, k, v;
};

struct DistributedOptions {
  attention::MultiDeviceOptions attention;  // rank 0's key lengths are the ones used
  // What every rank must have been started with alike (the CLI: its arguments); compared by rank 0.
  std::string settings;
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  // Every rank passes the inputs (a shared file system, or data each rank holds already):
  // nothing travels but the states, and the ranks' input shapes must agree (else all stop,
  // the rank that differs named). Otherwise rank 0's inputs are sent out as the data phase says.
  bool inputs_on_every_rank = false;
  // Testing aid: called on every rank as each phase begins ("agree", "data", "compute",
  // "combine"); may stall or end the process to play a failing rank.
  std::function<void(std::string_view phase)> on_phase;
};

struct RankReport {
  int rank = 0;
  std::string host;
  std::vector<attention::DeviceReport> devices;
  double compute_wall_ms = 0;  // its share: uploads, kernels, local merge, downloads
};

struct DistributedResult {
  // Rank 0 only: O [B, Hq, Nq, D] (Q's dtype), L f32 [B, Hq, Nq], and what every rank did.
  HostArray out, lse;
  attention::ShardPlan plan;      // over every device of every rank, in rank order
  std::vector<RankReport> ranks;
  double flops = 0;
  double wall_ms = 0;        // from the agreement to the outcome
  double data_wall_ms = 0;   // rank 0: sending Q and K/V
  double merge_wall_ms = 0;  // rank 0: from its own share done to O and L (waiting for the others' states, merging)
};

// This rank's devices: `list` when given ("0,1"), else one device of this host: its devices in
// preference order (discrete GPUs, integrated, virtual, CPU) dealt out by the rank's position
// on the host, so the ranks of a 2-GPU host take one GPU each.
Expected<std::vector<std::string>> rank_devices(const Communicator& comm, const std::string& list = {});

// Called by every rank at the same point of the program. `local`: this rank's devices, or the
// error that kept them from opening (then every rank fails with it). `inputs`: on rank 0 (on
// every rank with inputs_on_every_rank) the problem, or the error reading it; else null.
Expected<DistributedResult> run_attention(Communicator& comm, Expected<attention::MultiDeviceAttention>& local,
                                          const Expected<RootInputs>* inputs, const DistributedOptions& options);

}  // namespace aat::distributed
