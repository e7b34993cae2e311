// GLSL -> SPIR-V with shaderc, an on-disk SPIR-V cache, and loading .spv files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aat/error.hpp"

namespace aat {

using Spirv = std::vector<std::uint32_t>;

struct CompileOptions {
  std::vector<std::filesystem::path> include_dirs;          // searched after the source's own folder
  std::vector<std::pair<std::string, std::string>> defines; // -DNAME=VALUE
  bool optimize = true;                                     // debug info (names) is kept either way
  bool vulkan_1_3 = false;                                  // target Vulkan 1.3 / SPIR-V 1.6 (else 1.2 / 1.5)
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t rejected = 0;  // entries found corrupt or stale, discarded and rebuilt
};

// Compiles GLSL compute shaders. Entries in the cache are keyed by the source, defines,
// options and compiler version, and carry the hash of every included file, so editing a
// header invalidates them. Not thread-safe; use one per thread.
class ShaderCompiler {
 public:
  // `cache_dir` empty: no on-disk cache. Typically Context::cache_dir().
  explicit ShaderCompiler(std::filesystem::path cache_dir = {});

  // `name` is used in error messages ("attention.comp:12: error: ...") and for relative includes.
  Expected<Spirv> compile(std::string_view source, const std::string& name, const CompileOptions& options = {});
  Expected<Spirv> compile_file(const std::filesystem::path& path, const CompileOptions& options = {});

  const CacheStats& cache_stats() const { return stats_; }
  std::filesystem::path cache_folder() const;

 private:
  std::filesystem::path cache_dir_;
  CacheStats stats_;
};

// Reads a .spv file and checks it (see check_spirv).
Expected<Spirv> load_spirv(const std::filesystem::path& path);
// Validates a SPIR-V module with SPIRV-Tools (Vulkan 1.2 rules): magic, structure, types.
// Untrusted bytes never reach SPIRV-Cross or the driver without passing this.
Expected<void> check_spirv(std::span<const std::uint32_t> words, std::string_view what);
Expected<Spirv> spirv_from_bytes(std::span<const std::byte> bytes, std::string_view what);

// Folder with the shared GLSL headers (online softmax, f16 helpers): the source tree's
// shaders/ in a build, the installed share/aat/shaders otherwise.
std::filesystem::path shared_shader_dir();

}  // namespace aat
