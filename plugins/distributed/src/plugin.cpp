// The distributed plugin's descriptor and `aat run attention-distributed` (what
// `aat run attention --distributed` hands over to): one process per MPI rank.
#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/attention/input_options.hpp"
#include "aat/distributed/distributed_attention.hpp"
#include "aat/plugin_abi.h"
#include "aat/plugin_define.hpp"

namespace {

using aat::distributed::Communicator;

struct Arguments {
  aat::attention::InputArguments inputs;
  std::string out, lse, bias, devices, split = "auto";
  bool json = false, distributed = false, everywhere = false;
  std::optional<std::uint32_t> splits;
  double timeout = 300;
};

aat::Expected<aat::attention::MultiDeviceAttention> open_devices(const Arguments& args, const Communicator& comm) {
  AAT_TRY(const auto selectors, aat::distributed::rank_devices(comm, args.devices));
  AAT_TRY(aat::DeviceGroup group, aat::DeviceGroup::create(selectors));
  return aat::attention::MultiDeviceAttention::create(std::move(group));
}

aat::Expected<aat::distributed::RootInputs> read_inputs(const Arguments& args, aat::attention::MultiDeviceOptions& options) {
  aat::distributed::RootInputs in;
  AAT_TRY(in.q, aat::read_npy(args.inputs.files.q));
  AAT_TRY(in.k, aat::read_npy(args.inputs.files.k));
  AAT_TRY(in.v, aat::read_npy(args.inputs.files.v));
  if (!args.inputs.files.key_lengths.empty()) {
    AAT_TRY(options.key_lengths, aat::attention::read_key_lengths(args.inputs.files.key_lengths));
  }
  return in;
}

void print_report(const Arguments& args, const aat::distributed::DistributedResult& r, int ranks) {
  nlohmann::json list = nlohmann::json::array();
  double slowest = 0;
  for (const auto& rank : r.ranks)
    for (const auto& d : rank.devices) {
      list.push_back({{"rank", rank.rank}, {"host", rank.host}, {"device", d.device}, {"share", d.share},
                      {"flops", d.flops}, {"gpu_ms", d.gpu_ms}, {"wall_ms", d.wall_ms}});
      slowest = std::max(slowest, d.gpu_ms);
    }
  if (args.json) {
    const nlohmann::json report = {{"kernel", "attention"},
                                   {"distributed", true},
                                   {"ranks", ranks},
                                   {"devices", list},
                                   {"split", to_string(r.plan.mode)},
                                   {"reason", r.plan.reason},
                                   {"imbalance", r.plan.imbalance()},
                                   {"causal", args.inputs.causal},
                                   {"flops", r.flops},
                                   {"slowest_gpu_ms", slowest},
                                   {"data_wall_ms", r.data_wall_ms},
                                   {"merge_wall_ms", r.merge_wall_ms},
                                   {"wall_ms", r.wall_ms},
                                   {"out", args.out}};
    fmt::print("{}\n", report.dump(2));
    return;
  }
  fmt::print("attention over {} rank{} ({} device{}), divided by {} ({}): {:.3f} ms wall (sending {:.3f}, combining "
             "{:.3f}), {:.3g} GFLOP -> {}\n", ranks, ranks == 1 ? "" : "s", list.size(), list.size() == 1 ? "" : "s",
             to_string(r.plan.mode), r.plan.reason, r.wall_ms, r.data_wall_ms, r.merge_wall_ms, r.flops / 1e9, args.out);
  for (const auto& d : list)
    fmt::print("  rank {} device {}: {}, {:.3f} ms GPU, {:.3f} ms wall\n", d["rank"].get<int>(),
               d["device"].get<std::string>(), d["share"].get<std::string>(), d["gpu_ms"].get<double>(),
               d["wall_ms"].get<double>());
}

// Returns the exit status. Problems the ranks agreed on are printed by rank 0 alone; a rank
// whose wait timed out prints what it waited for and ends the whole job.
int run(const Arguments& args) {
  auto comm = Communicator::world();
  if (!comm) {
    std::fprintf(stderr, "aat: error: %s\n", comm.error().what().c_str());
    return 1;
  }
  aat::distributed::DistributedOptions options;
  auto& o = options.attention;
  o.causal = args.inputs.causal;
  o.scale = args.inputs.scale;
  o.splits = args.splits;
  o.mode = aat::attention::parse_shard_mode(args.split).value_or(aat::attention::ShardMode::automatic);
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(args.timeout * 1000));
  // What every rank must agree on. With --inputs-on-every-rank each rank may find its inputs
  // under another path: their shapes are compared instead.
  const aat::attention::InputFiles& files = args.inputs.files;
  nlohmann::json settings{{"out", args.out}, {"lse", args.lse}, {"key_lengths", files.key_lengths}};
  if (!args.everywhere) settings.update({{"q", files.q}, {"k", files.k}, {"v", files.v}});
  options.settings = settings.dump();
  auto local = open_devices(args, *comm);
  options.inputs_on_every_rank = args.everywhere;
  std::optional<aat::Expected<aat::distributed::RootInputs>> inputs;
  if (comm->rank() == 0 || args.everywhere) {
    if (!args.bias.empty()) inputs = aat::fail(aat::ErrorCode::unsupported, "--bias runs on one device only; leave out --distributed");
    else inputs = read_inputs(args, o);
  }
  auto result = aat::distributed::run_attention(*comm, local, inputs ? &*inputs : nullptr, options);
  if (!result) {
    if (comm->broken()) {
      std::fprintf(stderr, "aat: error: %s: %s\n", comm->name_of(comm->rank()).c_str(), result.error().what().c_str());
      std::fflush(stderr);
      comm->abort(1);
    }
    if (comm->rank() == 0) std::fprintf(stderr, "aat: error: %s\n", result.error().what().c_str());
    return 1;
  }
  if (comm->rank() != 0) return 0;
  if (auto saved = aat::write_npy(args.out, result->out); !saved) {
    std::fprintf(stderr, "aat: error: %s\n", saved.error().what().c_str());
    return 1;
  }
  if (!args.lse.empty()) {
    if (auto saved = aat::write_npy(args.lse, result->lse); !saved) {
      std::fprintf(stderr, "aat: error: %s\n", saved.error().what().c_str());
      return 1;
    }
  }
  print_report(args, *result, comm->size());
  return 0;
}

