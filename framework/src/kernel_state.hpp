// The Vulkan objects behind aat::Kernel. Private to the framework.
#pragma once

#include <memory>
#include <vector>

#include <vulkan/vulkan_raii.hpp>

#include "context_state.hpp"
#include "aat/kernel.hpp"

namespace aat {

struct KernelState {
  std::shared_ptr<ContextState> context;
  std::string name;
  Spirv spirv;
  KernelInterface interface;
  std::array<std::uint32_t, 3> local_size{1, 1, 1};
  std::vector<vk::raii::DescriptorSetLayout> set_layouts;  // index = set number (empty sets included)
  vk::raii::PipelineLayout layout = nullptr;
  vk::raii::Pipeline pipeline = nullptr;
};

}  // namespace aat
