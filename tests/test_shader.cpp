// Shader compilation: GLSL -> SPIR-V with defines and includes, compile errors that point at
// file and line, the on-disk SPIR-V cache (hits, misses, corrupt entries) and .spv loading.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "aat/reflect.hpp"
#include "aat/shader.hpp"
#include "device_test.hpp"

namespace {

namespace fs = std::filesystem;
using aat::CompileOptions;
using aat::ErrorCode;
using aat::Expected;
using aat::ShaderCompiler;
using aat::Spirv;

using aat::testing::FailsWith;

template <class T>
T ok(Expected<T> result) {
  if (!result) {
    ADD_FAILURE() << result.error().what();
    throw std::runtime_error(result.error().what());
  }
  return std::move(*result);
}

void write_text(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

void write_bytes(const fs::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::vector<std::byte> as_bytes(const Spirv& words) {
  std::vector<std::byte> out(words.size() * 4);
  std::memcpy(out.data(), words.data(), out.size());
  return out;
}

// 64-bit FNV-1a, as the cache checksums its entries (shader_cache.cpp).
std::uint64_t fnv1a(const std::byte* data, std::size_t size) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= static_cast<std::uint64_t>(data[i]);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

constexpr std::string_view kHeader = R"(
#define COUNT 7
float scale(float x) { return x * 2.0; }
)";

// Uses a define (WG) and a header from an include dir (COUNT, scale).
constexpr std::string_view kUsesHeader = R"(#version 450
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) buffer OutBuf { float data[COUNT]; } out_buf;
void main() { out_buf.data[gl_LocalInvocationID.x % COUNT] = scale(1.0); }
)";

constexpr std::string_view kPlain = R"(#version 450
layout(local_size_x = 4) in;
layout(std430, binding = 0) buffer Data { uint values[]; } data;
void main() { data.values[gl_GlobalInvocationID.x] = gl_GlobalInvocationID.x * 3u; }
)";

// Each test gets a fresh folder for its headers, .spv files and SPIR-V cache.
class ShaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("aat_shader_") + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  const fs::path& dir() const { return dir_; }
  fs::path cache_dir() const { return dir_ / "cache"; }
  fs::path include_dir() const { return dir_ / "include"; }

  CompileOptions header_options(const std::string& wg = "32") const {
    CompileOptions options;
    options.include_dirs = {include_dir()};
    options.defines = {{"WG", wg}};
    return options;
  }

  // The cache entries on disk.
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    if (!fs::exists(cache_dir() / "spirv")) return out;
    for (const auto& e : fs::directory_iterator(cache_dir() / "spirv"))
      if (e.path().extension() == ".aatspv") out.push_back(e.path());
    return out;
  }

  fs::path only_entry() const {
    const auto all = entries();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? fs::path() : all.front();
  }

 private:
  fs::path dir_;
};

// --- compiling ---------------------------------------------------------------------------

TEST_F(ShaderTest, CompilesWithADefineAndAnIncludeDir) {
  write_text(include_dir() / "common.glsl", kHeader);
  ShaderCompiler compiler;
  const auto spirv = ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options("32")));
  ASSERT_GE(spirv.size(), 5u);
  EXPECT_EQ(spirv[0], 0x07230203u);
  const auto interface = ok(aat::reflect(spirv));
  EXPECT_EQ(interface.local_size.size[0], 32u);        // WG from the define
  ASSERT_EQ(interface.bindings.size(), 1u);
  EXPECT_EQ(interface.bindings[0].block_size, 7u * 4);  // COUNT from the header
}

TEST_F(ShaderTest, CompileFileFindsHeadersNextToTheFile) {
  write_text(dir() / "src" / "common.glsl", kHeader);
  write_text(dir() / "src" / "kernel.comp", kUsesHeader);
  ShaderCompiler compiler;
  CompileOptions options;
  options.defines = {{"WG", "8"}};
  const auto interface = ok(aat::reflect(ok(compiler.compile_file(dir() / "src" / "kernel.comp", options))));
  EXPECT_EQ(interface.local_size.size[0], 8u);
}

