#include <algorithm>
#include <cstdlib>
#include <exception>

#include <dlfcn.h>
#include <fmt/format.h>

#include "aat/plugin.hpp"

namespace aat {

// A dlopen handle, closed when the registry goes (after the plugins copied from it).
struct PluginRegistry::Library {
  void* handle = nullptr;
  ~Library() {
    if (handle) dlclose(handle);
  }
};

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() {
  plugins_.clear();  // command pointers into the libraries go first
}
PluginRegistry::PluginRegistry(PluginRegistry&&) noexcept = default;
PluginRegistry& PluginRegistry::operator=(PluginRegistry&&) noexcept = default;

namespace {

// The folder of the aat library itself, to find an installed tree's plugins beside it.
std::filesystem::path library_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&read_plugin_descriptor), &info) && info.dli_fname)
    return std::filesystem::path(info.dli_fname).parent_path();
  return {};
}

}  // namespace

std::vector<std::filesystem::path> PluginRegistry::search_path() {
  std::vector<std::filesystem::path> folders;
  if (const char* env = std::getenv("AAT_PLUGIN_PATH")) {
    std::string_view list(env);
    while (!list.empty()) {
      const auto colon = list.find(':');
      const auto entry = list.substr(0, colon);
      if (!entry.empty()) folders.emplace_back(entry);
      if (colon == std::string_view::npos) break;
      list.remove_prefix(colon + 1);
    }
  }
  std::error_code ec;
  const auto installed = library_folder() / "aat" / "plugins";
  if (std::filesystem::is_directory(installed, ec)) folders.push_back(installed);
  else if (std::filesystem::is_directory(AAT_BUILD_PLUGIN_DIR, ec)) folders.emplace_back(AAT_BUILD_PLUGIN_DIR);
  // A folder named twice (say AAT_PLUGIN_PATH and the default) is searched once.
  std::vector<std::filesystem::path> unique;
  for (const auto& folder : folders) {
    const auto canonical = std::filesystem::weakly_canonical(folder, ec);
    const auto key = ec ? folder : canonical;
    if (std::find(unique.begin(), unique.end(), key) == unique.end()) unique.push_back(key);
  }
  return unique;
}

PluginRegistry PluginRegistry::discover() {
  PluginRegistry registry;
  for (const auto& folder : search_path()) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
      const auto name = entry.path().filename().string();
      if (name.starts_with("libaat-") && entry.path().extension() == ".so") files.push_back(entry.path());
    }
    if (ec) {
      registry.problems_.push_back({folder, Error(ErrorCode::io, "cannot list plugin folder: " + ec.message())});
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files)
      if (auto loaded = registry.load(file); !loaded) registry.problems_.push_back({file, loaded.error()});
  }
  return registry;
}

Expected<void> PluginRegistry::load(const std::filesystem::path& library) {
  auto lib = std::make_unique<Library>();
  dlerror();
  lib->handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) {
    const char* why = dlerror();
    return fail(ErrorCode::plugin, fmt::format("cannot load plugin '{}': {}", library.string(), why ? why : "unknown"));
  }
  auto entry = reinterpret_cast<aat_plugin_entry_fn>(dlsym(lib->handle, AAT_PLUGIN_ENTRY_SYMBOL));
  if (!entry)
    return fail(ErrorCode::plugin, fmt::format("'{}' is not an AAT plugin: it does not export '{}'", library.string(),
                                               AAT_PLUGIN_ENTRY_SYMBOL));
  // Plugin code runs here for the first time: an exception from it must not unwind into the host.
  const aat_plugin_descriptor* descriptor = nullptr;
  try {
    descriptor = entry();
  } catch (const std::exception& e) {
    return fail(ErrorCode::plugin, fmt::format("plugin '{}': its {} threw an exception: {}", library.string(),
                                               AAT_PLUGIN_ENTRY_SYMBOL, e.what()));
  } catch (...) {
    return fail(ErrorCode::plugin, fmt::format("plugin '{}': its {} threw an exception", library.string(),
                                               AAT_PLUGIN_ENTRY_SYMBOL));
  }
  AAT_CHECK(with_context(add(descriptor, library), "plugin '" + library.string() + "'"));
  libraries_.push_back(std::move(lib));
  return {};
}

Expected<void> PluginRegistry::add_static(const aat_plugin_descriptor* descriptor) {
  return with_context(add(descriptor, {}), "statically linked plugin");
}

Expected<void> PluginRegistry::add(const aat_plugin_descriptor* descriptor, const std::filesystem::path& path) {
  AAT_TRY(Plugin plugin, read_plugin_descriptor(descriptor));
  if (const Plugin* existing = find(plugin.name))
    return fail(ErrorCode::plugin, fmt::format("a plugin named '{}' is already loaded from {}", plugin.name,
                                               existing->path.empty() ? "the host (static)" : existing->path.string()));
  for (const auto& command : plugin.commands)
    if (const Plugin* owner = nullptr; find_command(command.name, &owner))
      return fail(ErrorCode::plugin, fmt::format("plugin '{}' offers command '{}', which plugin '{}' already offers",
                                                 plugin.name, command.name, owner->name));
  for (const auto& op : plugin.ops)
    if (const PluginOp* other = find_op(op.signature.name))
      return fail(ErrorCode::plugin, fmt::format("plugin '{}' offers op '{}', which plugin '{}' already offers",
                                                 plugin.name, op.signature.name, other->plugin));
  plugin.path = path;
  plugins_.push_back(std::move(plugin));
  return {};
}

const Plugin* PluginRegistry::find(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p.name == name) return &p;
  return nullptr;
}

const PluginCommand* PluginRegistry::find_command(std::string_view command, const Plugin** owner) const {
  for (const auto& p : plugins_)
    for (const auto& c : p.commands)
      if (c.name == command) {
        if (owner) *owner = &p;
        return &c;
      }
  return nullptr;
}

const PluginOp* PluginRegistry::find_op(std::string_view name) const {
  for (const auto& p : plugins_)
    for (const auto& op : p.ops)
      if (op.signature.name == name) return &op;
  return nullptr;
}

std::vector<const PluginOp*> PluginRegistry::ops() const {
  std::vector<const PluginOp*> out;
  for (const auto& p : plugins_)
    for (const auto& op : p.ops) out.push_back(&op);
  return out;
}

}  // namespace aat
