// The adaptive plugin's descriptor and `aat run adaptive-attention`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/adaptive/adaptive.hpp"
#include "aat/adaptive/families.hpp"
#include "aat/attention/input_options.hpp"
#include "aat/npy.hpp"
#include "aat/tensor_npy.hpp"
#include "aat/pattern/qkv_files.hpp"
#include "aat/pattern/rule_options.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"
#include "adaptive_op.hpp"
#include "run_on_devices.hpp"

namespace {

using aat::pattern::BlockLevel;

struct Arguments {
  aat::attention::InputArguments inputs;
  std::string out, lse, map, baseline = "default", kernel = "auto", estimator = "row", devices, split = "auto", mode;
  bool report = false, json = false;
  aat::adaptive::AdaptiveOptions options;
};

nlohmann::json level_shares(const aat::pattern::LevelCounts& counts) {
  nlohmann::json j;
  for (auto level : {BlockLevel::full, BlockLevel::pool2, BlockLevel::pool4, BlockLevel::skip})
    j[std::string(aat::pattern::to_string(level))] = counts.share(level);
  return j;
}

aat::Expected<void> run(const std::shared_ptr<aat::Context>& context, const CLI::App& app, Arguments& args,
                        aat::Progress& progress) {
  AAT_CHECK(aat::pattern::resolve_rule(app, args.options, args.mode));
  if (args.kernel != "auto") args.options.path = aat::attention::parse_kernel_path(args.kernel);
  if (!args.devices.empty()) {
    if (args.report || !args.map.empty())
      return aat::fail(aat::ErrorCode::unsupported, "--report and --map run on one device only; leave out --devices");
    args.options.causal = args.inputs.causal;
    args.options.scale = args.inputs.scale;
    args.options.estimator = args.estimator == "tile" ? aat::pattern::Estimator::tile : aat::pattern::Estimator::row;
    const auto& files = args.inputs.files;
    return aat::adaptive::run_on_devices({files.q, files.k, files.v, args.out, args.lse, files.key_lengths, args.devices,
                                          args.split, args.json, args.options});
  }
  AAT_TRY(const auto in, aat::attention::read_input_files(context, args.inputs.files, progress));
  const aat::Tensor& q = in.q;
  const aat::Tensor& k = in.k;
  const aat::Tensor& v = in.v;
  auto& o = args.options;
  static_cast<aat::attention::AttentionMask&>(o) = in.mask(args.inputs.causal, args.inputs.scale);
  o.estimator = args.estimator == "tile" ? aat::pattern::Estimator::tile : aat::pattern::Estimator::row;
  progress.stage(fmt::format("adaptive attention (pattern, router, attention, merge) on {}", context->device().name));
  AAT_TRY(auto adaptive, aat::adaptive::AdaptiveAttention::create(context));
  AAT_TRY(auto result, adaptive.run(q, k, v, o));
  progress.stage("writing " + args.out);
  AAT_CHECK(write_npy(args.out, result.out));
  if (!args.lse.empty()) {
    AAT_CHECK(write_npy(args.lse, result.lse));
  }
  if (!args.map.empty()) {
    AAT_CHECK(write_npy(args.map, result.map.levels));
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
                        {"causal", args.inputs.causal},
                        {"mode", aat::pattern::to_string(o.mode)},
                        {o.mode == aat::pattern::Mode::bound ? "epsilon" : "mass",
                         o.mode == aat::pattern::Mode::bound ? o.epsilon : o.mass},
                        {"exact", result.exact},
                        {"planned_cer", result.planned_cer()},
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
                                   {"workgroup", result.workgroup}, {"path", result.path}, {"item_slots", result.item_slots},
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
  if (result.exact)
    fmt::print("adaptive attention {} -> {} on {}: exact attention ({} path; the map's predicted CER {:.2f} is below "
               "{}): {:.3f} ms GPU (pattern {:.3f}, exact {:.3f}); CER {:.2f}\n",
               q.describe(), args.out, context->device().name, result.exact_path, result.planned_cer(),
               o.exact_below_cer, result.gpu_ms, result.stages.pattern, result.stages.attention, result.cer());
  else
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
  CLI::App app{"Adaptive attention: pattern (block estimates from tile means and variances) -> router (balanced\n"
               "work items, pooled keys for coarse blocks) -> attention over the plan -> exact merge. Levels by the\n"
               "bound rule (--epsilon, default) or the mass rule (--mass). When the map saves too little (predicted\n"
               "CER below --exact-below-cer) exact attention runs instead. Shapes and masks as `aat run attention`.\n"
               "Example: aat run adaptive-attention --q q.npy --k k.npy --v v.npy --out o.npy --causal --report"};
  Arguments args;
  auto& o = args.options;
  aat::attention::add_input_options(app, args.inputs);
  app.add_option("--out", args.out, "Output O [B, Hq, Nq, D] (.npy)")->required();
  app.add_option("--lse", args.lse, "Also write the row log-sum-exp L [B, Hq, Nq] (f32 .npy)");
  app.add_option("--map", args.map, "Also write the block map (levels, u8 .npy)");
  aat::pattern::add_rule_options(app, o, args.mode);
  app.add_option("--exact-below-cer", o.exact_below_cer,
                 fmt::format("Run exact attention instead when the map's predicted CER is below this (default {}; "
                             "0: always the plan)", o.exact_below_cer));
  app.add_option("--block-k", o.block_k, "Keys per tile of the block map (default 64)");
  app.add_option("--item-slots", o.item_slots, "Router: key slots per work item (default: from the device)");
  app.add_option("--kernel", args.kernel,
                 "The plan's kernel: auto (default: tensor cores where the device runs them), cooperative_matrix2 "
                 "(f16, D <= 128, 64-key tiles) or scalar")
      ->check(CLI::IsMember({"auto", "cooperative_matrix2", "scalar"}));
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
                                   return run(context, app, args, progress);
                                 });
}

