// The Vulkan objects behind aat::Context. Private to the framework.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <vulkan/vulkan_raii.hpp>

#include "allocator.hpp"
#include "kernel_cache.hpp"
#include "aat/context.hpp"

namespace aat {

// Collects validation-layer messages; the debug messenger's user data points here.
struct ValidationSink {
  std::mutex mutex;
  std::vector<std::string> messages;
  std::function<void(const std::string&)> forward;  // ContextOptions::on_validation_message
};

struct ContextState {
  vk::raii::Context loader;
  // Declared before the instance: the instance's own creation/destruction messages reach it.
  std::unique_ptr<ValidationSink> validation;  // null when validation is off
  vk::raii::Instance instance = nullptr;
  vk::raii::DebugUtilsMessengerEXT messenger = nullptr;
  vk::raii::PhysicalDevice physical = nullptr;
  vk::raii::Device device = nullptr;
  vk::raii::Queue queue = nullptr;
  std::uint32_t queue_family = 0;
  std::mutex queue_mutex;  // vkQueueSubmit needs external synchronisation
  vk::raii::PipelineCache pipeline_cache = nullptr;
  std::filesystem::path pipeline_cache_path;
  std::optional<detail::Allocator> allocator;
  DeviceInfo info;
  std::filesystem::path cache_dir;
  bool force_staging = false;  // ContextOptions::force_staging: device buffers are never mapped
  // Declared after the device: its pipelines, layouts and descriptor pools go first.
  detail::KernelCache kernels;

  ~ContextState();
};

}  // namespace aat
