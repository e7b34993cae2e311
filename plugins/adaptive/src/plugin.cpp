// The adaptive plugin's descriptor and `aat run adaptive-attention`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/adaptive/adaptive.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"
#include "run_on_devices.hpp"

namespace {

using aat::pattern::BlockLevel;

struct Arguments {
  std::string q, k, v, out, lse, key_lengths, map, baseline = "default", estimator = "row", devices, split = "auto";
  bool causal = false, report = false, json = false;
  aat::adaptive::AdaptiveOptions options;
};

nlohmann::json level_shares(const aat::pattern::LevelCounts& counts) {
  nlohmann::json j;
  for (auto level : {BlockLevel::full, BlockLevel::pool2, BlockLevel::pool4, BlockLevel::skip})
    j[std::string(aat::pattern::to_string(level))] = counts.share(level);
  return j;
}

aat::Expected<void> run(const std::shared_ptr<aat::Context>& context, Arguments& args, aat::Progress& progress) {
  if (!args.devices.empty()) {
    if (args.report || !args.map.empty())
      return aat::fail(aat::ErrorCode::unsupported, "--report and --map run on one device only; leave out --devices");
    args.options.causal = args.causal;
    args.options.estimator = args.estimator == "tile" ? aat::pattern::Estimator::tile : aat::pattern::Estimator::row;
    return aat::adaptive::run_on_devices({args.q, args.k, args.v, args.out, args.lse, args.key_lengths, args.devices,
                                          args.split, args.json, args.options});
  }
  progress.stage("reading q, k, v", 3);
  AAT_TRY(auto q, aat::Tensor::load_npy(context, args.q));
  progress.advance(1);
  AAT_TRY(auto k, aat::Tensor::load_npy(context, args.k));
  progress.advance(2);
  AAT_TRY(auto v, aat::Tensor::load_npy(context, args.v));
  auto& o = args.options;
  o.causal = args.causal;
  o.estimator = args.estimator == "tile" ? aat::pattern::Estimator::tile : aat::pattern::Estimator::row;
  aat::Tensor lengths;
  if (!args.key_lengths.empty()) {
    AAT_TRY(lengths, aat::Tensor::load_npy(context, args.key_lengths));
    o.key_lengths = &lengths;
  }
  progress.stage(fmt::format("adaptive attention (pattern, router, attention, merge) on {}", context->device().name));
  AAT_TRY(auto adaptive, aat::adaptive::AdaptiveAttention::create(context));
  AAT_TRY(auto result, adaptive.run(q, k, v, o));
  progress.stage("writing " + args.out);
  AAT_CHECK(result.out.save_npy(args.out));
  if (!args.lse.empty()) {
    AAT_CHECK(result.lse.save_npy(args.lse));
  }
  if (!args.map.empty()) {
    AAT_CHECK(result.map.levels.save_npy(args.map));
  }
  std::optional<aat::adaptive::Report> report;
  if (args.report) {
    progress.stage("exact attention for the report");
    std::optional<aat::attention::KernelPath> path;
    if (args.baseline == "scalar") path = aat::attention::KernelPath::scalar;
    AAT_TRY(report, adaptive.report(q, k, v, o, result, path));
  }
  progress.done();
  const auto& levels = result.cost.levels;
  if (args.json) {
    nlohmann::json j = {{"kernel", "adaptive-attention"},
                        {"device", context->device().name},
                        {"dtype", aat::to_string(q.dtype())},
                        {"shape", {{"q", q.shape()}, {"k", k.shape()}}},
                        {"causal", args.causal},
                        {"mass", o.mass},
                        {"cer", result.cer()},
                        {"levels", level_shares(levels)},
                        {"gpu_ms", result.gpu_ms},
                        {"stages_ms",
                         {{"pattern", result.stages.pattern},
                          {"router", result.stages.router},
                          {"attention", result.stages.attention},
                          {"merge", result.stages.merge}}},
                        {"dense_flops", result.cost.dense_flops},
                        {"executed_flops", result.executed_flops()},
                        {"tiles", {{"block_q", result.block_q}, {"block_k", o.block_k}, {"block_kv", result.block_kv},
                                   {"workgroup", result.workgroup}, {"item_slots", result.item_slots},
                                   {"items", result.items}}},
                        {"out", args.out}};
    if (report) {
      j["ifq"] = report->ifq;
      j["ae"] = report->ae;
      j["dense_gpu_ms"] = report->dense_gpu_ms;
      j["baseline"] = report->baseline;
    }
    fmt::print("{}\n", j.dump(2));
    return {};
  }
  fmt::print("adaptive attention {} -> {} on {}: {:.3f} ms GPU (pattern {:.3f}, router {:.3f}, attention {:.3f}, "
             "merge {:.3f}); CER {:.2f}; blocks full {:.1f}% pool2 {:.1f}% pool4 {:.1f}% skip {:.1f}%\n",
             q.describe(), args.out, context->device().name, result.gpu_ms, result.stages.pattern, result.stages.router,
             result.stages.attention, result.stages.merge, result.cer(), 100 * levels.share(BlockLevel::full),
             100 * levels.share(BlockLevel::pool2), 100 * levels.share(BlockLevel::pool4),
             100 * levels.share(BlockLevel::skip));
  if (report)
    fmt::print("IFQ {:.5f}  CER {:.2f}  AE {:.2f}  (exact attention, {} path: {:.3f} ms GPU)\n", report->ifq, report->cer,
               report->ae, report->baseline, report->dense_gpu_ms);
  return {};
}

int run_adaptive(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"Adaptive attention: pattern (block densities from tile means) -> router (balanced work items,\n"
               "pooled keys for coarse blocks) -> attention over the plan -> exact merge. With --mass 1 every\n"
               "visible block is full: exact attention. Shapes and masks as `aat run attention`.\n"
               "Example: aat run adaptive-attention --q q.npy --k k.npy --v v.npy --out o.npy --causal --report"};
  Arguments args;
  auto& o = args.options;
  app.add_option("--q", args.q, "Queries [B, Hq, Nq, D] (.npy, f32 or f16)")->required();
  app.add_option("--k", args.k, "Keys [B, Hkv, Nk, D] (.npy)")->required();
  app.add_option("--v", args.v, "Values [B, Hkv, Nk, D] (.npy)")->required();
  app.add_option("--out", args.out, "Output O [B, Hq, Nq, D] (.npy)")->required();
  app.add_option("--lse", args.lse, "Also write the row log-sum-exp L [B, Hq, Nq] (f32 .npy)");
  app.add_option("--map", args.map, "Also write the block map (levels, u8 .npy)");
  app.add_flag("--causal", args.causal, "Causal mask, bottom-right aligned");
  app.add_option("--scale", o.scale, "Score scale (default 1/sqrt(D))");
  app.add_option("--key-lengths", args.key_lengths, "i32 [B] .npy: keys j >= length[b] are masked");
  app.add_option("--mass", o.mass, fmt::format("Mass share kept at full resolution (default {})", o.mass));
  app.add_option("--pool2-share", o.pool2_share, "Share of the rest pooled x2 (default 0.5)");
  app.add_option("--pool4-share", o.pool4_share, "Share of the rest pooled x4 (default 0.25)");
  app.add_option("--block-k", o.block_k, "Keys per tile of the block map (default 64)");
  app.add_option("--item-slots", o.item_slots, "Router: key slots per work item (default: from the device)");
  app.add_option("--halo", o.halo, "Key tiles beside a block ranked full kept full (default 1)");
  app.add_option("--estimator", args.estimator, "Pattern: row (default) or tile")->check(CLI::IsMember({"row", "tile"}));
  app.add_flag_callback("--no-variance", [&o] { o.variance = false; }, "Pattern: leave out the variance term of the block scores");
  app.add_option("--variance-cap", o.variance_cap, "Largest variance term of a block score (default 8)");
  app.add_flag("--report", args.report, "Also run exact attention and print IFQ, CER, AE and the level shares");
  app.add_option("--baseline", args.baseline, "Exact kernel for --report: default or scalar (default: default)")
      ->check(CLI::IsMember({"default", "scalar"}));
  app.add_flag("--json", args.json, "Print a JSON report (ifq and ae with --report)");
  app.add_option("--devices", args.devices,
                 "Run on several devices of this process, e.g. 0,1 (an index may repeat: two contexts on one device); "
                 "each device gives what one device gives for its rows");
  app.add_option("--split", args.split, "With --devices: auto (default), heads, or queries (causal only)")
      ->check(CLI::IsMember({"auto", "heads", "queries"}));
  return aat::run_plugin_command(app, host, argc, argv,
                                 [&](const std::shared_ptr<aat::Context>& context, aat::Progress& progress) {
                                   return run(context, args, progress);
                                 });
}

const aat_plugin_command kCommands[] = {
    {"adaptive-attention", "Adaptive attention: pattern -> router -> attention over the plan -> merge (IFQ/CER/AE with --report)",
     &run_adaptive},
};

}  // namespace

AAT_DEFINE_PLUGIN(adaptive, "0.1.0", "Adaptive attention composed from the pattern and router plugins", kCommands)
