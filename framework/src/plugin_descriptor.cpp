// Validation of plugin descriptors: nothing from a plugin library is trusted until checked.
#include <cstring>

#include <fmt/format.h>

#include "aat/plugin.hpp"
#include "op_abi.hpp"

namespace aat {

namespace {

constexpr std::size_t kMaxName = detail::kMaxPluginName;
constexpr std::size_t kMaxText = detail::kMaxPluginText;
constexpr std::size_t kMaxKernels = 1024;
constexpr std::size_t kMaxSpirvWords = 16u << 20;

bool valid_identifier(const std::string& name) {
  for (unsigned char c : name)
    if (!(std::islower(c) || std::isdigit(c) || c == '_' || c == '-')) return false;
  return !name.empty();
}

}  // namespace

Expected<Plugin> read_plugin_descriptor(const aat_plugin_descriptor* d) {
  if (!d) return fail(ErrorCode::plugin, "the plugin's entry point returned no descriptor");
  if (d->abi_version != AAT_PLUGIN_ABI_VERSION)
    return fail(ErrorCode::abi_mismatch,
                fmt::format("the plugin was built for AAT plugin ABI version {}, this host uses version {}; rebuild "
                            "the plugin against this AAT", d->abi_version, AAT_PLUGIN_ABI_VERSION));
  if (d->descriptor_size != sizeof(aat_plugin_descriptor))
    return fail(ErrorCode::abi_mismatch, fmt::format("the plugin's descriptor is {} bytes, this host expects {}",
                                                     d->descriptor_size, sizeof(aat_plugin_descriptor)));
  Plugin plugin;
  AAT_TRY(plugin.name, detail::read_plugin_text(d->name, kMaxName, "the plugin name", false));
  if (!valid_identifier(plugin.name))
    return fail(ErrorCode::plugin, fmt::format("plugin name '{}' must be lowercase letters, digits, '_' or '-'",
                                               plugin.name));
  const std::string where = "plugin '" + plugin.name + "'";
  AAT_TRY(plugin.version, with_context(detail::read_plugin_text(d->version, kMaxName, "its version", true), where));
  AAT_TRY(plugin.description, with_context(detail::read_plugin_text(d->description, kMaxText, "its description", true), where));

  if (d->kernel_count > kMaxKernels || (d->kernel_count && !d->kernels))
    return fail(ErrorCode::plugin, fmt::format("{}: kernel table of {} entries is invalid", where, d->kernel_count));
  for (std::size_t i = 0; i < d->kernel_count; ++i) {
    const aat_plugin_kernel& k = d->kernels[i];
    PluginKernel kernel;
    AAT_TRY(kernel.name, with_context(detail::read_plugin_text(k.name, kMaxName, fmt::format("kernel {}'s name", i), false), where));
    const std::string kernel_where = fmt::format("{}, kernel '{}'", where, kernel.name);
    if (plugin.find_kernel(kernel.name))
      return fail(ErrorCode::plugin, kernel_where + ": two kernels share this name");
    AAT_TRY(kernel.source, with_context(detail::read_plugin_text(k.source, kMaxText, "its source name", true), kernel_where));
    if (!k.spirv || k.spirv_words == 0 || k.spirv_words > kMaxSpirvWords)
      return fail(ErrorCode::plugin, fmt::format("{}: SPIR-V of {} words is invalid", kernel_where, k.spirv_words));
    kernel.spirv.assign(k.spirv, k.spirv + k.spirv_words);
    AAT_TRY(kernel.interface, with_context(reflect(kernel.spirv), kernel_where));
    plugin.kernels.push_back(std::move(kernel));
  }

  if (d->command_count > kMaxKernels || (d->command_count && !d->commands))
    return fail(ErrorCode::plugin, fmt::format("{}: command table of {} entries is invalid", where, d->command_count));
  for (std::size_t i = 0; i < d->command_count; ++i) {
    const aat_plugin_command& c = d->commands[i];
    PluginCommand command;
    AAT_TRY(command.name, with_context(detail::read_plugin_text(c.name, kMaxName, fmt::format("command {}'s name", i), false), where));
    if (!valid_identifier(command.name))
      return fail(ErrorCode::plugin, fmt::format("{}: command name '{}' must be lowercase letters, digits, '_' or '-'",
                                                 where, command.name));
    AAT_TRY(command.summary, with_context(detail::read_plugin_text(c.summary, kMaxText, "its summary", true), where));
    if (!c.run) return fail(ErrorCode::plugin, fmt::format("{}: command '{}' has no function", where, command.name));
    command.run = c.run;
    plugin.commands.push_back(std::move(command));
  }

  if (d->op_count > kMaxKernels || (d->op_count && !d->ops))
    return fail(ErrorCode::plugin, fmt::format("{}: op table of {} entries is invalid", where, d->op_count));
  for (std::size_t i = 0; i < d->op_count; ++i) {
    PluginOp op;
    op.plugin = plugin.name;
    AAT_TRY(op.signature, with_context(detail::read_op_signature(d->ops[i]), where));
    op.table = &d->ops[i];
    for (const auto& other : plugin.ops)
      if (other.signature.name == op.signature.name)
        return fail(ErrorCode::plugin, fmt::format("{}: two ops are named '{}'", where, op.signature.name));
    plugin.ops.push_back(std::move(op));
  }
  return plugin;
}

const PluginKernel* Plugin::find_kernel(std::string_view kernel) const {
  for (const auto& k : kernels)
    if (k.name == kernel) return &k;
  return nullptr;
}

}  // namespace aat
