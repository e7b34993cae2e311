// Context: which Vulkan devices exist, which one AAT picks (and how AAT_DEVICE-style selectors
// name one), what the created device reports, validation capture and memory accounting.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::unwrap;

using aat::testing::FailsWith;

DeviceInfo fake_device(std::uint32_t index, std::string name, DeviceType type) {
  DeviceInfo info;
  info.index = index;
  info.name = std::move(name);
  info.type = type;
  return info;
}

// A machine with a CPU device first, as the loader lists lavapipe next to real GPUs.
std::vector<DeviceInfo> mixed_devices() {
  return {fake_device(0, "llvmpipe (LLVM 15.0.6, 256 bits)", DeviceType::cpu),
          fake_device(1, "Intel(R) UHD Graphics 770", DeviceType::integrated_gpu),
          fake_device(2, "NVIDIA GeForce RTX 4090", DeviceType::discrete_gpu)};
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// --- enumeration -------------------------------------------------------------------------

// These tests read the real device list; they need lavapipe (always there in CI, absent on a
// GPU machine without Mesa, where they are skipped).
bool lavapipe_installed() {
  const auto devices = Context::enumerate_devices();
  return devices && std::any_of(devices->begin(), devices->end(),
                                [](const DeviceInfo& d) { return d.name.find("llvmpipe") != std::string::npos; });
}

#define SKIP_WITHOUT_LAVAPIPE() \
  if (!lavapipe_installed()) GTEST_SKIP() << "lavapipe (Mesa's llvmpipe) is not installed here"

TEST(DeviceEnumerationTest, ListsLavapipe) {
  SKIP_WITHOUT_LAVAPIPE();
  const auto devices = unwrap(Context::enumerate_devices());
  ASSERT_FALSE(devices.empty());
  EXPECT_TRUE(std::any_of(devices.begin(), devices.end(),
                          [](const DeviceInfo& d) { return d.name.find("llvmpipe") != std::string::npos; }));
}

TEST(DeviceEnumerationTest, IndicesAreEnumerationPositions) {
  const auto devices = unwrap(Context::enumerate_devices());
  for (std::uint32_t i = 0; i < devices.size(); ++i) EXPECT_EQ(devices[i].index, i);
}

TEST(DeviceEnumerationTest, LavapipeReportsACpuDeviceWithVulkan12OrNewer) {
  SKIP_WITHOUT_LAVAPIPE();
  const auto devices = unwrap(Context::enumerate_devices());
  const auto lavapipe = std::find_if(devices.begin(), devices.end(),
                                     [](const DeviceInfo& d) { return d.name.find("llvmpipe") != std::string::npos; });
  ASSERT_NE(lavapipe, devices.end());
  EXPECT_EQ(lavapipe->type, DeviceType::cpu);
  EXPECT_GE(lavapipe->api_version, (1u << 22) | (2u << 12));  // VK_MAKE_API_VERSION(0, 1, 2, 0)
  EXPECT_EQ(lavapipe->api_version_string().substr(0, 2), "1.");
}

// --- choosing a device -------------------------------------------------------------------

TEST(ChooseDeviceTest, PrefersDiscreteOverIntegratedOverCpu) {
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "")), 2u);
}

TEST(ChooseDeviceTest, PrefersIntegratedOverCpuWhenNoDiscrete) {
  auto devices = mixed_devices();
  devices.pop_back();
  EXPECT_EQ(unwrap(Context::choose_device(devices, "")), 1u);
}

TEST(ChooseDeviceTest, PrefersVirtualAndOtherOverCpu) {
  const std::vector<DeviceInfo> devices = {fake_device(0, "llvmpipe", DeviceType::cpu),
                                           fake_device(1, "odd", DeviceType::other),
                                           fake_device(2, "virtio-gpu", DeviceType::virtual_gpu)};
  EXPECT_EQ(unwrap(Context::choose_device(devices, "")), 2u);
  EXPECT_EQ(unwrap(Context::choose_device({devices[0], devices[1]}, "")), 1u);
}

