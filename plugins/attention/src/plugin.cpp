// The attention plugin's descriptor: the op `attention` (attention_op.cpp) and the command of the
// same name, which takes the options the op does not have (--devices, --split, --distributed).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/attention/attention.hpp"
#include "aat/attention/input_options.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"
#include "aat/tensor_npy.hpp"
#include "attention_op.hpp"
#include "run_on_devices.hpp"

namespace {

struct Arguments {
  aat::attention::InputArguments inputs;
  std::string out, lse, bias, devices, split = "auto";
  bool distributed = false;
  bool json = false;
  std::optional<std::uint32_t> splits;
};

aat::Expected<void> run(const std::shared_ptr<aat::Context>& context, const Arguments& args, aat::Progress& progress) {
  if (!args.devices.empty()) {
    if (!args.bias.empty())
      return aat::fail(aat::ErrorCode::unsupported, "--bias runs on one device only; leave out --devices");
    return aat::attention::run_on_devices({args.inputs.files.q, args.inputs.files.k, args.inputs.files.v, args.out, args.lse,
                                           args.inputs.files.key_lengths, args.devices, args.split,
                                           args.inputs.causal, args.json, args.inputs.scale, args.splits});
  }
  AAT_TRY(const auto in, aat::attention::read_input_files(context, args.inputs.files, progress));
  const aat::Tensor& q = in.q;
  const aat::Tensor& k = in.k;
  auto options = aat::attention::AttentionOptions::with_mask(in.mask(args.inputs.causal, args.inputs.scale));
  options.splits = args.splits;
  aat::Tensor bias;
  if (!args.bias.empty()) {
    AAT_TRY(bias, aat::read_npy_tensor(context, args.bias));
    options.bias = &bias;
  }
  progress.stage(fmt::format("attention on {}", context->device().name));
  AAT_TRY(auto attention, aat::attention::Attention::create(context));
  AAT_TRY(auto result, attention.run(q, k, in.v, options));
  progress.stage("writing " + args.out);
  AAT_CHECK(write_npy(args.out, result.out));
  if (!args.lse.empty()) {
    AAT_CHECK(write_npy(args.lse, result.lse));
  }
  progress.done();
  if (args.splits && result.tiling.splits != *args.splits)
    fmt::print(stderr, "aat: note: --splits {} clamped to {}: Nk = {} keys make {} key tiles of Bc = {}, one split each\n",
               *args.splits, result.tiling.splits, k.dim(2), result.tiling.splits, result.tiling.block_kv);
  if (args.json) {
    nlohmann::json report = {{"kernel", "attention"},
                             {"device", context->device().name},
                             {"dtype", aat::to_string(q.dtype())},
                             {"shape", {{"q", q.shape()}, {"k", k.shape()}}},
                             {"causal", args.inputs.causal},
                             {"tiling", nlohmann::json::parse(result.tiling.to_json())},
                             {"flops", result.flops},
                             {"gpu_ms", result.gpu_ms},
                             {"tflops", result.gpu_ms > 0 ? result.flops / (result.gpu_ms * 1e9) : 0.0},
                             {"out", args.out}};
    fmt::print("{}\n", report.dump(2));
  } else {
    fmt::print("attention {} -> {} on {}: {:.3f} ms GPU, {:.3g} GFLOP (Br={} Bc={} splits={})\n", q.describe(),
               args.out, context->device().name, result.gpu_ms, result.flops / 1e9, result.tiling.block_q,
               result.tiling.block_kv, result.tiling.splits);
  }
  return {};
}

int run_attention(const aat_host* host, int argc, const char* const* argv) {
  if (aat::attention::wants_distributed(argc, argv))
    return aat::attention::forward_to_command("attention-distributed", host, argc, argv);
  CLI::App app{"Exact attention O = softmax(scale * Q K^T + mask) V, FlashAttention-style.\n"
               "Q [B, Hq, Nq, D], K and V [B, Hkv, Nk, D] as .npy (f32 or f16; the output follows Q's dtype),\n"
               "Hq a multiple of Hkv, D a multiple of 8 up to 256. A row with no visible key gives O = 0, L = -inf.\n"
               "Example: aat run attention --q q.npy --k k.npy --v v.npy --out o.npy --causal --json"};
  Arguments args;
  aat::attention::add_input_options(app, args.inputs);
  app.add_option("--out", args.out, "Output O [B, Hq, Nq, D] (.npy)")->required();
  app.add_option("--lse", args.lse, "Also write the row log-sum-exp L [B, Hq, Nq] (f32 .npy)");
  app.add_option("--bias", args.bias, "f32 .npy broadcastable from [B or 1, H or 1, Nq, Nk], added to the scores");
  app.add_option("--splits", args.splits,
                 "Force the K-split count (default: chosen by optimize_tiling). At most one split per key tile "
                 "(more are clamped, with a note); on a CPU device at least what llvmpipe's loop limit needs "
                 "(fewer are refused)");
  app.add_flag("--json", args.json, "Print a JSON report: kernel, device, tiling, flops, gpu_ms");
  app.add_option("--devices", args.devices,
                 "Run on several devices of this process, e.g. 0,1 (an index may repeat: two contexts on one device); "
                 "divided by heads when there are enough, else by keys with an exact merge");
  app.add_option("--split", args.split, "With --devices: auto (default), heads or keys")
      ->check(CLI::IsMember({"auto", "heads", "keys"}));
  app.add_flag("--distributed", args.distributed,
               "Run across MPI ranks (mpirun -np N aat run attention ... --distributed): Q broadcast, K/V sharded, "
               "partial states merged exactly; see `aat run attention-distributed --help`");
  return aat::run_plugin_command(app, host, argc, argv,
                                 [&](const std::shared_ptr<aat::Context>& context, aat::Progress& progress) {
                                   return run(context, args, progress);
                                 });
}

const aat_plugin_command kCommands[] = {
    {"attention", "Exact tiled attention on .npy inputs, also on several devices (--devices) or MPI ranks (--distributed)",
     &run_attention},
};

const aat::OpTable& ops() {
  static const aat::OpTable table({&aat::attention::attention_op()});
  return table;
}

}  // namespace

AAT_DEFINE_PLUGIN(attention, "0.1.0", "Exact tiled attention with adaptive tile choice and exact split-K merge",
                  ops(), kCommands)
