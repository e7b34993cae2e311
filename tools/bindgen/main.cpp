// aat-bindgen SPV --plugin NAME --kernel NAME --source FILE [--family F] --header OUT.hpp --cpp OUT.cpp
// Run by aat_add_plugin() at build time; see cmake/AatPlugin.cmake.
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "generate.hpp"

namespace {

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aat-bindgen: writes a typed C++ header and an embedded-SPIR-V source for one plugin shader, "
               "from its reflection"};
  std::string spv, plugin, kernel, source, header, cpp, family = "scalar";
  app.add_option("spv", spv, "The compiled shader (.spv)")->required();
  app.add_option("--plugin", plugin, "Plugin name (C++ namespace)")->required();
  app.add_option("--kernel", kernel, "Kernel name (C++ namespace)")->required();
  app.add_option("--source", source, "GLSL file name, for comments")->required();
  app.add_option("--family", family, "The kernel family the shader needs (scalar, coopmat_nv, coopmat_khr, coopmat2)")
      ->capture_default_str();
  app.add_option("--header", header, "Header to write")->required();
  app.add_option("--cpp", cpp, "Source to write")->required();
  CLI11_PARSE(app, argc, argv);

  auto spirv = aat::load_spirv(spv);
  if (!spirv) {
    fmt::print(stderr, "aat-bindgen: error: {}\n", spirv.error().what());
    return 1;
  }
  auto interface = aat::reflect(*spirv);
  if (!interface) {
    fmt::print(stderr, "aat-bindgen: error: {}: {}\n", source, interface.error().what());
    return 1;
  }
  const aat::bindgen::ShaderNames names{aat::bindgen::identifier(plugin), aat::bindgen::identifier(kernel), source,
                                           family};
  auto text = aat::bindgen::generate_header(names, *interface);
  if (!text) {
    fmt::print(stderr, "aat-bindgen: error: {}: {}\n", source, text.error().what());
    return 1;
  }
  if (!write_text(header, *text) || !write_text(cpp, aat::bindgen::generate_source(names, *spirv))) {
    fmt::print(stderr, "aat-bindgen: error: cannot write {} / {}\n", header, cpp);
    return 1;
  }
  return 0;
}
