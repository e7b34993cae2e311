// Every input a fuzzer crashed on (docs/reliability.md), replayed through the same fuzz target
// (fuzz/targets.cpp) in the normal and the sanitizer test runs, plus each bug's own test.
// The inputs live in tests/data/fuzz/<target>/; a new crash is fixed and its input added there.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "device_test.hpp"
#include "targets.hpp"

namespace aat {
namespace {

namespace fs = std::filesystem;
using testing::unwrap;

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzRegressions, EveryRecordedInputRunsCleanlyThroughItsTarget) {
  const fs::path root = AAT_FUZZ_REGRESSION_DIR;
  int replayed = 0;
  for (const auto& target : fuzz::targets()) {
    const fs::path folder = root / std::string(target.name);
    if (!fs::is_directory(folder)) continue;
    for (const auto& entry : fs::directory_iterator(folder)) {
      SCOPED_TRACE(entry.path().string());
      const auto bytes = read_bytes(entry.path());
      EXPECT_EQ(target.run(bytes), 0);  // a crash or a broken property aborts the test binary
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 4);
}

// Found by fuzz_spirv and fuzz_plugin_descriptor: a name in the module (OpName) that is not
// UTF-8 made KernelInterface::to_json throw nlohmann::json::type_error, so `aat reflect --json`
// and `aat plugins --json` died in std::terminate.
TEST(FuzzRegressions, NamesThatAreNotUtf8AreReplacedInJson) {
  const auto bytes = read_bytes(fs::path(AAT_FUZZ_REGRESSION_DIR) / "spirv" / "invalid-utf8-name.spv");
  auto spirv = unwrap(spirv_from_bytes(std::as_bytes(std::span(bytes)), "invalid-utf8-name.spv"));
  auto interface = unwrap(reflect(spirv));
  ASSERT_FALSE(interface.bindings.empty());
  EXPECT_EQ(static_cast<unsigned char>(interface.bindings[0].block_name[0]), 0xffu);
  std::string json;
  EXPECT_NO_THROW(json = interface.to_json());
  EXPECT_THAT(json, ::testing::HasSubstr("\xEF\xBF\xBD" "Buffer"));  // U+FFFD, then the rest of the name
}

// Found by fuzz_value: parse_value accepted u64 text above INT64_MAX (carried as its bit
// pattern) but encode_value refused that very Value, so `--push n=18446744073709551615` failed.
TEST(FuzzRegressions, U64AboveInt64MaxParsesAndEncodes) {
  auto parsed = unwrap(parse_value("18446744073709551615", ScalarType::u64));
  EXPECT_EQ(unwrap(encode_value(parsed, ScalarType::u64)), ~std::uint64_t{0});
  auto top = unwrap(parse_value("0x8000000000000000", ScalarType::u64));
  EXPECT_EQ(unwrap(encode_value(top, ScalarType::u64)), std::uint64_t{1} << 63);
  auto list = unwrap(parse_values("1,18446744073709551614", ScalarType::u64));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(unwrap(encode_value(list[1], ScalarType::u64)), ~std::uint64_t{0} - 1);
  // Negative text is still out of range for an unsigned type.
  for (const char* text : {"-1", "-9223372036854775808", "-18446744073709551615"}) {
    auto negative = parse_value(text, ScalarType::u64);
    ASSERT_FALSE(negative) << text;
    EXPECT_EQ(negative.error().code(), ErrorCode::invalid_argument) << text;
  }
  EXPECT_EQ(unwrap(encode_value(unwrap(parse_value("-0", ScalarType::u64)), ScalarType::u64)), 0u);
}

// Found in review of the GLSL intake while writing fuzz_glsl: `#include "/dev/zero"` read
// forever (and a FIFO would block); includes are now regular files only.
TEST(FuzzRegressions, IncludingADeviceFileIsAnErrorNotAHang) {
  ShaderCompiler compiler;
  auto spirv = compiler.compile(
      "#version 450\n#extension GL_GOOGLE_include_directive : require\n#include \"/dev/zero\"\n"
      "layout(local_size_x = 1) in;\nvoid main() {}\n",
      "dev_zero.comp");
  ASSERT_FALSE(spirv);
  EXPECT_EQ(spirv.error().code(), ErrorCode::shader_compile);
  EXPECT_THAT(spirv.error().what(), ::testing::HasSubstr("/dev/zero"));
}

// Found by fuzz_npy: a .npy whose shape has a zero beside dimensions past 2^48, e.g.
// (2 * 10^18, 0, 38759700887, 661, 3), is a valid empty array; the typed view refused it as too
// large, depending on where the zero stood.
TEST(FuzzRegressions, AZeroDimensionBesideHugeOnesIsAnEmptyArray) {
  const std::int64_t huge = std::int64_t{1} << 60;
  for (const auto& shape : {std::vector<std::int64_t>{huge, 0, 3}, std::vector<std::int64_t>{0, huge, 3}}) {
    EXPECT_EQ(unwrap(array_bytes(DType::f32, shape, "array")), 0u);
    const HostArray array{DType::f32, shape, {}};
    EXPECT_TRUE(unwrap(array.as<float>()).empty());
  }
  EXPECT_FALSE(array_bytes(DType::f32, std::vector<std::int64_t>{huge, 1}, "array").has_value());
}

}  // namespace
}  // namespace aat
