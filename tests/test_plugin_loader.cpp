// The plugin registry: good plugins load, bad ones are refused with a reason, and one bad
// plugin never stops the others from loading.
#include <filesystem>
#include <fstream>

#include "aat/plugin.hpp"
#include "device_test.hpp"

namespace aat {
namespace {

namespace fs = std::filesystem;

const fs::path kBadPlugins = AAT_TEST_PLUGIN_DIR;
const fs::path kExamplePlugin = fs::path(AAT_BUILD_PLUGIN_DIR) / "libaat-example.so";

TEST(PluginLoader, LoadsTheExamplePluginWithItsKernelsAndOps) {
  PluginRegistry registry;
  auto loaded = registry.load(kExamplePlugin);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().what();
  const Plugin* plugin = registry.find("example");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->path, kExamplePlugin);
  EXPECT_EQ(plugin->version, "0.1.0");
  const PluginKernel* kernel = plugin->find_kernel("scale");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->source, "scale.comp");
  EXPECT_NE(kernel->interface.find_binding("x"), nullptr);
  const PluginOp* op = registry.find_op("example-scale");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->plugin, "example");
  ASSERT_NE(op->signature.find_tensor("x"), nullptr);
  EXPECT_EQ(op->signature.find_tensor("out")->role, OpRole::output);
  ASSERT_NE(op->signature.find_param("alpha"), nullptr);
  EXPECT_EQ(op->signature.find_param("alpha")->default_value, "1");
}

TEST(PluginLoader, RefusesAWrongAbiVersionNamingBothVersions) {
  PluginRegistry registry;
  auto loaded = registry.load(kBadPlugins / "libaat-test-wrong_abi.so");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::abi_mismatch);
  const std::string message = loaded.error().what();
  EXPECT_THAT(message, ::testing::HasSubstr("version " + std::to_string(AAT_PLUGIN_ABI_VERSION + 41)));
  EXPECT_THAT(message, ::testing::HasSubstr("version " + std::to_string(AAT_PLUGIN_ABI_VERSION)));
  EXPECT_THAT(message, ::testing::HasSubstr("libaat-test-wrong_abi.so"));
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginLoader, RefusesAPluginOfTheOldAbiVersion2) {
  PluginRegistry registry;
  auto loaded = registry.load(fs::path(AAT_TEST_OLD_ABI_PLUGIN_DIR) / "libaat-test-abi_v2.so");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::abi_mismatch);
  const std::string message = loaded.error().what();
  EXPECT_THAT(message, ::testing::HasSubstr("built for AAT plugin ABI version 2"));
  EXPECT_THAT(message, ::testing::HasSubstr("this host uses version 3"));
  EXPECT_THAT(message, ::testing::HasSubstr("rebuild the plugin"));
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginLoader, RefusesALibraryWithoutTheEntrySymbol) {
  PluginRegistry registry;
  auto loaded = registry.load(kBadPlugins / "libaat-test-no_entry.so");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::plugin);
  EXPECT_THAT(loaded.error().what(), ::testing::HasSubstr("aat_plugin_entry"));
}

TEST(PluginLoader, RefusesAGarbageFile) {
  const fs::path garbage = fs::path(::testing::TempDir()) / "libaat-garbage.so";
  std::ofstream(garbage) << "this is not an ELF file";
  PluginRegistry registry;
  auto loaded = registry.load(garbage);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::plugin);
  EXPECT_THAT(loaded.error().what(), ::testing::HasSubstr("libaat-garbage.so"));
}

TEST(PluginLoader, RefusesAKernelWhoseWordsAreNotSpirv) {
  PluginRegistry registry;
  auto loaded = registry.load(kBadPlugins / "libaat-test-bad_spirv.so");
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().what(), ::testing::HasSubstr("broken"));
  EXPECT_THAT(loaded.error().what(), ::testing::HasSubstr("magic number"));
}

TEST(PluginLoader, RefusesADuplicateNamingTheFirstCopy) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.load(kExamplePlugin).has_value());
  const fs::path copy = fs::path(::testing::TempDir()) / "libaat-example-copy.so";
  fs::copy_file(kExamplePlugin, copy, fs::copy_options::overwrite_existing);
  auto loaded = registry.load(copy);
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().what(), ::testing::HasSubstr("already loaded from " + kExamplePlugin.string()));
  EXPECT_EQ(registry.plugins().size(), 1u);
}

TEST(PluginLoader, DiscoveryGoesOnPastBadPluginsAndReportsEach) {
  // AAT_PLUGIN_PATH = the bad plugins' folder, then the build's plugin folder.
  const std::string path = kBadPlugins.string() + ":" + AAT_BUILD_PLUGIN_DIR;
  ::setenv("AAT_PLUGIN_PATH", path.c_str(), 1);
  const auto folders = PluginRegistry::search_path();
  ASSERT_GE(folders.size(), 2u);
  // search_path() resolves links (the build folder may be reached through one).
  EXPECT_TRUE(std::filesystem::equivalent(folders[0], kBadPlugins)) << folders[0] << " vs " << kBadPlugins;
  auto registry = PluginRegistry::discover();
  ::setenv("AAT_PLUGIN_PATH", "", 1);
  EXPECT_NE(registry.find("example"), nullptr);
  EXPECT_EQ(registry.problems().size(), 3u);  // wrong_abi, no_entry, bad_spirv
  for (const auto& problem : registry.problems()) EXPECT_FALSE(problem.error.message().empty());
}

TEST(PluginDescriptor, RejectsNullAndMalformedDescriptors) {
  EXPECT_FALSE(read_plugin_descriptor(nullptr));
  aat_plugin_descriptor d{};
  d.abi_version = AAT_PLUGIN_ABI_VERSION;
  d.descriptor_size = sizeof(d) - 8;
  EXPECT_EQ(read_plugin_descriptor(&d).error().code(), ErrorCode::abi_mismatch);
  d.descriptor_size = sizeof(d);
  EXPECT_THAT(read_plugin_descriptor(&d).error().what(), ::testing::HasSubstr("plugin name is null"));
  d.name = "Bad Name";
  EXPECT_THAT(read_plugin_descriptor(&d).error().what(), ::testing::HasSubstr("must be lowercase"));
  d.name = "ok";
  d.version = "1";
  d.description = "";
  d.kernel_count = 3;  // with a null table
  EXPECT_THAT(read_plugin_descriptor(&d).error().what(), ::testing::HasSubstr("kernel table"));
  d.kernel_count = 0;
  aat_plugin_command command{"cmd", "summary", nullptr};
  d.commands = &command;
  d.command_count = 1;
  EXPECT_THAT(read_plugin_descriptor(&d).error().what(), ::testing::HasSubstr("has no function"));
}

}  // namespace
}  // namespace aat
