#include "aat/context.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <span>

#include <fmt/format.h>

#include "context_state.hpp"
#include "device_query.hpp"
#include "file_util.hpp"
#include "vk_error.hpp"

namespace aat {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

bool validation_requested(const ContextOptions& options) {
  if (options.validation) return *options.validation;
  const std::string value = env_or_empty("AAT_VALIDATION");
  return !value.empty() && value != "0" && value != "false";
}

bool layer_available(const vk::raii::Context& loader, const char* name) {
  const auto layers = loader.enumerateInstanceLayerProperties();
  return std::any_of(layers.begin(), layers.end(), [&](const vk::LayerProperties& layer) {
    return std::strcmp(layer.layerName.data(), name) == 0;
  });
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                     void* user) {
  auto* sink = static_cast<ValidationSink*>(user);
  const char* level = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning";
  const std::string message = fmt::format("validation {}: {}", level, data->pMessage ? data->pMessage : "");
  {
    std::lock_guard lock(sink->mutex);
    sink->messages.push_back(message);
  }
  // Called by the layer from inside a Vulkan call: nothing may unwind through it.
  if (sink->forward) {
    try {
      sink->forward(message);
    } catch (...) {
    }
  }
  return VK_FALSE;
}

vk::DebugUtilsMessengerCreateInfoEXT messenger_info(ValidationSink* sink) {
  return vk::DebugUtilsMessengerCreateInfoEXT{
      .messageSeverity = vk::DebugUtilsMessageSeverityFlagBitsEXT::eWarning |
                         vk::DebugUtilsMessageSeverityFlagBitsEXT::eError,
      .messageType = vk::DebugUtilsMessageTypeFlagBitsEXT::eValidation |
                     vk::DebugUtilsMessageTypeFlagBitsEXT::ePerformance,
      .pfnUserCallback = &on_validation_message,
      .pUserData = sink,
  };
}

Expected<vk::raii::Instance> create_instance(const vk::raii::Context& loader, ValidationSink* sink) {
  const vk::ApplicationInfo app{.pApplicationName = "aat",
                                .applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
                                .pEngineName = "aat",
                                .apiVersion = VK_API_VERSION_1_3};
  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  // Synchronization validation catches missing barriers, the bug class hardest to see otherwise.
  const vk::ValidationFeatureEnableEXT enables[] = {vk::ValidationFeatureEnableEXT::eSynchronizationValidation};
  vk::ValidationFeaturesEXT features{.enabledValidationFeatureCount = 1, .pEnabledValidationFeatures = enables};
  const auto debug_info = messenger_info(sink);
  const void* next = nullptr;
  if (sink) {
    if (!layer_available(loader, kValidationLayer))
      return fail(ErrorCode::validation,
                  "validation was requested (AAT_VALIDATION=1) but the layer VK_LAYER_KHRONOS_validation "
                  "is not installed (Debian: apt-get install vulkan-validationlayers)");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    features.pNext = &debug_info;  // also reports problems in instance creation itself
    next = &features;
  }
  const vk::InstanceCreateInfo info{.pNext = next,
                                    .pApplicationInfo = &app,
                                    .enabledLayerCount = static_cast<std::uint32_t>(layers.size()),
                                    .ppEnabledLayerNames = layers.data(),
                                    .enabledExtensionCount = static_cast<std::uint32_t>(extensions.size()),
                                    .ppEnabledExtensionNames = extensions.data()};
  return detail::vk_call("creating the Vulkan instance", [&] { return vk::raii::Instance(loader, info); });
}

int type_rank(DeviceType type) {
  switch (type) {
    case DeviceType::discrete_gpu: return 0;
    case DeviceType::integrated_gpu: return 1;
    case DeviceType::virtual_gpu: return 2;
    case DeviceType::other: return 3;
    case DeviceType::cpu: return 4;
  }
  return 5;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string device_list(const std::vector<DeviceInfo>& devices) {
  std::string list;
  for (const auto& d : devices) list += fmt::format("{}{}: {}", list.empty() ? "" : ", ", d.index, d.name);
  return list;
}

std::filesystem::path pipeline_cache_file(const std::filesystem::path& cache_dir, const DeviceInfo& info,
                                          const vk::PhysicalDeviceProperties& properties) {
  std::string uuid;
  for (auto byte : properties.pipelineCacheUUID) uuid += fmt::format("{:02x}", byte);
  return cache_dir / "pipelines" / fmt::format("{:04x}-{:04x}-{}.bin", info.vendor_id, info.device_id, uuid);
}

// Vulkan pipeline cache header (VkPipelineCacheHeaderVersionOne): a corrupt or foreign file
// must never reach the driver, some of which trust it.
bool pipeline_cache_header_matches(const std::vector<std::byte>& data, const vk::PhysicalDeviceProperties& props) {
  if (data.size() < 32) return false;
  std::uint32_t header[4];
  std::memcpy(header, data.data(), sizeof(header));
  return header[0] >= 32 && header[0] <= data.size() && header[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         header[2] == props.vendorID && header[3] == props.deviceID &&
         std::memcmp(data.data() + 16, props.pipelineCacheUUID.data(), VK_UUID_SIZE) == 0;
}

Expected<std::uint32_t> compute_queue_family(const vk::raii::PhysicalDevice& physical, const std::string& name) {
  const auto families = physical.getQueueFamilyProperties();
  // Prefer a compute queue without graphics (async compute) only when it also has timestamps.
  std::optional<std::uint32_t> any;
  for (std::uint32_t i = 0; i < families.size(); ++i) {
    if (!(families[i].queueFlags & vk::QueueFlagBits::eCompute)) continue;
    if (!any) any = i;
  }
  if (!any) return fail(ErrorCode::no_device, "device '" + name + "' has no compute queue");
  return *any;
}

}  // namespace

std::string_view to_string(DeviceType type) {
  switch (type) {
    case DeviceType::discrete_gpu: return "discrete GPU";
    case DeviceType::integrated_gpu: return "integrated GPU";
    case DeviceType::virtual_gpu: return "virtual GPU";
    case DeviceType::cpu: return "CPU";
    case DeviceType::other: return "other";
  }
  return "other";
}

std::string DeviceInfo::api_version_string() const {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(api_version), VK_API_VERSION_MINOR(api_version),
                     VK_API_VERSION_PATCH(api_version));
}

std::filesystem::path default_cache_dir() {
  const std::string xdg = env_or_empty("XDG_CACHE_HOME");
  if (!xdg.empty()) return std::filesystem::path(xdg) / "aat";
  const std::string home = env_or_empty("HOME");
  if (!home.empty()) return std::filesystem::path(home) / ".cache" / "aat";
  return std::filesystem::temp_directory_path() / "aat-cache";
}

Expected<std::vector<DeviceInfo>> Context::enumerate_devices() {
  return detail::vk_call("listing Vulkan devices", [&] {
    vk::raii::Context loader;
    const vk::ApplicationInfo app{.apiVersion = VK_API_VERSION_1_3};
    vk::raii::Instance instance(loader, vk::InstanceCreateInfo{.pApplicationInfo = &app});
    std::vector<DeviceInfo> devices;
    std::uint32_t index = 0;
    for (const auto& physical : vk::raii::PhysicalDevices(instance))
      devices.push_back(detail::query_device(*instance, physical, index++));
    return devices;
  });
}

Expected<std::uint32_t> Context::choose_device(const std::vector<DeviceInfo>& devices, const std::string& selector) {
  if (devices.empty())
    return fail(ErrorCode::no_device,
                "no Vulkan device found: install a GPU driver, or Mesa's lavapipe for the CPU "
                "(Debian: apt-get install mesa-vulkan-drivers)");
  if (selector.empty()) {
    const auto best = std::min_element(devices.begin(), devices.end(), [](const DeviceInfo& a, const DeviceInfo& b) {
      return type_rank(a.type) < type_rank(b.type);
    });
    return best->index;
  }
  if (std::all_of(selector.begin(), selector.end(), [](unsigned char c) { return std::isdigit(c); })) {
    const auto index = std::strtoul(selector.c_str(), nullptr, 10);
    if (index < devices.size()) return static_cast<std::uint32_t>(index);
    return fail(ErrorCode::not_found, fmt::format("device index {} does not exist; devices: {}", selector,
                                                  device_list(devices)));
  }
  for (const auto& device : devices)
    if (lowercase(device.name).find(lowercase(selector)) != std::string::npos) return device.index;
  return fail(ErrorCode::not_found,
              fmt::format("no device name contains '{}'; devices: {}", selector, device_list(devices)));
}

Expected<std::shared_ptr<Context>> Context::create(const ContextOptions& options) {
  auto state = std::make_shared<ContextState>();
  if (validation_requested(options)) {
    state->validation = std::make_unique<ValidationSink>();
    state->validation->forward = options.on_validation_message;
  }

  AAT_TRY(state->instance, create_instance(state->loader, state->validation.get()));
  if (state->validation) {
    AAT_TRY(state->messenger, detail::vk_call("creating the validation messenger", [&] {
              return vk::raii::DebugUtilsMessengerEXT(state->instance, messenger_info(state->validation.get()));
            }));
  }

  AAT_TRY(auto physicals, detail::vk_call("listing Vulkan devices", [&] {
            return vk::raii::PhysicalDevices(state->instance);
          }));
  std::vector<DeviceInfo> devices;
  for (std::uint32_t i = 0; i < physicals.size(); ++i)
    devices.push_back(detail::query_device(*state->instance, physicals[i], i));
  const std::string selector = options.device.empty() ? env_or_empty("AAT_DEVICE") : options.device;
  AAT_TRY(const std::uint32_t chosen, choose_device(devices, selector));
  state->physical = std::move(physicals[chosen]);
  state->info = devices[chosen];
  if (state->info.api_version < VK_API_VERSION_1_2)
    return fail(ErrorCode::unsupported, fmt::format("device '{}' offers Vulkan {}; AAT needs 1.2 or newer",
                                                    state->info.name, state->info.api_version_string()));
  if (!options.robust_buffer_access) state->info.features.robust_buffer_access = false;

  AAT_TRY(state->queue_family, compute_queue_family(state->physical, state->info.name));
  detail::EnabledFeatures features;
  features.select(state->physical, state->info, options.robust_buffer_access);
  const float priority = 1.0f;
  const vk::DeviceQueueCreateInfo queue_info{
      .queueFamilyIndex = state->queue_family, .queueCount = 1, .pQueuePriorities = &priority};
  const vk::DeviceCreateInfo device_info{
      .pNext = &features.core,
      .queueCreateInfoCount = 1,
      .pQueueCreateInfos = &queue_info,
      .enabledExtensionCount = static_cast<std::uint32_t>(features.extensions.size()),
      .ppEnabledExtensionNames = features.extensions.data()};
  AAT_TRY(state->device, detail::vk_call("creating the device for '" + state->info.name + "'", [&] {
            return vk::raii::Device(state->physical, device_info);
          }));
  state->queue = vk::raii::Queue(state->device, state->queue_family, 0);
  state->allocator.emplace(state->physical, state->device, options.allocation_filter);
  state->force_staging = options.force_staging;

  state->cache_dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  const auto properties = state->physical.getProperties();
  state->pipeline_cache_path = pipeline_cache_file(state->cache_dir, state->info, properties);
  std::vector<std::byte> initial;
  if (auto data = detail::read_file_bytes(state->pipeline_cache_path);
      data && pipeline_cache_header_matches(*data, properties))
    initial = std::move(*data);
  const auto create_cache = [&](std::span<const std::byte> data) {
    return detail::vk_call("creating the pipeline cache", [&] {
      return vk::raii::PipelineCache(state->device, vk::PipelineCacheCreateInfo{.initialDataSize = data.size(),
                                                                                .pInitialData = data.data()});
    });
  };
  auto cache = create_cache(initial);
  // Data behind a matching header can still be corrupt; a driver that notices may refuse the
  // whole cache (NVIDIA returns VK_ERROR_UNKNOWN). Start empty then: the file is rewritten at
  // teardown, and a bad cache file never stops a context from being made.
  if (!cache && !initial.empty()) cache = create_cache({});
  AAT_TRY(state->pipeline_cache, std::move(cache));
  return std::shared_ptr<Context>(new Context(std::move(state)));
}

Context::Context(std::shared_ptr<ContextState> state) : state_(std::move(state)) {}

Context::~Context() {
  // A cache that cannot be written only costs time on the next start; never fail teardown for it.
  (void)save_pipeline_cache();
}

ContextState::~ContextState() {
  if (*device) device.waitIdle();
}

const DeviceInfo& Context::device() const { return state_->info; }
const std::filesystem::path& Context::cache_dir() const { return state_->cache_dir; }
bool Context::validation_enabled() const { return state_->validation != nullptr; }
MemoryStats Context::memory_stats() const { return state_->allocator->stats(); }
void Context::reset_peak_memory() { state_->allocator->reset_peak(); }
KernelCacheStats Context::kernel_cache_stats() const { return state_->kernels.stats(); }

std::vector<std::string> Context::take_validation_messages() {
  if (!state_->validation) return {};
  std::lock_guard lock(state_->validation->mutex);
  return std::exchange(state_->validation->messages, {});
}

Expected<void> Context::save_pipeline_cache() {
  AAT_TRY(auto data, detail::vk_call("reading the pipeline cache", [&] { return state_->pipeline_cache.getData(); }));
  return detail::write_file_atomic(state_->pipeline_cache_path,
                                   std::as_bytes(std::span(data.data(), data.size())));
}

}  // namespace aat