TEST_F(ShaderTest, DebugNamesSurviveOptimisation) {
  ShaderCompiler compiler;
  CompileOptions options;
  options.optimize = true;
  const auto interface = ok(aat::reflect(ok(compiler.compile(kPlain, "plain.comp", options))));
  ASSERT_EQ(interface.bindings.size(), 1u);
  EXPECT_EQ(interface.bindings[0].name, "data");
  EXPECT_EQ(interface.bindings[0].block_name, "Data");
}

TEST_F(ShaderTest, SyntaxErrorNamesFileAndLine) {
  constexpr std::string_view bad = "#version 450\nlayout(local_size_x = 1) in;\nvoid main() { int x = ; }\n";
  ShaderCompiler compiler;
  EXPECT_TRUE(FailsWith(compiler.compile(bad, "bad.comp"), ErrorCode::shader_compile, {"bad.comp:3"}));
}

TEST_F(ShaderTest, SyntaxErrorInCompileFileNamesThePath) {
  write_text(dir() / "broken.comp", "#version 450\nlayout(local_size_x = 1) in;\n\nvoid main() { undefined_call(); }\n");
  ShaderCompiler compiler;
  EXPECT_TRUE(FailsWith(compiler.compile_file(dir() / "broken.comp"), ErrorCode::shader_compile,
                        {"broken.comp:4", "undefined_call"}));
}

TEST_F(ShaderTest, MissingIncludeIsAnErrorNamingIt) {
  constexpr std::string_view source = "#version 450\n#include \"no_such_header.glsl\"\nvoid main() {}\n";
  ShaderCompiler compiler;
  EXPECT_TRUE(FailsWith(compiler.compile(source, "includer.comp", header_options()), ErrorCode::shader_compile,
                        {"no_such_header.glsl", "includer.comp"}));
}

// glslang 11 (Debian 12's shaderc) dereferences null on an interface block named like a function
// declared before it; found by fuzz_glsl. AAT refuses the source before the parser sees it.
TEST_F(ShaderTest, ABlockNamedLikeAnEarlierFunctionIsACompileErrorNotACrash) {
  ShaderCompiler compiler;
  const std::string_view cases[] = {
      "#version 450\nfloat f(float x) { return x; }\nlayout(std430, binding = 0) buffer f { float o[]; } p;\n"
      "void main() {}\n",
      "#version 450\nfloat f(float x);\nlayout(std430, binding = 0) readonly buffer f { float o[]; };\nvoid main() {}\n",
      "#version 450\nfloat f(float x) { return x; }\nlayout(std140, binding = 0) uniform f { float o; } p;\n"
      "void main() {}\n",
      "#version 450\nfloat f(float x) { return x; }\nshared f { float o; } p;\nvoid main() {}\n",
      // Through a macro: the check reads the preprocessed source.
      "#version 450\n#define NAME f\nfloat f(float x) { return x; }\nlayout(std430, binding = 0) buffer NAME { float o[]; } p;\n"
      "void main() {}\n",
  };
  for (const auto source : cases)
    EXPECT_TRUE(FailsWith(compiler.compile(source, "clash.comp"), ErrorCode::shader_compile,
                          {"block name 'f'", "function", "clash.comp"}))
        << source;
}

TEST_F(ShaderTest, ABlockNamedLikeAnIncludedFunctionIsACompileErrorNamingBothPlaces) {
  write_text(dir() / "fn.glsl", "float helper(float x) { return x; }\n");
  write_text(dir() / "clash.comp",
             "#version 450\n#include \"fn.glsl\"\nlayout(std430, binding = 0) buffer helper { float o[]; } p;\n"
             "void main() {}\n");
  ShaderCompiler compiler;
  EXPECT_TRUE(FailsWith(compiler.compile_file(dir() / "clash.comp"), ErrorCode::shader_compile,
                        {"clash.comp:3", "'helper'", "fn.glsl:1"}));
}

TEST_F(ShaderTest, APreprocessingErrorAheadOfAClashIsReportedNotCrashedOn) {
  // glslang keeps parsing after a preprocessing error (here an unterminated #line string), so the
  // error is reported before the parser runs; glslc crashes on this source.
  constexpr std::string_view source =
      "#version 450\nfloat f(float x) { return x; }\n#line 3 \"unterminated\n"
      "layout(std430, binding = 0) buffer f { float o[]; } p;\nvoid main() {}\n";
  ShaderCompiler compiler;
  EXPECT_TRUE(FailsWith(compiler.compile(source, "line.comp"), ErrorCode::shader_compile, {"End of line in string"}));
}