TEST(ChooseDeviceTest, TakesTheFirstOfEquallyRankedDevices) {
  const std::vector<DeviceInfo> devices = {fake_device(0, "llvmpipe", DeviceType::cpu),
                                           fake_device(1, "GPU A", DeviceType::discrete_gpu),
                                           fake_device(2, "GPU B", DeviceType::discrete_gpu)};
  EXPECT_EQ(unwrap(Context::choose_device(devices, "")), 1u);
}

TEST(ChooseDeviceTest, OnlyACpuDeviceIsStillChosen) {
  EXPECT_EQ(unwrap(Context::choose_device({fake_device(0, "llvmpipe", DeviceType::cpu)}, "")), 0u);
}

TEST(ChooseDeviceTest, IndexSelectorPicksThatDeviceEvenIfWorse) {
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "0")), 0u);
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "1")), 1u);
}

TEST(ChooseDeviceTest, NameSelectorIsACaseInsensitiveSubstring) {
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "llvmpipe")), 0u);
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "LLVMPIPE")), 0u);
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "rtx 40")), 2u);
  EXPECT_EQ(unwrap(Context::choose_device(mixed_devices(), "uhd")), 1u);
}

TEST(ChooseDeviceTest, OutOfRangeIndexIsNotFoundNamingItAndListingDevices) {
  EXPECT_TRUE(FailsWith(Context::choose_device(mixed_devices(), "3"), ErrorCode::not_found,
                        {"index 3", "0: llvmpipe", "1: Intel(R) UHD Graphics 770", "2: NVIDIA GeForce RTX 4090"}));
}

TEST(ChooseDeviceTest, HugeIndexIsNotFound) {
  EXPECT_TRUE(FailsWith(Context::choose_device(mixed_devices(), "99999999999999999999999"), ErrorCode::not_found,
                        {"99999999999999999999999"}));
}

TEST(ChooseDeviceTest, UnknownNameIsNotFoundNamingItAndListingDevices) {
  EXPECT_TRUE(FailsWith(Context::choose_device(mixed_devices(), "radeon"), ErrorCode::not_found,
                        {"'radeon'", "0: llvmpipe", "2: NVIDIA GeForce RTX 4090"}));
}

TEST(ChooseDeviceTest, EmptyListIsNoDeviceWithAnActionableMessage) {
  for (const char* selector : {"", "0", "llvmpipe"}) {
    EXPECT_TRUE(FailsWith(Context::choose_device({}, selector), ErrorCode::no_device,
                          {"no Vulkan device", "apt-get install mesa-vulkan-drivers"}))
        << "selector '" << selector << "'";
  }
}

TEST(ChooseDeviceTest, SelectorsWorkOnTheRealDeviceList) {
  SKIP_WITHOUT_LAVAPIPE();
  const auto devices = unwrap(Context::enumerate_devices());
  const auto chosen = unwrap(Context::choose_device(devices, "LlvmPipe"));
  ASSERT_LT(chosen, devices.size());
  EXPECT_NE(lowercase(devices[chosen].name).find("llvmpipe"), std::string::npos);
  EXPECT_EQ(unwrap(Context::choose_device(devices, std::to_string(chosen))), chosen);
}

TEST(ContextCreateTest, UnknownDeviceSelectorFailsCreation) {
  SKIP_WITHOUT_LAVAPIPE();
  ContextOptions options;
  options.device = "no-such-device-anywhere";
  options.validation = false;
  EXPECT_TRUE(FailsWith(Context::create(options), ErrorCode::not_found, {"'no-such-device-anywhere'", "llvmpipe"}));
}

// --- the created context -----------------------------------------------------------------

class ContextTest : public DeviceTest {};

TEST_F(ContextTest, DeviceHasANameAndAType) {
  EXPECT_FALSE(context()->device().name.empty());
  EXPECT_FALSE(context()->device().driver_name.empty());
}

TEST_F(ContextTest, LimitsAreAllPositive) {
  const DeviceLimits& limits = context()->device().limits;
  EXPECT_GT(limits.max_shared_memory_bytes, 0u);
  EXPECT_GT(limits.max_workgroup_invocations, 0u);
  for (int axis = 0; axis < 3; ++axis) {
    EXPECT_GT(limits.max_workgroup_size[axis], 0u) << axis;
    EXPECT_GT(limits.max_workgroup_count[axis], 0u) << axis;
  }
  EXPECT_GT(limits.subgroup_size, 0u);
  EXPECT_GT(limits.min_subgroup_size, 0u);
  EXPECT_GE(limits.max_subgroup_size, limits.min_subgroup_size);
  EXPECT_GE(limits.max_push_constant_bytes, 128u);  // the Vulkan minimum
  EXPECT_GT(limits.max_storage_buffer_range, 0u);
  EXPECT_GT(limits.max_allocation_bytes, 0u);
  EXPECT_GT(limits.device_local_bytes, 0u);
}

