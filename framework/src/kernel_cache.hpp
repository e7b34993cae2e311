// The context's one cache of derived Vulkan objects (docs/architecture.md, "The context owns
// derived objects"): reflected programs by SPIR-V digest, descriptor-set and pipeline layouts by
// what they hold (shared by every kernel with the same interface), pipelines by (SPIR-V,
// specialization bytes, required subgroup size), recycled descriptor sets per set layout, and
// the placeholder buffer bound where a kernel leaves a binding unused. Thread-safe. Private to
// the framework.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <vulkan/vulkan_raii.hpp>

#include "aat/context.hpp"
#include "aat/error.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"

namespace aat {
struct ContextState;
}

namespace aat::detail {

// A descriptor-set layout and the sets made from it. A set is taken for one dispatch and given
// back once the stream that recorded it is done with it; sets are rewritten before every use.
class SetLayout {
 public:
  struct Entry {
    std::uint32_t binding;
    vk::DescriptorType type;
    std::uint32_t count;
    auto operator<=>(const Entry&) const = default;
  };
  SetLayout(const vk::raii::Device& device, std::vector<Entry> entries);
  const vk::raii::DescriptorSetLayout& layout() const { return layout_; }
  Expected<vk::DescriptorSet> take();
  void give_back(vk::DescriptorSet set);
  std::uint64_t allocated() const;

 private:
  const vk::raii::Device& device_;
  std::vector<Entry> entries_;
  vk::raii::DescriptorSetLayout layout_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<vk::raii::DescriptorPool> pools_;
  std::uint32_t room_ = 0;  // sets the newest pool can still hand out
  std::vector<vk::DescriptorSet> free_;
  std::uint64_t allocated_ = 0;
};

struct PipelineLayout {
  std::vector<std::shared_ptr<SetLayout>> sets;  // index = set number (empty sets included)
  vk::raii::PipelineLayout layout = nullptr;
};

// A SPIR-V module as the framework knows it: the words, their reflection and what they ask of
// the device.
struct Program {
  std::uint64_t digest = 0;
  Spirv spirv;
  KernelInterface interface;
  bool workgroup_scope_matrices = false;
  std::shared_ptr<PipelineLayout> layout;
};

// One pipeline: a program specialized, with a required subgroup size or none.
struct CompiledKernel {
  std::shared_ptr<const Program> program;
  std::vector<std::byte> specialization;  // every reflected constant, in id order
  std::uint32_t required_subgroup_size = 0;
  std::array<std::uint32_t, 3> local_size{1, 1, 1};
  vk::raii::Pipeline pipeline = nullptr;
};

class KernelCache {
 public:
  // The program for these words: reflected, checked against the device and given its layouts
  // on first sight, shared afterwards. `name` is used in messages.
  Expected<std::shared_ptr<const Program>> program(ContextState& context, std::span<const std::uint32_t> spirv,
                                                   const std::string& name);
  // The pipeline of `program` with `specialization` (bytes in id order, see kernel.cpp), built
  // on first use.
  Expected<std::shared_ptr<const CompiledKernel>> pipeline(ContextState& context,
                                                           const std::shared_ptr<const Program>& program,
                                                           std::vector<std::byte> specialization,
                                                           std::array<std::uint32_t, 3> local_size,
                                                           std::uint32_t required_subgroup_size,
                                                           const std::string& name);
  // A 16-byte device buffer bound where a dispatch leaves a binding unused.
  Expected<vk::Buffer> placeholder(ContextState& context);
  static constexpr std::uint64_t kPlaceholderBytes = 16;

  KernelCacheStats stats() const;

 private:
  Expected<std::shared_ptr<PipelineLayout>> layout_for(ContextState& context, const KernelInterface& interface);

  mutable std::mutex mutex_;
  std::multimap<std::uint64_t, std::shared_ptr<const Program>> programs_;  // by digest (words compared)
  std::map<std::vector<SetLayout::Entry>, std::shared_ptr<SetLayout>> set_layouts_;
  std::map<std::tuple<std::vector<const SetLayout*>, std::uint32_t>, std::shared_ptr<PipelineLayout>> pipeline_layouts_;
  std::map<std::tuple<const Program*, std::vector<std::byte>, std::uint32_t>, std::shared_ptr<const CompiledKernel>>
      pipelines_;
  std::mutex placeholder_mutex_;
  vk::raii::DeviceMemory placeholder_memory_ = nullptr;
  vk::raii::Buffer placeholder_buffer_ = nullptr;
};

// A digest of SPIR-V words (FNV-1a over 32-bit words): the cache's first key; equal digests are
// confirmed by comparing the words.
std::uint64_t spirv_digest(std::span<const std::uint32_t> words);

}  // namespace aat::detail
