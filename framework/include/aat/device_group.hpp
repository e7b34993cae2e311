// DeviceGroup: one context per entry of a device list, and work run on all of them at once,
// one thread each. An entry may repeat: "0,0" opens two contexts (two VkDevices) on device 0,
// which is how a machine with one device (CI's lavapipe) exercises the several-device paths.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aat/context.hpp"
#include "aat/error.hpp"

namespace aat {

class DeviceGroup {
 public:
  // One context per selector (an index or a name substring, as ContextOptions::device), each
  // with `base`'s other options. Errors name the entry that failed ("device 2 of the list (7): ...").
  static Expected<DeviceGroup> create(std::span<const std::string> selectors, const ContextOptions& base = {});
  // A group over contexts the caller made (at least one).
  static Expected<DeviceGroup> from_contexts(std::vector<std::shared_ptr<Context>> contexts);

  std::size_t size() const { return contexts_.size(); }
  const std::shared_ptr<Context>& context(std::size_t i) const { return contexts_.at(i); }
  const std::vector<std::shared_ptr<Context>>& contexts() const { return contexts_; }

  // Runs work(i) for every member i, each on a thread of its own, and waits for all of them.
  // Returns the error of the lowest-numbered member that failed, with its device named ("device
  // 1 (llvmpipe): ..."); an exception thrown by `work` becomes such an error.
  using Work = std::function<Expected<void>(std::size_t member)>;
  Expected<void> run_each(const Work& work) const;

  // "0 (NVIDIA H200), 1 (NVIDIA H200)"
  std::string describe() const;

 private:
  std::vector<std::shared_ptr<Context>> contexts_;
};

// Splits "0,1,0" into {"0", "1", "0"}; empty entries are an error.
Expected<std::vector<std::string>> parse_device_list(std::string_view list);

}  // namespace aat