TEST_F(ShaderTest, NamesThatDoNotClashStillCompile) {
  // A block after a same-named function is the hazard; these orders and kinds glslang reports itself
  // or accepts, and the check must leave them alone.
  ShaderCompiler compiler;
  EXPECT_TRUE(compiler.compile("#version 450\nlayout(std430, binding = 0) buffer B { float o[]; } f;\n"
                               "float g(float x) { return x; }\nvoid main() { f.o[0] = g(1.0); }\n",
                               "fine.comp")
                  .has_value());
  EXPECT_TRUE(FailsWith(compiler.compile("#version 450\nlayout(std430, binding = 0) buffer f { float o[]; } p;\n"
                                         "float f(float x) { return x; }\nvoid main() {}\n",
                                         "later.comp"),
                        ErrorCode::shader_compile, {"later.comp"}));
}

TEST_F(ShaderTest, MissingSourceFileIsAnIoErrorNamingIt) {
  ShaderCompiler compiler;
  EXPECT_TRUE(FailsWith(compiler.compile_file(dir() / "absent.comp"), ErrorCode::io, {"absent.comp"}));
}

TEST_F(ShaderTest, FailedCompileIsNotCached) {
  constexpr std::string_view bad = "#version 450\nvoid main() { nope; }\n";
  ShaderCompiler compiler(cache_dir());
  EXPECT_FALSE(compiler.compile(bad, "bad.comp").has_value());
  EXPECT_FALSE(compiler.compile(bad, "bad.comp").has_value());
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
  EXPECT_TRUE(entries().empty());
}

// --- the SPIR-V cache --------------------------------------------------------------------

TEST_F(ShaderTest, SecondCompileOfTheSameSourceIsACacheHit) {
  ShaderCompiler compiler(cache_dir());
  const auto first = ok(compiler.compile(kPlain, "plain.comp"));
  EXPECT_EQ(compiler.cache_stats().misses, 1u);
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
  const auto second = ok(compiler.compile(kPlain, "plain.comp"));
  EXPECT_EQ(compiler.cache_stats().hits, 1u);
  EXPECT_EQ(compiler.cache_stats().misses, 1u);
  EXPECT_EQ(second, first);
  EXPECT_EQ(compiler.cache_folder(), cache_dir() / "spirv");
  EXPECT_EQ(entries().size(), 1u);
}

TEST_F(ShaderTest, CacheIsSharedThroughTheDiskAcrossCompilers) {
  const auto first = ok(ShaderCompiler(cache_dir()).compile(kPlain, "plain.comp"));
  ShaderCompiler later(cache_dir());
  EXPECT_EQ(ok(later.compile(kPlain, "plain.comp")), first);
  EXPECT_EQ(later.cache_stats().hits, 1u);
  EXPECT_EQ(later.cache_stats().misses, 0u);
}

TEST_F(ShaderTest, WithoutACacheDirNothingIsCached) {
  ShaderCompiler compiler;
  ok(compiler.compile(kPlain, "plain.comp"));
  ok(compiler.compile(kPlain, "plain.comp"));
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
  EXPECT_EQ(compiler.cache_stats().misses, 2u);
  EXPECT_TRUE(compiler.cache_folder().empty());
}

TEST_F(ShaderTest, ChangingADefineMisses) {
  write_text(include_dir() / "common.glsl", kHeader);
  ShaderCompiler compiler(cache_dir());
  const auto wg32 = ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options("32")));
  const auto wg64 = ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options("64")));
  EXPECT_EQ(compiler.cache_stats().misses, 2u);
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
  EXPECT_EQ(ok(aat::reflect(wg64)).local_size.size[0], 64u);
  ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options("32")));
  EXPECT_EQ(compiler.cache_stats().hits, 1u);  // both variants live side by side
}