TEST_F(ContextTest, TheSharedTestContextHasValidationOn) { EXPECT_TRUE(context()->validation_enabled()); }

TEST_F(ContextTest, NoValidationMessagesWhenNothingIsWrong) {
  auto buffer = unwrap(Buffer::create(context(), 64));
  const std::vector<std::byte> zeros(64);
  AAT_ASSERT_OK(buffer.write(zeros));
  EXPECT_TRUE(context()->take_validation_messages().empty());
}

TEST_F(ContextTest, CacheDirComesFromXdgCacheHome) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg == nullptr || *xdg == '\0') GTEST_SKIP() << "XDG_CACHE_HOME is not set";
  EXPECT_EQ(context()->cache_dir(), std::filesystem::path(xdg) / "aat");
  EXPECT_EQ(default_cache_dir(), std::filesystem::path(xdg) / "aat");
}

TEST(ContextOptionsTest, ValidationOffMeansNoMessagesAndNoLayer) {
  ContextOptions options;
  options.validation = false;
  auto context = unwrap(Context::create(options));
  EXPECT_FALSE(context->validation_enabled());
  EXPECT_TRUE(context->take_validation_messages().empty());
}

TEST(ContextOptionsTest, CacheDirOptionIsUsed) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "aat_context_cache_dir_option";
  std::filesystem::remove_all(dir);
  ContextOptions options;
  options.validation = false;
  options.cache_dir = dir;
  auto context = unwrap(Context::create(options));
  EXPECT_EQ(context->cache_dir(), dir);
  AAT_ASSERT_OK(context->save_pipeline_cache());
  EXPECT_TRUE(std::filesystem::exists(dir / "pipelines"));
  std::filesystem::remove_all(dir);
}

// --- memory accounting -------------------------------------------------------------------

TEST_F(ContextTest, LiveBytesGrowWithABufferAndShrinkWhenItIsDestroyed) {
  const MemoryStats before = context()->memory_stats();
  {
    auto buffer = unwrap(Buffer::create(context(), 10000));
    const MemoryStats during = context()->memory_stats();
    EXPECT_GE(during.live_bytes, before.live_bytes + 10000);
    EXPECT_EQ(during.live_buffers, before.live_buffers + 1);
    EXPECT_GE(during.peak_bytes, during.live_bytes);
    EXPECT_GE(during.reserved_bytes, during.live_bytes);
  }
  const MemoryStats after = context()->memory_stats();
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.live_buffers, before.live_buffers);
}

TEST_F(ContextTest, CopiesOfABufferShareOneAllocation) {
  const MemoryStats before = context()->memory_stats();
  auto buffer = unwrap(Buffer::create(context(), 4096));
  const Buffer copy = buffer;  // NOLINT(performance-unnecessary-copy-initialization): the point of the test
  EXPECT_EQ(context()->memory_stats().live_buffers, before.live_buffers + 1);
  buffer = Buffer();
  EXPECT_EQ(context()->memory_stats().live_buffers, before.live_buffers + 1);  // `copy` still holds it
}

TEST_F(ContextTest, PeakRemembersTheHighestLiveBytesUntilReset) {
  context()->reset_peak_memory();
  const MemoryStats start = context()->memory_stats();
  EXPECT_EQ(start.peak_bytes, start.live_bytes);
  { auto big = unwrap(Buffer::create(context(), 1 << 20)); }
  const MemoryStats after = context()->memory_stats();
  EXPECT_EQ(after.live_bytes, start.live_bytes);
  EXPECT_GE(after.peak_bytes, start.live_bytes + (1 << 20));
  context()->reset_peak_memory();
  EXPECT_EQ(context()->memory_stats().peak_bytes, start.live_bytes);
}

}  // namespace
}  // namespace aat
