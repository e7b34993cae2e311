// The command-line options of the level rule, shared by `aat run pattern` and
// `aat run adaptive-attention`: --mode, --epsilon (bound rule), --mass (mass rule), the pooled
// shares, the anchor keys, the query group and the map kernel's speed knobs. `Options` is PatternOptions or AdaptiveOptions (the same fields).
//
// The rule: --mode when given; else the mass rule when --mass is given, else the bound rule
// (the default). --mass with the bound rule, or --epsilon with the mass rule, is an error.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "aat/error.hpp"
#include "aat/pattern/pattern.hpp"

namespace aat::pattern {

template <class Options>
void add_rule_options(CLI::App& app, Options& o, std::string& mode) {
  app.add_option("--mode", mode,
                 "Level rule: bound (a bound on the share of mass not run at full resolution, the default) or "
                 "mass (a share of the estimated mass); default bound, or mass when --mass is given")
      ->check(CLI::IsMember({"mass", "bound"}));
  app.add_option("--epsilon", o.epsilon,
                 fmt::format("bound rule: largest share of a query group's mass not run at full resolution, 0..1 "
                             "(default {}; 0: exact)", o.epsilon));
  app.add_option("--mass", o.mass,
                 fmt::format("mass rule: share of the estimated mass kept at full resolution (default {}; 1: exact)",
                             o.mass));
  app.add_option("--pool2-share", o.pool2_share, "Share of the rest (1 - mass, or epsilon) pooled x2 (default 0.5)");
  app.add_option("--pool4-share", o.pool4_share, "Share of the rest pooled x4 (default 0.25)");
  app.add_option("--anchor-sinks", o.anchor_sinks, "bound rule: leading keys of every row's anchor (default 4)");
  app.add_option("--anchor-window", o.anchor_window,
                 "bound rule: keys ending at each row's diagonal in its anchor (default 32)");
  app.add_option("--query-group", o.query_group,
                 "Query rows per group of the row estimate (default: 1 with the bound rule, 4 with the mass rule)");
  app.add_option("--bound-groups", o.bound_groups,
                 "bound rule, speed only: query groups the map kernel estimates per pass over the key tiles "
                 "(1..16; default 16, fewer where the device's shared memory is short)")
      ->check(CLI::Range(1u, 16u));
  app.add_option_function<std::string>(
         "--moments",
         [&o](const std::string& name) {
           o.bound_moments = name == "tensor-cores" ? MomentsPath::tensor_cores : MomentsPath::invocations;
         },
         "bound rule, speed only: where the map kernel computes the moments: invocations (the default) or "
         "tensor-cores (VK_KHR_cooperative_matrix; an error where the device cannot; slower on the H200, "
         "docs/adaptive.md)")
      ->check(CLI::IsMember({"invocations", "tensor-cores"}));
}

// Sets o.mode from the parsed options; an error naming the conflict.
template <class Options>
Expected<void> resolve_rule(const CLI::App& app, Options& o, const std::string& mode) {
  const bool mass = app.count("--mass") > 0, epsilon = app.count("--epsilon") > 0;
  o.mode = mode == "mass" ? Mode::mass : mode == "bound" ? Mode::bound : mass ? Mode::mass : Mode::bound;
  if (o.mode == Mode::bound && mass)
    return fail(ErrorCode::invalid_argument, "--mass belongs to the mass rule; the bound rule takes --epsilon");
  if (o.mode == Mode::mass && epsilon)
    return fail(ErrorCode::invalid_argument, "--epsilon belongs to the bound rule; the mass rule takes --mass");
  return {};
}

}  // namespace aat::pattern