TEST_F(ShaderTest, ChangingTheSourceMisses) {
  ShaderCompiler compiler(cache_dir());
  ok(compiler.compile(kPlain, "plain.comp"));
  std::string edited(kPlain);
  edited.replace(edited.find("3u"), 2, "5u");
  ok(compiler.compile(edited, "plain.comp"));
  EXPECT_EQ(compiler.cache_stats().misses, 2u);
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
}

TEST_F(ShaderTest, ChangingAnIncludedHeaderMissesAndRebuilds) {
  write_text(include_dir() / "common.glsl", kHeader);
  ShaderCompiler compiler(cache_dir());
  const auto before = ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options()));
  std::string edited(kHeader);
  edited.replace(edited.find("COUNT 7"), 7, "COUNT 9");
  write_text(include_dir() / "common.glsl", edited);
  const auto after = ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options()));
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
  EXPECT_EQ(compiler.cache_stats().misses, 2u);
  EXPECT_EQ(compiler.cache_stats().rejected, 1u);  // the stale entry was found and discarded
  EXPECT_EQ(ok(aat::reflect(after)).bindings[0].block_size, 9u * 4);
  ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options()));
  EXPECT_EQ(compiler.cache_stats().hits, 1u);  // the rebuilt entry is good
}

TEST_F(ShaderTest, DeletedHeaderInvalidatesTheEntry) {
  write_text(include_dir() / "common.glsl", kHeader);
  ShaderCompiler compiler(cache_dir());
  ok(compiler.compile(kUsesHeader, "uses_header.comp", header_options()));
  fs::remove(include_dir() / "common.glsl");
  EXPECT_TRUE(FailsWith(compiler.compile(kUsesHeader, "uses_header.comp", header_options()),
                        ErrorCode::shader_compile, {"common.glsl"}));
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
}

// Compiles once (a miss), damages the entry with `damage`, compiles again: the entry must be
// rejected, and the result must still be the right SPIR-V; then the rebuilt entry hits.
template <class Damage>
void expect_damaged_entry_rebuilt(const fs::path& cache_dir, const fs::path& entry_folder, Damage damage) {
  ShaderCompiler compiler(cache_dir);
  const auto good = ok(compiler.compile(kPlain, "plain.comp"));
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(entry_folder)) found.push_back(e.path());
  ASSERT_EQ(found.size(), 1u);
  auto bytes = read_bytes(found.front());
  damage(bytes, good);
  write_bytes(found.front(), bytes);

  const auto again = ok(compiler.compile(kPlain, "plain.comp"));
  EXPECT_EQ(again, good);
  EXPECT_EQ(compiler.cache_stats().rejected, 1u);
  EXPECT_EQ(compiler.cache_stats().hits, 0u);
  EXPECT_EQ(compiler.cache_stats().misses, 2u);
  EXPECT_TRUE(aat::check_spirv(again, "rebuilt").has_value());

  ok(compiler.compile(kPlain, "plain.comp"));
  EXPECT_EQ(compiler.cache_stats().hits, 1u);
  EXPECT_EQ(compiler.cache_stats().rejected, 1u);
}

TEST_F(ShaderTest, CacheEntryWithFlippedBytesIsRejected) {
  expect_damaged_entry_rebuilt(cache_dir(), cache_dir() / "spirv", [](std::vector<std::byte>& bytes, const Spirv&) {
    bytes[bytes.size() / 2] ^= std::byte{0xff};
    bytes[bytes.size() / 2 + 1] ^= std::byte{0x55};
  });
}

TEST_F(ShaderTest, TruncatedCacheEntryIsRejected) {
  expect_damaged_entry_rebuilt(cache_dir(), cache_dir() / "spirv",
                               [](std::vector<std::byte>& bytes, const Spirv&) { bytes.resize(bytes.size() / 2); });
}

TEST_F(ShaderTest, EmptyCacheEntryIsRejected) {
  expect_damaged_entry_rebuilt(cache_dir(), cache_dir() / "spirv",
                               [](std::vector<std::byte>& bytes, const Spirv&) { bytes.clear(); });
}

