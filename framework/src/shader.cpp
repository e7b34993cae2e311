#include "aat/shader.hpp"

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <dlfcn.h>
#include <fmt/format.h>
#include <shaderc/shaderc.hpp>
#include <spirv-tools/libspirv.hpp>

#include "aat/build_info.hpp"
#include "file_util.hpp"
#include "glslang_guard.hpp"
#include "shader_cache.hpp"
#include "spirv_interface.hpp"

namespace aat {

namespace {

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Resolves #include "x" against the including file's folder, then the include dirs, and
// records every file it reads so the cache entry can be checked against them later.
class Includer : public shaderc::CompileOptions::IncluderInterface {
 public:
  Includer(std::vector<std::filesystem::path> dirs, std::vector<detail::ShaderDependency>* dependencies)
      : dirs_(std::move(dirs)), dependencies_(dependencies) {}

  shaderc_include_result* GetInclude(const char* requested, shaderc_include_type type, const char* requesting,
                                     size_t) override {
    auto* result = new Result;
    std::vector<std::filesystem::path> candidates;
    if (type == shaderc_include_type_relative)
      candidates.push_back(std::filesystem::path(requesting).parent_path() / requested);
    for (const auto& dir : dirs_) candidates.push_back(dir / requested);
    for (const auto& candidate : candidates) {
      // Regular files only: `#include "/dev/zero"` (or a FIFO) must not hang or exhaust memory.
      std::error_code ec;
      if (!std::filesystem::is_regular_file(candidate, ec)) continue;
      if (auto text = read_text(candidate)) {
        result->path = candidate.lexically_normal().string();
        result->text = std::move(*text);
        dependencies_->push_back({result->path, detail::fnv1a(result->text)});
        break;
      }
    }
    if (result->path.empty()) {
      std::string searched;
      for (const auto& c : candidates) searched += (searched.empty() ? "" : ", ") + c.string();
      result->text = fmt::format("cannot find '{}' (searched: {})", requested, searched);
    }
    // shaderc reads an empty source_name as "include failed" and content as the reason.
    result->source_name = result->path.c_str();
    result->source_name_length = result->path.size();
    result->content = result->text.c_str();
    result->content_length = result->text.size();
    result->user_data = result;
    return result;
  }

  void ReleaseInclude(shaderc_include_result* data) override { delete static_cast<Result*>(data->user_data); }

