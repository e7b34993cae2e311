// The router plugin's descriptor and `aat run route`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/npy.hpp"
#include "aat/tensor_npy.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"
#include "aat/router/router.hpp"

namespace {

struct Arguments {
  std::string map, key_lengths, plan;
  std::int64_t q_len = 0, kv_len = 0;
  std::uint32_t block_q = 32, block_k = 64, item_slots = 0;
  bool causal = false, json = false;
};

aat::Expected<void> run(const std::shared_ptr<aat::Context>& context, const Arguments& args) {
  AAT_TRY(auto levels, aat::read_npy_tensor(context, args.map));
  if (levels.dtype() != aat::DType::u8 || levels.rank() != 4)
    return aat::fail(aat::ErrorCode::invalid_argument,
                     fmt::format("the map must be u8 [B, H, Tq, Tk] (aat run pattern --map), got {}", levels.describe()));
  aat::attention::AttentionShape shape;
  shape.batch = levels.dim(0);
  shape.q_heads = shape.kv_heads = levels.dim(1);
  shape.q_len = args.q_len;
  shape.kv_len = args.kv_len;
  shape.causal = args.causal;
  std::vector<std::int32_t> lengths;
  if (!args.key_lengths.empty()) {
    AAT_TRY(auto array, aat::read_npy(args.key_lengths));
    AAT_TRY(auto values, array.as<std::int32_t>());
    lengths.assign(values.begin(), values.end());
  }
  aat::pattern::BlockMap map;
  map.levels = levels;
  map.grid = aat::pattern::BlockGrid::make(shape, args.block_q, args.block_k, lengths);
  if (map.grid.tiles_q != levels.dim(2) || map.grid.tiles_k != levels.dim(3))
    return aat::fail(aat::ErrorCode::invalid_argument,
                     fmt::format("a map for Nq = {}, Nk = {} with {}x{} tiles has {}x{} blocks per head, got {}", args.q_len,
                                 args.kv_len, args.block_q, args.block_k, map.grid.tiles_q, map.grid.tiles_k,
                                 levels.describe()));
  AAT_TRY(auto router, aat::router::Router::create(context));
  AAT_TRY(auto stream, aat::Stream::create(context));
  aat::router::RouterOptions options;
  options.item_slots = args.item_slots;
  AAT_TRY(auto plan, router.record_plan(stream, map, options));
  AAT_CHECK(stream.run());
  AAT_TRY(auto stats, router.stats(plan));
  if (!args.plan.empty()) {
    AAT_TRY(auto items, plan.items.to_host());
    items.shape[0] = std::min<std::int64_t>(items.shape[0], stats.items);
    items.data.resize(static_cast<std::size_t>(items.shape[0] * 4 * 4));
    AAT_CHECK(aat::write_npy(args.plan, items));
  }
  if (args.json) {
    nlohmann::json report = {{"kernel", "router"},
                             {"device", context->device().name},
                             {"grid", map.grid.describe()},
                             {"item_slots", plan.item_slots},
                             {"items", stats.items},
                             {"kept_blocks", stats.kept_blocks},
                             {"total_slots", stats.total_slots},
                             {"split_row_tiles", stats.split_rows},
                             {"partial_slots", stats.partial_slots},
                             {"item_slots_min", stats.min_item_slots},
                             {"item_slots_max", stats.max_item_slots},
                             {"item_slots_mean", stats.mean_item_slots},
                             {"balance", stats.balance()},
                             {"gpu_ms", stream.total_gpu_ms()}};
    fmt::print("{}\n", report.dump(2));
  } else {
    fmt::print("route {}: {} kept blocks, {} key slots in {} items (item slots {}..{}, mean {:.1f}, max/mean {:.2f}); "
               "{} query tiles split; {:.3f} ms GPU\n", map.grid.describe(), stats.kept_blocks, stats.total_slots,
               stats.items, stats.min_item_slots, stats.max_item_slots, stats.mean_item_slots, stats.balance(),
               stats.split_rows, stream.total_gpu_ms());
  }
  return {};
}

int run_route(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"The cross-tile router: a block map (aat run pattern --map) -> balanced work items.\n"
               "Example: aat run route --map map.npy --q-len 4096 --kv-len 4096 --causal --item-slots 512 --json"};
  Arguments args;
  app.add_option("--map", args.map, "Levels u8 [B, H, Tq, Tk] (.npy)")->required();
  app.add_option("--q-len", args.q_len, "Nq")->required()->check(CLI::PositiveNumber);
  app.add_option("--kv-len", args.kv_len, "Nk")->required()->check(CLI::PositiveNumber);
  app.add_option("--block-q", args.block_q, "Query rows per tile of the map (default 32)");
  app.add_option("--block-k", args.block_k, "Keys per tile of the map (default 64)");
  app.add_flag("--causal", args.causal, "The map was made with a causal mask");
  app.add_option("--key-lengths", args.key_lengths, "i32 [B] .npy the map was made with");
  app.add_option("--item-slots", args.item_slots, "Target key slots per work item (default: from the device)");
  app.add_option("--items", args.plan, "Write the work items, u32 [items, 4] as i32 .npy: (row tile, first block, end block, partial slot)");
  app.add_flag("--json", args.json, "Print a JSON report");
  return aat::run_plugin_command(app, host, argc, argv,
                                 [&](const std::shared_ptr<aat::Context>& context) { return run(context, args); });
}

const aat_plugin_command kCommands[] = {
    {"route", "Cross-tile router: block map -> balanced work items (plan statistics)", &run_route},
};

}  // namespace

AAT_DEFINE_PLUGIN(router, "0.1.0", "Adaptive attention's router: work lists, resolution matching, exact merge", kCommands)