int run_inputs(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"Writes Q, K, V (.npy, [1, H, N, D]) of an input family adaptive attention was not designed on:\n"
               "rotary (smooth positional decay), sinks_window, needles, documents (block-diagonal), gaussian;\n"
               "aat/adaptive/families.hpp and docs/adaptive.md describe each.\n"
               "Example: aat run adaptive-inputs --family rotary --length 8192 --prefix r_"};
  std::string family = "rotary", prefix, dtype = "f32";
  std::int64_t heads = 1, length = 1024, head_dim = 64;
  std::uint32_t seed = 1;
  std::vector<std::string> names;
  for (const auto f : aat::adaptive::families::kFamilies) names.emplace_back(aat::adaptive::families::to_string(f));
  app.add_option("--family", family, "rotary, sinks_window, needles, documents or gaussian (default rotary)")
      ->check(CLI::IsMember(names));
  app.add_option("--prefix", prefix, "Write PREFIXq.npy, PREFIXk.npy, PREFIXv.npy")->required();
  app.add_option("--heads", heads, "H (default 1)")->check(CLI::PositiveNumber);
  app.add_option("--length", length, "N (default 1024)")->check(CLI::PositiveNumber);
  app.add_option("--head-dim", head_dim, "D, even, at least 16 (default 64)");
  app.add_option("--seed", seed, "Random seed (default 1)");
  app.add_option("--dtype", dtype, "f32 or f16 (default f32)")->check(CLI::IsMember({"f32", "f16"}));
  return aat::run_plugin_command(app, host, argc, argv, [&](const std::shared_ptr<aat::Context>&) -> aat::Expected<void> {
    aat::adaptive::families::Qkv qkv;
    try {
      qkv = aat::adaptive::families::generate(*aat::adaptive::families::parse_family(family), heads, length, head_dim, seed);
    } catch (const std::exception& e) {
      return aat::fail(aat::ErrorCode::invalid_argument, e.what());
    }
    const std::vector<std::int64_t> shape{1, heads, length, head_dim};
    AAT_CHECK(aat::pattern::write_qkv_npy(prefix, dtype == "f16" ? aat::DType::f16 : aat::DType::f32, shape, qkv.q,
                                          qkv.k, qkv.v));
    fmt::print("wrote {}{{q,k,v}}.npy ({} {} [{}])\n", prefix, family, dtype, aat::shape_to_string(shape));
    return {};
  });
}

const aat_plugin_command kCommands[] = {
    {"adaptive-attention", "Adaptive attention: pattern -> router -> attention over the plan -> merge (IFQ/CER/AE with --report)",
     &run_adaptive},
    {"adaptive-inputs", "Q, K, V .npy files of an input family: rotary, sinks_window, needles, documents, gaussian",
     &run_inputs},
};

const aat::OpTable& ops() {
  static const aat::OpTable table({&aat::adaptive::adaptive_op()});
  return table;
}

}  // namespace

AAT_DEFINE_PLUGIN(adaptive, "0.1.0", "Adaptive attention composed from the pattern and router plugins", ops(),
                  kCommands)
