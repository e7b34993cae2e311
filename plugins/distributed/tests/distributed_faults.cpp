// Plays a failing rank in a distributed attention run (run under mpirun by test_cli_distributed.sh):
//
//   distributed_faults stall RANK PHASE   rank RANK sleeps at PHASE: the rank waiting for it must
//                                         name it when its timeout runs out (rank 0 waits 3 s
//                                         for a rank, a rank 6 s for rank 0), and end the job
//   distributed_faults exit RANK PHASE    rank RANK ends its process at PHASE (exit status 3)
//   distributed_faults broken RANK        rank RANK's devices fail to open: every rank returns
//                                         the same error naming it, and exits 1 without an abort
//   distributed_faults fine               no fault: rank 0 checks O against one device
//
// Each rank prints one line "rank R: ..." with its outcome; a rank whose wait broke the
// communicator aborts the job, as the CLI does. Inputs: B 1, H 2, N 64, D 16, f32, causal.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>

#include "aat/distributed/distributed_attention.hpp"

namespace {

using namespace aat;

HostArray random_array(std::vector<std::int64_t> shape, std::mt19937& rng) {
  HostArray a = attention::zeros(DType::f32, std::move(shape));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto* values = reinterpret_cast<float*>(a.data.data());
  for (std::int64_t i = 0; i < a.element_count(); ++i) values[i] = normal(rng);
  return a;
}

// Rank 0: the largest |O - O_one_device| (run on its first device alone).
Expected<double> compare_with_one_device(attention::MultiDeviceAttention& local, const distributed::RootInputs& in,
                                         const attention::MultiDeviceOptions& options, const HostArray& out) {
  AAT_TRY(DeviceGroup one, DeviceGroup::from_contexts({local.devices().context(0)}));
  AAT_TRY(attention::MultiDeviceAttention single, attention::MultiDeviceAttention::create(std::move(one)));
  AAT_TRY(auto want, single.run(in.q, in.k, in.v, options));
  const auto* a = reinterpret_cast<const float*>(out.data.data());
  const auto* b = reinterpret_cast<const float*>(want.out.data.data());
  double worst = 0;
  for (std::int64_t i = 0; i < out.element_count(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "fine";
  const int fault_rank = argc > 2 ? std::atoi(argv[2]) : -1;
  const std::string fault_phase = argc > 3 ? argv[3] : "";

  auto comm = distributed::Communicator::world();
  if (!comm) {
    std::fprintf(stderr, "error: %s\n", comm.error().what().c_str());
    return 1;
  }
  const int rank = comm->rank();
  distributed::DistributedOptions options;
  options.attention.causal = true;
  options.attention.mode = attention::ShardMode::keys;
  options.timeout = std::chrono::seconds(3);
  options.on_phase = [&](std::string_view phase) {
    if (rank != fault_rank || phase != fault_phase) return;
    if (scenario == "stall") std::this_thread::sleep_for(std::chrono::minutes(10));
    if (scenario == "exit") {
      std::fflush(stdout);
      _exit(3);
    }
  };

  Expected<attention::MultiDeviceAttention> local = fail(ErrorCode::no_device, "simulated: this rank's device is broken");
  if (!(scenario == "broken" && rank == fault_rank)) {
    auto group = DeviceGroup::create(std::vector<std::string>{"0"});
    local = group ? attention::MultiDeviceAttention::create(std::move(*group))
                  : Expected<attention::MultiDeviceAttention>(std::unexpected(group.error()));
  }
  std::optional<Expected<distributed::RootInputs>> inputs;
  if (rank == 0) {
    std::mt19937 rng(7);
    distributed::RootInputs in;
    in.q = random_array({1, 2, 64, 16}, rng);
    in.k = random_array({1, 2, 64, 16}, rng);
    in.v = random_array({1, 2, 64, 16}, rng);
    inputs = std::move(in);
  }
  auto result = distributed::run_attention(*comm, local, inputs ? &*inputs : nullptr, options);
  if (!result) {
    std::printf("rank %d: error: %s\n", rank, result.error().what().c_str());
    std::fflush(stdout);
    if (comm->broken()) comm->abort(2);
    return 1;
  }
  if (rank == 0) {
    auto worst = compare_with_one_device(*local, **inputs, options.attention, result->out);
    if (!worst) {
      std::printf("rank 0: error: %s\n", worst.error().what().c_str());
      return 1;
    }
    std::printf("rank 0: ok, max |O - one device| = %.3g\n", *worst);
    return *worst <= 1e-5 ? 0 : 1;
  }
  std::printf("rank %d: ok\n", rank);
  return 0;
}
