// The example plugin's descriptor and its `aat run example-scale` command.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "aat/example/scale.hpp"
#include "aat/plugin_command.hpp"
#include "aat/plugin_define.hpp"

namespace {

int run_scale(const aat_host* host, int argc, const char* const* argv) {
  CLI::App app{"y = alpha * x + beta, elementwise, on an f32 .npy array of any shape"};
  std::string x_path, y_path;
  float alpha = 1.0f, beta = 0.0f;
  app.add_option("--x", x_path, "Input .npy (f32)")->required();
  app.add_option("--out", y_path, "Output .npy")->required();
  app.add_option("--alpha", alpha, "Scale (default 1)");
  app.add_option("--beta", beta, "Offset (default 0)");
  return aat::run_plugin_command(app, host, argc, argv, [&](const std::shared_ptr<aat::Context>& context)
                                                            -> aat::Expected<void> {
    AAT_TRY(auto x, aat::Tensor::load_npy(context, x_path));
    AAT_TRY(auto scale, aat::example::Scale::create(context));
    AAT_TRY(auto y, scale.run(x, alpha, beta));
    AAT_CHECK(y.save_npy(y_path));
    fmt::print("wrote {} ({})\n", y_path, y.describe());
    return {};
  });
}

const aat_plugin_command kCommands[] = {
    {"example-scale", "y = alpha * x + beta on an .npy array (the example plugin)", &run_scale},
};

}  // namespace

AAT_DEFINE_PLUGIN(example, "0.1.0", "The smallest complete AAT plugin: one elementwise kernel", kCommands)
