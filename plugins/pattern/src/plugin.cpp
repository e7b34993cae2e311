// The pattern plugin's descriptor, `aat run pattern` and `aat run attention-inputs`.
#include <charconv>
#include <new>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/attention/input_options.hpp"
#include "aat/dtype.hpp"
#include "aat/npy.hpp"
#include "aat/tensor_npy.hpp"
#include "aat/pattern/pattern.hpp"
#include "aat/pattern/qkv_files.hpp"
#include "aat/pattern/rule_options.hpp"
#include "aat/pattern/synthetic.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"

namespace {

using aat::pattern::BlockLevel;

nlohmann::json levels_json(const aat::pattern::LevelCounts& counts) {
  nlohmann::json j;
  for (int l = 0; l < aat::pattern::kLevelCount; ++l) {
    const auto level = static_cast<BlockLevel>(l);
    if (level == BlockLevel::masked) continue;
    j[std::string(aat::pattern::to_string(level))] = counts.share(level);
  }
  return j;
}

struct PatternArguments {
  aat::attention::InputArguments inputs;
  std::string map, density, mode;
  bool json = false;
  aat::pattern::PatternOptions options;
};

int run_pattern(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"The block map of adaptive attention: per (query tile, key tile) block the estimated attention mass\n"
               "from pooled tiles and a level (0 full, 1 pooled x2, 2 pooled x4, 3 skipped, 4 masked), by the\n"
               "bound rule (--epsilon, the default) or the mass rule (--mass).\n"
               "Example: aat run pattern --q q.npy --k k.npy --causal --epsilon 0.01 --map map.npy --json"};
  PatternArguments args;
  auto& o = args.options;
  aat::attention::add_input_options(app, args.inputs, false);
  app.add_option("--map", args.map, "Output: levels, u8 [B, Hq, ceil(Nq/Br), ceil(Nk/Bc)] (.npy)")->required();
  app.add_option("--density", args.density, "Output: estimated mass share per block, f32, same shape (.npy)");
  aat::pattern::add_rule_options(app, o, args.mode);
  app.add_option("--block-q", o.block_q, "Query rows per tile (default 32)");
  app.add_option("--block-k", o.block_k, "Keys per tile (default 64)");
  app.add_option("--sink-tiles", o.sink_tiles, "Leading key tiles always full (default 1)");
  app.add_option("--halo", o.halo, "Key tiles beside a block ranked full kept full (default 1)");
  std::string estimator = "row";
  app.add_option("--estimator", estimator, "row (per query row, default) or tile (the tile's mean query)")
      ->check(CLI::IsMember({"row", "tile"}))
      ->each([&](const std::string& e) { o.estimator = e == "tile" ? aat::pattern::Estimator::tile : aat::pattern::Estimator::row; });
  app.add_flag_callback("--no-variance", [&o] { o.variance = false; }, "Leave out the variance term of the block scores");
  app.add_option("--variance-cap", o.variance_cap, "Largest variance term of a block score (default 8)");
  app.add_option("--local-window", o.local_window, "Keys around the diagonal always full (default: block-k)");
  app.add_flag("--json", args.json, "Print a JSON report");
  return aat::run_plugin_command(app, host, argc, argv, [&](const std::shared_ptr<aat::Context>& context)
                                                            -> aat::Expected<void> {
    AAT_CHECK(aat::pattern::resolve_rule(app, o, args.mode));
    aat::Progress quiet;
    AAT_TRY(const auto in, aat::attention::read_input_files(context, args.inputs.files, quiet));
    const aat::Tensor& q = in.q;
    const aat::Tensor& k = in.k;
    static_cast<aat::attention::AttentionMask&>(o) = in.mask(args.inputs.causal, args.inputs.scale);
    AAT_TRY(auto pattern, aat::pattern::Pattern::create(context));
    AAT_TRY(auto result, pattern.run(q, k, o));
    AAT_CHECK(write_npy(args.map, result.map.levels));
    if (!args.density.empty()) {
      AAT_CHECK(write_npy(args.density, result.map.density));
    }
    const auto& cost = result.cost;
    if (args.json) {
      nlohmann::json report = {{"kernel", "pattern"},
                               {"device", context->device().name},
                               {"grid", result.map.grid.describe()},
                               {"block_q", o.block_q},
                               {"block_k", o.block_k},
                               {"mode", aat::pattern::to_string(o.mode)},
                               {o.mode == aat::pattern::Mode::bound ? "epsilon" : "mass",
                                o.mode == aat::pattern::Mode::bound ? o.epsilon : o.mass},
                               {"dense_flops", cost.dense_flops},
                               {"predicted_flops", cost.predicted_flops()},
                               {"cer", cost.cer()},
                               {"levels", levels_json(cost.levels)},
                               {"gpu_ms", result.gpu_ms},
                               {"stages_ms", result.stages_ms},
                               {"map", args.map}};
      fmt::print("{}\n", report.dump(2));
    } else {
      fmt::print("pattern {} -> {} on {}: {:.3f} ms GPU; predicted {:.3g} of {:.3g} dense GFLOP (CER {:.2f}); "
                 "full {:.1f}% pool2 {:.1f}% pool4 {:.1f}% skip {:.1f}% of visible blocks\n",
                 result.map.grid.describe(), args.map, context->device().name, result.gpu_ms,
                 cost.predicted_flops() / 1e9, cost.dense_flops / 1e9, cost.cer(),
                 100 * cost.levels.share(BlockLevel::full), 100 * cost.levels.share(BlockLevel::pool2),
                 100 * cost.levels.share(BlockLevel::pool4), 100 * cost.levels.share(BlockLevel::skip));
    }
    return {};
  });
}