 private:
  struct Result : shaderc_include_result {
    std::string path;
    std::string text;
  };
  std::vector<std::filesystem::path> dirs_;
  std::vector<detail::ShaderDependency>* dependencies_;
};

// shaderc finalizes glslang whenever its last shaderc::Compiler goes, and the next compile then
// rebuilds glslang's built-in symbol tables (about 0.1 s). One compiler held for the life of the
// library keeps that state; every compile still uses a compiler of its own.
void keep_glslang_initialized() { static const shaderc::Compiler keeper; }

std::string cache_key_material(std::string_view source, const std::string& name, const CompileOptions& options) {
  unsigned int version = 0, revision = 0;
  shaderc_get_spv_version(&version, &revision);
  std::string material = fmt::format("aat-spirv-1|shaderc {}.{}|opt {}|vk13 {}|name {}|", version, revision,
                                     options.optimize, options.vulkan_1_3, name);
  for (const auto& dir : options.include_dirs) material += "inc " + dir.string() + "|";
  for (const auto& [key, value] : options.defines) material += "def " + key + "=" + value + "|";
  material += source;
  return material;
}

// glslang says only "extension not supported: X" for an extension newer than itself. Name the
// runtime compiler's version, the release that knows X and the way around it, above the log.
std::string explain_unknown_extensions(const std::string& message) {
  static constexpr std::string_view kMarker = "extension not supported: ";
  std::string advice;
  std::vector<std::string> seen;
  for (auto at = message.find(kMarker); at != std::string::npos; at = message.find(kMarker, at + 1)) {
    const auto begin = at + kMarker.size();
    const auto end = message.find_first_of(" \n\r", begin);
    std::string extension = message.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (extension.empty() || std::find(seen.begin(), seen.end(), extension) != seen.end()) continue;
    seen.push_back(extension);
    const std::string_view needed = glslang_version_introducing(extension);
    advice += fmt::format("the runtime GLSL compiler (shaderc with glslang {}) does not know {}{}\n",
                          build_info().runtime_compiler.version, extension,
                          needed.empty() ? std::string() : fmt::format(", which needs glslang >= {}", needed));
  }
  if (advice.empty()) return message;
  std::string ahead = "compile the shader ahead with a newer glslang (`glslang -V --target-env vulkan1.3 -S comp "
                      "FILE.comp -o FILE.spv`";
  for (const auto& c : build_info().shader_compilers)
    if (c.name == "glslang") ahead += fmt::format("; this build used glslang {}", c.version);
  return advice + ahead + ") and run or load the .spv instead\n" + message;
}

}  // namespace

ShaderCompiler::ShaderCompiler(std::filesystem::path cache_dir) : cache_dir_(std::move(cache_dir)) {}

std::filesystem::path ShaderCompiler::cache_folder() const {
  return cache_dir_.empty() ? std::filesystem::path() : cache_dir_ / "spirv";
}

Expected<Spirv> ShaderCompiler::compile(std::string_view source, const std::string& name,
                                        const CompileOptions& options) {
  const std::string material = cache_key_material(source, name, options);
  const std::uint64_t key = detail::fnv1a(material);
  if (!cache_dir_.empty()) {
    switch (auto lookup = detail::lookup_cached_spirv(cache_folder(), key, material); lookup.status) {
      case detail::CacheLookup::hit: ++stats_.hits; return std::move(lookup.spirv);
      case detail::CacheLookup::rejected: ++stats_.rejected; break;
      case detail::CacheLookup::absent: break;
    }
  }
  ++stats_.misses;

  std::vector<std::filesystem::path> dirs = options.include_dirs;
  dirs.push_back(shared_shader_dir());
  // Configured in place: shaderc::CompileOptions' move leaves its includer behind.
  const auto configure = [&](shaderc::CompileOptions& made, std::vector<detail::ShaderDependency>* dependencies) {
    made.SetIncluder(std::make_unique<Includer>(dirs, dependencies));
    made.SetTargetEnvironment(shaderc_target_env_vulkan, options.vulkan_1_3 ? shaderc_env_version_vulkan_1_3
                                                                            : shaderc_env_version_vulkan_1_2);
    made.SetTargetSpirv(options.vulkan_1_3 ? shaderc_spirv_version_1_6 : shaderc_spirv_version_1_5);
    // Optimisation strips OpName; debug info keeps the names reflection binds by.
    made.SetGenerateDebugInfo();
    if (options.optimize) made.SetOptimizationLevel(shaderc_optimization_level_performance);
    for (const auto& [key_name, value] : options.defines) made.AddMacroDefinition(key_name, value);
  };
  const auto compile_error = [&](std::string message) {
    while (!message.empty() && message.back() == '\n') message.pop_back();
    message = explain_unknown_extensions(message);
    Error error(ErrorCode::shader_compile, message.empty() ? "compilation failed" : message);
    return std::unexpected(std::move(error).with_context("compiling GLSL '" + name + "'"));
  };

  keep_glslang_initialized();
  shaderc::Compiler compiler;
  {
    // Preprocessed first, so includes and macros cannot hide what would crash the parser. A
    // preprocessing error is the compile's error too; it is reported from here, because glslang
    // goes on parsing after one and can then crash (fuzz_glsl: an unterminated #line string
    // ahead of a block named like a function).
    std::vector<detail::ShaderDependency> scratch;
    shaderc::CompileOptions preprocess_options;
    configure(preprocess_options, &scratch);
    const auto preprocessed = compiler.PreprocessGlsl(source.data(), source.size(), shaderc_compute_shader,
                                                      name.c_str(), preprocess_options);
    if (preprocessed.GetCompilationStatus() != shaderc_compilation_status_success)
      return compile_error(preprocessed.GetErrorMessage());
    if (auto hazard = detail::glslang_crash_hazard({preprocessed.cbegin(), preprocessed.cend()}))
      return compile_error(std::move(*hazard));
  }
  std::vector<detail::ShaderDependency> dependencies;
  shaderc::CompileOptions compile_options;
  configure(compile_options, &dependencies);
  const auto result = compiler.CompileGlslToSpv(source.data(), source.size(), shaderc_compute_shader, name.c_str(),
                                                "main", compile_options);
  if (result.GetCompilationStatus() != shaderc_compilation_status_success) return compile_error(result.GetErrorMessage());
  Spirv spirv(result.cbegin(), result.cend());
  if (!cache_dir_.empty()) detail::store_cached_spirv(cache_folder(), key, material, dependencies, spirv);
  return spirv;
}

Expected<Spirv> ShaderCompiler::compile_file(const std::filesystem::path& path, const CompileOptions& options) {
  auto source = read_text(path);
  if (!source) return fail(ErrorCode::io, "cannot read shader '" + path.string() + "'");
  CompileOptions with_folder = options;
  with_folder.include_dirs.insert(with_folder.include_dirs.begin(), path.parent_path());
  return compile(*source, path.string(), with_folder);
}

Expected<Spirv> spirv_from_bytes(std::span<const std::byte> bytes, std::string_view what) {
  if (bytes.size() % 4 != 0 || bytes.size() < 20)
    return fail(ErrorCode::parse, fmt::format("'{}' is not SPIR-V: {} bytes is not a whole number of 32-bit words "
                                              "past the 20-byte header", what, bytes.size()));
  Spirv words(bytes.size() / 4);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  AAT_CHECK(check_spirv(words, what));
  return words;
}

Expected<Spirv> load_spirv(const std::filesystem::path& path) {
  auto bytes = detail::read_file_bytes(path);
  if (!bytes) return fail(ErrorCode::io, "cannot read SPIR-V file '" + path.string() + "'");
  return spirv_from_bytes(*bytes, path.string());
}

Expected<void> check_spirv(std::span<const std::uint32_t> words, std::string_view what) {
  constexpr std::uint32_t kMagic = 0x07230203;
  if (words.size() < 5 || words[0] != kMagic)
    return fail(ErrorCode::parse, fmt::format("'{}' is not SPIR-V: the magic number is {:#010x}, expected {:#010x}",
                                              what, words.empty() ? 0u : words[0], kMagic));
  // Cooperative-matrix modules (KHR, NV coopmat2) are newer than Debian 12's validator: here only
  // their instruction stream is checked; reflect() validates their interface-only reduction in
  // full before SPIRV-Cross reads it, and the driver (and the validation layer) the rest.
  if (detail::beyond_validator(words)) return detail::check_instruction_stream(words, what);
  spvtools::SpirvTools tools(SPV_ENV_VULKAN_1_3);
  std::string diagnostics;
  tools.SetMessageConsumer([&](spv_message_level_t, const char*, const spv_position_t& position, const char* message) {
    if (diagnostics.empty()) diagnostics = fmt::format("word {}: {}", position.index, message);
  });
  if (!tools.Validate(words.data(), words.size()))
    return fail(ErrorCode::parse, fmt::format("'{}' is not valid SPIR-V: {}", what,
                                              diagnostics.empty() ? "rejected by the validator" : diagnostics));
  return {};
}

#ifndef AAT_INSTALL_SHADER_DIR_FROM_LIB  // set by cmake/AatInstall.cmake from the install layout
#define AAT_INSTALL_SHADER_DIR_FROM_LIB "../share/aat/shaders"
#endif

std::filesystem::path shared_shader_dir() {
  if (const char* overridden = std::getenv("AAT_SHADER_DIR")) return overridden;
  // An installed library finds <prefix>/share/aat/shaders beside its <prefix>/lib (found like
  // the installed plugins, see plugin_registry.cpp); a build tree uses the source tree's.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&shared_shader_dir), &info) && info.dli_fname) {
    const auto installed =
        (std::filesystem::path(info.dli_fname).parent_path() / AAT_INSTALL_SHADER_DIR_FROM_LIB).lexically_normal();
    std::error_code ec;
    if (std::filesystem::is_directory(installed, ec)) return installed;
  }
  return AAT_SOURCE_SHADER_DIR;
}

}  // namespace aat
