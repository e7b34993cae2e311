// DeviceGroup: contexts from a device list, work on each on a thread of its own, errors named.
#include <atomic>
#include <stdexcept>
#include <thread>

#include "aat/device_group.hpp"
#include "device_test.hpp"

namespace aat {
namespace {

using aat::testing::FailsWith;

TEST(DeviceList, SplitsOnCommasAndRefusesEmptyEntries) {
  auto list = parse_device_list("0,1,0");
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, (std::vector<std::string>{"0", "1", "0"}));
  EXPECT_EQ(*parse_device_list("llvmpipe"), std::vector<std::string>{"llvmpipe"});
  for (const char* bad : {"", ",", "0,", ",0", "0,,1"})
    EXPECT_TRUE(FailsWith(parse_device_list(bad), ErrorCode::invalid_argument, {"empty entry"})) << bad;
}

class DeviceGroupTest : public aat::testing::DeviceTest {};

TEST_F(DeviceGroupTest, RunsEveryMemberOnItsOwnThread) {
  auto group = DeviceGroup::from_contexts({context(), context(), context()});
  ASSERT_TRUE(group);
  EXPECT_EQ(group->size(), 3u);
  std::atomic<int> calls = 0;
  std::vector<std::thread::id> threads(3);
  ASSERT_TRUE(group->run_each([&](std::size_t i) -> Expected<void> {
    threads[i] = std::this_thread::get_id();
    ++calls;
    return {};
  }));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_NE(threads[0], threads[1]);
  EXPECT_NE(threads[1], threads[2]);
  EXPECT_NE(threads[0], std::this_thread::get_id());
  EXPECT_THAT(group->describe(), ::testing::HasSubstr(context()->device().name));
}

TEST_F(DeviceGroupTest, ReturnsTheFirstFailingMembersErrorWithItsDevice) {
  auto group = DeviceGroup::from_contexts({context(), context(), context()});
  ASSERT_TRUE(group);
  const auto result = group->run_each([](std::size_t i) -> Expected<void> {
    if (i == 0) return {};
    if (i == 1) return fail(ErrorCode::out_of_memory, "member one ran out");
    throw std::runtime_error("member two threw");
  });
  EXPECT_TRUE(FailsWith(result, ErrorCode::out_of_memory, {"device 1 (", "member one ran out"}));
  const auto thrown = group->run_each([](std::size_t i) -> Expected<void> {
    if (i == 2) throw std::runtime_error("member two threw");
    return {};
  });
  EXPECT_TRUE(FailsWith(thrown, ErrorCode::internal, {"device 2 (", "member two threw"}));
}

TEST_F(DeviceGroupTest, RefusesEmptyGroupsAndNamesTheEntryThatCannotOpen) {
  EXPECT_TRUE(FailsWith(DeviceGroup::from_contexts({}), ErrorCode::invalid_argument, {"at least one"}));
  EXPECT_TRUE(FailsWith(DeviceGroup::from_contexts({context(), nullptr}), ErrorCode::invalid_argument, {"context 1"}));
  const std::vector<std::string> none;
  EXPECT_TRUE(FailsWith(DeviceGroup::create(none), ErrorCode::invalid_argument, {"at least one"}));
  const std::vector<std::string> missing{"0", "99"};
  EXPECT_TRUE(FailsWith(DeviceGroup::create(missing), ErrorCode::not_found, {"device 1 of the list (99)"}));
}

}  // namespace
}  // namespace aat