int run_attention_distributed(const aat_host*, int argc, const char* const* argv) {
  CLI::App app{"Exact attention across the ranks of an MPI job, each rank on its own device(s):\n"
               "  mpirun -np N aat run attention --q q.npy --k k.npy --v v.npy --out o.npy --distributed\n"
               "Rank 0 reads the inputs and writes the outputs. Divided by heads when there are enough, else by keys\n"
               "(Q to every rank, K/V sharded, zig-zag under a causal mask) with the partial softmax states of all\n"
               "ranks merged exactly on rank 0. The ranks agree on the shapes and settings before any work; a rank\n"
               "that cannot take part stops all of them with one message; a rank that stalls or dies is named when\n"
               "the --timeout runs out, and the job is ended."};
  Arguments args;
  aat::attention::add_input_options(app, args.inputs);
  app.get_option("--q")->description("Queries [B, Hq, Nq, D] (.npy, f32 or f16; read by rank 0)");
  app.add_option("--out", args.out, "Output O [B, Hq, Nq, D] (.npy, written by rank 0)")->required();
  app.add_option("--lse", args.lse, "Also write the row log-sum-exp L [B, Hq, Nq] (f32 .npy)");
  app.add_option("--bias", args.bias, "Not supported across ranks (an error naming it)");
  app.add_option("--splits", args.splits, "Force the K-split count inside each device's runs");
  app.add_option("--devices", args.devices,
                 "This rank's devices, e.g. 0 or 0,1 (default: the host's GPUs, then CPU devices, dealt out by the "
                 "rank's position on its host)");
  app.add_option("--split", args.split, "auto (default), heads or keys")->check(CLI::IsMember({"auto", "heads", "keys"}));
  app.add_option("--timeout", args.timeout, "Seconds any rank waits for another before naming it and ending the job "
                                            "(default 300)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--inputs-on-every-rank", args.everywhere,
               "Every rank reads the inputs itself (a file system all ranks share): only the partial states travel; "
               "the ranks' shapes must agree");
  app.add_flag("--distributed", args.distributed, "Accepted (what `aat run attention --distributed` passes on)");
  app.add_flag("--json", args.json, "Rank 0 prints a JSON report: every rank's devices, shares and times");
  if (argc > 0) app.name(argv[0]);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return run(args);
}

const aat_plugin_command kCommands[] = {
    {"attention-distributed", "Exact attention across MPI ranks (mpirun -np N aat run attention ... --distributed)",
     &run_attention_distributed},
};

}  // namespace

AAT_DEFINE_PLUGIN(distributed, "0.1.0", "Attention across the ranks of an MPI job: K/V sharded, exact merge", kCommands)
