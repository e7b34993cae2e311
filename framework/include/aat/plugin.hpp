// Plugins: discovery, loading and validation of kernel plugins (see plugin_abi.h).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "aat/error.hpp"
#include "aat/op.hpp"
#include "aat/plugin_abi.h"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"

namespace aat {

struct PluginKernel {
  std::string name;
  std::string source;
  Spirv spirv;
  KernelInterface interface;  // reflected when the plugin was loaded
};

struct PluginCommand {
  std::string name;
  std::string summary;
  aat_plugin_command_fn run = nullptr;
};

// An op a plugin offers: its signature, checked and copied from the plugin's C table, and the
// table itself (valid while the registry that loaded it lives).
struct PluginOp {
  std::string plugin;  // the plugin's name
  OpSignature signature;
  const aat_plugin_op* table = nullptr;
};

struct Plugin {
  std::string name;
  std::string version;
  std::string description;
  std::filesystem::path path;  // the library it came from; empty when linked statically
  std::vector<PluginKernel> kernels;
  std::vector<PluginCommand> commands;
  std::vector<PluginOp> ops;

  const PluginKernel* find_kernel(std::string_view kernel) const;
};

// A plugin file that could not be used, and why. Loading goes on with the others.
struct PluginProblem {
  std::filesystem::path path;
  Error error;
};

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(PluginRegistry&&) noexcept;
  PluginRegistry& operator=(PluginRegistry&&) noexcept;

  // The folders searched, in order: AAT_PLUGIN_PATH (colon-separated), then the build
  // tree's plugin folder (in a build) or the install's lib/aat/plugins.
  static std::vector<std::filesystem::path> search_path();

  // Loads every libaat-*.so in the search path; failures are recorded in problems().
  static PluginRegistry discover();

  // Loads one library. Errors: unloadable file (dlerror text), missing aat_plugin_entry,
  // an ABI version other than this host's (both versions named), an invalid descriptor,
  // a plugin name already loaded (both paths named).
  Expected<void> load(const std::filesystem::path& library);
  // Adds a plugin linked into the host (aat_plugin_<name>_entry()); same checks as load().
  Expected<void> add_static(const aat_plugin_descriptor* descriptor);

  const std::vector<Plugin>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  const Plugin* find(std::string_view name) const;
  // The plugin offering `aat run <command>`, if any.
  const PluginCommand* find_command(std::string_view command, const Plugin** owner = nullptr) const;
  // The op of that name, if any plugin offers it.
  const PluginOp* find_op(std::string_view name) const;
  // Every op of every plugin, in load order.
  std::vector<const PluginOp*> ops() const;

 private:
  struct Library;
  Expected<void> add(const aat_plugin_descriptor* descriptor, const std::filesystem::path& path);
  std::vector<std::unique_ptr<Library>> libraries_;
  std::vector<Plugin> plugins_;
  std::vector<PluginProblem> problems_;
};

// Checks a descriptor from an untrusted library and copies it into a Plugin: ABI version
// first, then sizes, names, every kernel's SPIR-V (validated and reflected), commands and ops
// (names, signatures, functions).
Expected<Plugin> read_plugin_descriptor(const aat_plugin_descriptor* descriptor);

}  // namespace aat
