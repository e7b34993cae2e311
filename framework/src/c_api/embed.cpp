#include "embed.hpp"

namespace aat::embed {

Expected<Spirv> load_shader(const std::shared_ptr<Context>& context, const std::filesystem::path& path) {
  if (path.extension() == ".spv") return load_spirv(path);
  ShaderCompiler compiler(context ? context->cache_dir() : std::filesystem::path{});
  return compiler.compile_file(path);
}

}  // namespace aat::embed
