// `aat plugins [--json]`: what the registry found, from where, each op's signature, each
// kernel's reflected interface, and every plugin file it had to skip with the reason.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aat/plugin.hpp"
#include "commands.hpp"

namespace aat::cli {

namespace {

// "inputs q (f32|f16, rank 4), k ...; outputs out (...); parameters causal (bool), scale (float)"
std::string describe_signature(const OpSignature& s) {
  std::string inputs, outputs, params;
  for (const auto& t : s.tensors)
    (t.role == OpRole::input ? inputs : outputs) +=
        fmt::format("{}{} ({}{})", (t.role == OpRole::input ? inputs : outputs).empty() ? "" : ", ", t.name,
                    t.describe(), t.optional ? ", optional" : "");
  for (const auto& p : s.params)
    params += fmt::format("{}{} ({}{})", params.empty() ? "" : ", ", p.name, to_string(p.type),
                          p.default_value ? ", default " + *p.default_value : std::string(p.optional ? ", optional" : ""));
  return fmt::format("inputs {}; outputs {}; parameters {}", inputs.empty() ? "none" : inputs,
                     outputs.empty() ? "none" : outputs, params.empty() ? "none" : params);
}

}  // namespace

void add_plugins_command(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("plugins", "List plugins found on AAT_PLUGIN_PATH and in the build's/install's "
                                            "plugin folder, with each kernel's reflected interface");
  auto json = std::make_shared<bool>(false);
  auto brief = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->add_flag("--brief", *brief, "Names, versions, ops and commands only, no signatures or interfaces");
  cmd->callback([&global, json, brief] {
    const auto registry = PluginRegistry::discover();
    if (*json) {
      nlohmann::json out = {{"search_path", nlohmann::json::array()}, {"plugins", nlohmann::json::array()},
                            {"problems", nlohmann::json::array()}};
      for (const auto& folder : PluginRegistry::search_path()) out["search_path"].push_back(folder.string());
      for (const auto& p : registry.plugins()) {
        nlohmann::json plugin = {{"name", p.name}, {"version", p.version}, {"description", p.description},
                                 {"path", p.path.string()}, {"kernels", nlohmann::json::array()},
                                 {"commands", nlohmann::json::array()}, {"ops", nlohmann::json::array()}};
        for (const auto& k : p.kernels)
          plugin["kernels"].push_back({{"name", k.name}, {"source", k.source},
                                       {"interface", nlohmann::json::parse(k.interface.to_json())}});
        for (const auto& c : p.commands) plugin["commands"].push_back({{"name", c.name}, {"summary", c.summary}});
        for (const auto& op : p.ops) plugin["ops"].push_back(nlohmann::json::parse(op.signature.to_json()));
        out["plugins"].push_back(plugin);
      }
      for (const auto& problem : registry.problems())
        out["problems"].push_back({{"path", problem.path.string()}, {"error", problem.error.what()}});
      // Paths and names can be any bytes; invalid UTF-8 would make dump() throw.
      fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    std::string folders;
    for (const auto& folder : PluginRegistry::search_path()) folders += (folders.empty() ? "" : ":") + folder.string();
    fmt::print("search path: {}\n", folders.empty() ? "(empty)" : folders);
    if (registry.plugins().empty()) fmt::print("no plugins found\n");
    for (const auto& p : registry.plugins()) {
      fmt::print("\n{} {} — {}\n  from {}\n", p.name, p.version, p.description,
                 p.path.empty() ? "the host" : p.path.string());
      for (const auto& op : p.ops) {
        fmt::print("  op: aat run {}  ({})\n", op.signature.name, op.signature.summary);
        if (!*brief) fmt::print("      {}\n", describe_signature(op.signature));
      }
      for (const auto& c : p.commands) fmt::print("  command: aat run {}  ({})\n", c.name, c.summary);
      for (const auto& k : p.kernels) {
        fmt::print("  kernel {} ({})\n", k.name, k.source);
        if (!*brief) {
          std::string text = k.interface.to_text();
          std::string indented;
          for (std::size_t start = 0; start < text.size();) {
            const auto end = text.find('\n', start);
            indented += "      " + text.substr(start, end - start) + "\n";
            if (end == std::string::npos) break;
            start = end + 1;
          }
          fmt::print("{}", indented);
        }
      }
    }
    for (const auto& problem : registry.problems())
      fmt::print(stderr, "skipped {}: {}\n", problem.path.string(), problem.error.what());
  });
}

}  // namespace aat::cli