// CLI11 check: an integer of at least 1 (named in CLI11's message with the option).
const CLI::Validator at_least_one(
    [](std::string& text) -> std::string {
      std::int64_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size() || value < 1) return "'" + text + "' is not a whole number of at least 1";
      return {};
    },
    "INT>=1");

int run_inputs(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"Writes synthetic Q, K, V (.npy, [B, H, N, D]) for adaptive attention: 'gaussian' (iid N(0,1)) or\n"
               "'structured' (attention sinks, a local band and long-range retrieval passages; docs/adaptive.md).\n"
               "Example: aat run attention-inputs --kind structured --length 4096 --prefix s_"};
  std::string kind = "structured", prefix;
  std::string dtype = "f32";
  aat::pattern::StructuredSpec spec;
  app.add_option("--kind", kind, "gaussian or structured (default structured)")
      ->check(CLI::IsMember({"gaussian", "structured"}));
  app.add_option("--prefix", prefix, "Write PREFIXq.npy, PREFIXk.npy, PREFIXv.npy")->required();
  app.add_option("--batch", spec.batch, "B (default 1)")->check(at_least_one);
  app.add_option("--heads", spec.heads, "H (default 1)")->check(at_least_one);
  app.add_option("--length", spec.length, "N (default 1024)")->check(at_least_one);
  app.add_option("--head-dim", spec.head_dim, "D (default 64)")->check(at_least_one);
  app.add_option("--seed", spec.seed, "Random seed (default 1)");
  app.add_option("--dtype", dtype, "f32 or f16 (default f32)")->check(CLI::IsMember({"f32", "f16"}));
  app.add_option("--noise", spec.noise, "structured: background logit std (default 1)");
  app.add_option("--sinks", spec.sinks, "structured: sink keys (default 4)");
  app.add_option("--sink-logit", spec.sink_logit, "structured: sink logit (default 12)");
  app.add_option("--local-logit", spec.local_logit, "structured: peak local logit (default 18)");
  app.add_option("--local-width", spec.local_width, "structured: local correlation length in tokens (default 32)");
  app.add_option("--local-dims", spec.local_dims, "structured: coordinates of the local walk (default 3D/4)");
  app.add_option("--retrievals", spec.retrievals, "structured: retrieval passages (default 4, at most D/8)");
  app.add_option("--retrieval-logit", spec.retrieval_logit, "structured: retrieval logit (default 14)");
  return aat::run_plugin_command(app, host, argc, argv, [&](const std::shared_ptr<aat::Context>&,
                                                            aat::Progress& progress) -> aat::Expected<void> {
    progress.stage(fmt::format("generating {} q, k, v [{}, {}, {}, {}]", kind, spec.batch, spec.heads, spec.length,
                               spec.head_dim));
    aat::pattern::HostQkv qkv;
    try {
      qkv = kind == "gaussian"
                ? aat::pattern::gaussian_inputs(spec.batch, spec.heads, spec.length, spec.head_dim, spec.seed)
                : aat::pattern::structured_inputs(spec);
    } catch (const std::bad_alloc&) {
      const double gib = 3.0 * 4.0 * static_cast<double>(spec.batch * spec.heads * spec.length * spec.head_dim) /
                         static_cast<double>(1ull << 30);
      return aat::fail(aat::ErrorCode::out_of_memory,
                       fmt::format("not enough host memory for q, k and v [{}, {}, {}, {}] ({:.1f} GiB of f32)",
                                   spec.batch, spec.heads, spec.length, spec.head_dim, gib));
    } catch (const std::exception& e) {
      return aat::fail(aat::ErrorCode::invalid_argument, e.what());
    }
    const auto shape = qkv.shape();
    progress.stage("writing " + prefix + "{q,k,v}.npy", 3);
    AAT_CHECK(aat::pattern::write_qkv_npy(prefix, dtype == "f16" ? aat::DType::f16 : aat::DType::f32, shape, qkv.q,
                                          qkv.k, qkv.v, [&](int n) { progress.advance(n); }));
    progress.done();
    fmt::print("wrote {}{{q,k,v}}.npy ({} {} [{}])\n", prefix, kind, dtype, aat::shape_to_string(shape));
    return {};
  });
}

const aat_plugin_command kCommands[] = {
    {"pattern", "Block map of adaptive attention: estimated mass and level per (query tile, key tile)", &run_pattern},
    {"attention-inputs", "Synthetic Q, K, V .npy files: gaussian or structured (sinks, local, retrieval)", &run_inputs},
};

}  // namespace

AAT_DEFINE_PLUGIN(pattern, "0.1.0", "Adaptive attention's pattern: block densities from pooled tiles and levels",
                  kCommands)
