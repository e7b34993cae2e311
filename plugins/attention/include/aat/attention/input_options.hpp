// The command-line options every attention-shaped `aat run` command takes (attention, adaptive
// attention, pattern), declared once so their names, checks and help agree.
#pragma once

#include <optional>

#include <CLI/CLI.hpp>

#include "aat/attention/input_files.hpp"

namespace aat::attention {

struct InputArguments {
  InputFiles files;
  bool causal = false;
  std::optional<float> scale;
};

// --q, --k, --v (when `with_v`), --key-lengths, --causal and --scale, bound to `args`.
inline void add_input_options(CLI::App& app, InputArguments& args, bool with_v = true) {
  app.add_option("--q", args.files.q, "Queries [B, Hq, Nq, D] (.npy, f32 or f16)")->required();
  app.add_option("--k", args.files.k, "Keys [B, Hkv, Nk, D] (.npy, Q's dtype)")->required();
  if (with_v) app.add_option("--v", args.files.v, "Values [B, Hkv, Nk, D] (.npy, Q's dtype)")->required();
  app.add_option("--key-lengths", args.files.key_lengths, "i32 [B] .npy: keys j >= length[b] are masked");
  app.add_flag("--causal", args.causal, "Causal mask, bottom-right aligned: query i sees keys j <= i + Nk - Nq");
  app.add_option("--scale", args.scale, "Score scale (default 1/sqrt(D))");
}

}  // namespace aat::attention