TEST_F(ShaderTest, CacheEntryWithValidChecksumButInvalidSpirvIsRejected) {
  // Breaks the module itself (its id bound), then re-seals the entry with a correct checksum:
  // only validating the SPIR-V can catch this.
  expect_damaged_entry_rebuilt(cache_dir(), cache_dir() / "spirv", [](std::vector<std::byte>& bytes, const Spirv& good) {
    const std::size_t spirv_start = bytes.size() - 8 - good.size() * 4;
    ASSERT_EQ(std::memcmp(bytes.data() + spirv_start, good.data(), good.size() * 4), 0);
    const std::uint32_t bound = 2;  // far fewer ids than the module uses
    std::memcpy(bytes.data() + spirv_start + 3 * 4, &bound, 4);
    const std::uint64_t checksum = fnv1a(bytes.data(), bytes.size() - 8);
    std::memcpy(bytes.data() + bytes.size() - 8, &checksum, 8);
  });
}

// --- loading .spv files ------------------------------------------------------------------

class LoadSpirvTest : public ShaderTest {
 protected:
  Spirv valid() { return ok(ShaderCompiler().compile(kPlain, "plain.comp")); }
};

TEST_F(LoadSpirvTest, LoadsAValidModule) {
  const auto spirv = valid();
  write_bytes(dir() / "good.spv", as_bytes(spirv));
  EXPECT_EQ(ok(aat::load_spirv(dir() / "good.spv")), spirv);
}

TEST_F(LoadSpirvTest, GarbageIsAParseErrorNamingTheFile) {
  std::vector<std::byte> garbage(64);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::byte>(i * 37 + 11);
  write_bytes(dir() / "garbage.spv", garbage);
  EXPECT_TRUE(FailsWith(aat::load_spirv(dir() / "garbage.spv"), ErrorCode::parse, {"garbage.spv"}));
}

TEST_F(LoadSpirvTest, WrongMagicIsAParseErrorNamingTheFileAndTheMagic) {
  auto spirv = valid();
  spirv[0] = 0x12345678;
  write_bytes(dir() / "wrong_magic.spv", as_bytes(spirv));
  EXPECT_TRUE(FailsWith(aat::load_spirv(dir() / "wrong_magic.spv"), ErrorCode::parse,
                        {"wrong_magic.spv", "magic", "0x12345678"}));
}

TEST_F(LoadSpirvTest, TruncatedModulesAreParseErrorsNamingTheFile) {
  const auto bytes = as_bytes(valid());
  struct Cut { const char* name; std::size_t size; };
  for (const Cut cut : {Cut{"empty.spv", 0}, Cut{"header_only.spv", 12}, Cut{"odd_size.spv", bytes.size() - 6},
                        Cut{"half.spv", bytes.size() / 8 * 4}}) {
    write_bytes(dir() / cut.name, std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut.size)));
    EXPECT_TRUE(FailsWith(aat::load_spirv(dir() / cut.name), ErrorCode::parse, {cut.name})) << cut.name;
  }
}

TEST_F(LoadSpirvTest, ValidMagicButInvalidModuleIsAParseErrorNamingTheFile) {
  std::vector<std::uint32_t> words = {0x07230203, 0x00010500, 0, 100, 0};
  for (std::uint32_t i = 0; i < 32; ++i) words.push_back(0xabcd0000u + i);
  write_bytes(dir() / "invalid_module.spv", as_bytes(words));
  EXPECT_TRUE(FailsWith(aat::load_spirv(dir() / "invalid_module.spv"), ErrorCode::parse,
                        {"invalid_module.spv", "not valid SPIR-V"}));
}

TEST_F(LoadSpirvTest, MissingFileIsAnIoErrorNamingIt) {
  EXPECT_TRUE(FailsWith(aat::load_spirv(dir() / "missing.spv"), ErrorCode::io, {"missing.spv"}));
}

TEST_F(LoadSpirvTest, SpirvFromBytesNamesWhatItWasGiven) {
  const std::vector<std::byte> three(3);
  EXPECT_TRUE(FailsWith(aat::spirv_from_bytes(three, "<inline module>"), ErrorCode::parse, {"<inline module>"}));
  const auto bytes = as_bytes(valid());
  EXPECT_EQ(ok(aat::spirv_from_bytes(bytes, "<inline module>")), valid());
}

}  // namespace
