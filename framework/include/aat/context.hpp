// Context: the Vulkan instance, the chosen device, its compute queue and the on-disk caches.
// Created once per process (or per device) and shared: everything made from it keeps it alive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aat/error.hpp"

namespace aat {

enum class DeviceType { discrete_gpu, integrated_gpu, virtual_gpu, cpu, other };
std::string_view to_string(DeviceType type);

struct DeviceLimits {
  std::uint32_t max_shared_memory_bytes = 0;
  std::uint32_t max_workgroup_invocations = 0;
  std::uint32_t max_workgroup_size[3] = {0, 0, 0};
  std::uint32_t max_workgroup_count[3] = {0, 0, 0};
  std::uint32_t subgroup_size = 0;       // the default one
  std::uint32_t min_subgroup_size = 0;   // with subgroup size control, else = subgroup_size
  std::uint32_t max_subgroup_size = 0;
  std::uint32_t max_push_constant_bytes = 0;
  std::uint64_t max_storage_buffer_range = 0;
  std::uint64_t max_allocation_bytes = 0;
  std::uint64_t device_local_bytes = 0;  // the largest device-local heap
  std::uint32_t compute_units = 0;       // SMs/CUs where the driver says (VK_NV_shader_sm_builtins), else 0
  double timestamp_period_ns = 0;        // 0: no timestamps on the compute queue
};

struct DeviceFeatures {
  bool shader_float16 = false;
  bool shader_int8 = false;
  bool storage_buffer_16bit = false;
  bool storage_buffer_8bit = false;
  bool vulkan_memory_model = false;
  bool subgroup_size_control = false;
  // Subgroup operations in compute shaders (the compute stage among the device's subgroup
  // stages and these among its operations): the decode, tensor-core and pattern kernels need them.
  bool subgroup_arithmetic = false;
  bool subgroup_vote = false;
  bool subgroup_shuffle = false;
  bool maintenance4 = false;           // Vulkan 1.3: needed by SPIR-V 1.6 kernels with a specialized workgroup size
  bool cooperative_matrix_nv = false;  // VK_NV_cooperative_matrix
  // VK_KHR_cooperative_matrix with a subgroup-scope 16x16x16 shape of f16 x f16 -> f32.
  bool cooperative_matrix_khr = false;
  // VK_NV_cooperative_matrix2 (on top of the KHR extension): each feature it defines, and its limits.
  struct CooperativeMatrix2 {
    bool workgroup_scope = false;
    bool flexible_dimensions = false;
    bool reductions = false;
    bool conversions = false;
    bool per_element_operations = false;
    bool tensor_addressing = false;
    bool block_loads = false;
    std::uint32_t workgroup_scope_max_workgroup_size = 0;
    std::uint32_t flexible_dimensions_max_dimension = 0;
    std::uint32_t workgroup_scope_reserved_shared_memory = 0;
    // Every feature above: what AAT's coopmat2 kernels use (the tensor-core attention uses six
    // of the seven; block loads come with the same drivers and are required too, as ggml does).
    bool all() const {
      return workgroup_scope && flexible_dimensions && reductions && conversions && per_element_operations &&
             tensor_addressing && block_loads;
    }
  } cooperative_matrix2;
  bool robust_buffer_access = false;   // enabled on the device only when ContextOptions asks
  bool pipeline_statistics = false;    // VK_KHR_pipeline_executable_properties: registers, spills, ...
};

struct DeviceInfo {
  std::uint32_t index = 0;  // position in the loader's enumeration; what AAT_DEVICE=<index> names
  std::string name;
  DeviceType type = DeviceType::other;
  std::uint32_t vendor_id = 0;
  std::uint32_t device_id = 0;
  std::uint32_t api_version = 0;
  std::string driver_name;
  std::string driver_info;
  DeviceLimits limits;
  DeviceFeatures features;

  std::string api_version_string() const;  // "1.3.230"
};

struct ContextOptions {
  // Index or case-insensitive name substring. Empty: the AAT_DEVICE environment variable, and
  // when that is unset too, the best device (discrete GPU, integrated, virtual, then CPU).
  std::string device;
  // Validation layer on/off. Unset: on when AAT_VALIDATION=1.
  std::optional<bool> validation;
  // Enable robustBufferAccess when the device offers it (out-of-bounds reads return 0, writes dropped).
  bool robust_buffer_access = false;
  // Root of the SPIR-V and pipeline caches. Empty: $XDG_CACHE_HOME/aat or ~/.cache/aat.
  std::filesystem::path cache_dir;
  // Treat MemoryKind::device buffers as not host-visible even where the memory is mapped
  // (unified-memory devices such as lavapipe), so Buffer::write/read take the staging-buffer
  // path a discrete GPU uses. For testing that path; costs a copy per transfer.
  bool force_staging = false;

  // Testing aids (docs/reliability.md). Both may be called from any thread and must not throw.
  //
  // Called with every validation message, besides keeping it for take_validation_messages(),
  // until the Vulkan instance is gone: it also hears what the layer reports while the context
  // is torn down, e.g. Vulkan objects still alive at vkDestroyDevice/vkDestroyInstance, when
  // nothing can call take_validation_messages() any more. The test suite's leak check listens here.
  std::function<void(const std::string& message)> on_validation_message;
  // Asked before every device-memory allocation (vkAllocateMemory) with its size in bytes;
  // returning false fails that allocation with ErrorCode::out_of_memory, as a device that ran
  // out would. Called with the allocator's lock held. For injecting allocation failures; unset:
  // every allocation is attempted.
  std::function<bool(std::uint64_t bytes)> allocation_filter;
};

struct MemoryStats {
  std::uint64_t live_bytes = 0;      // bytes held by live buffers
  std::uint64_t peak_bytes = 0;      // the most live_bytes ever reached
  std::uint64_t reserved_bytes = 0;  // device memory held by the allocator's blocks
  std::uint64_t live_buffers = 0;
};

// What the context's kernel cache holds (docs/architecture.md, "The context owns derived objects").
struct KernelCacheStats {
  std::uint64_t programs = 0;          // distinct SPIR-V modules, each reflected once
  std::uint64_t pipelines = 0;         // one per (SPIR-V, specialization bytes, required subgroup size)
  std::uint64_t set_layouts = 0;       // descriptor-set layouts, shared by kernels binding alike
  std::uint64_t pipeline_layouts = 0;  // shared likewise
  std::uint64_t descriptor_sets = 0;   // allocated so far; each is reused by later dispatches
};

struct ContextState;  // private: the Vulkan objects

class Context {
 public:
  static Expected<std::shared_ptr<Context>> create(const ContextOptions& options = {});
  // Every Vulkan device the loader sees, in AAT_DEVICE index order (no device is created).
  static Expected<std::vector<DeviceInfo>> enumerate_devices();
  // Which of `devices` the selector (index or name substring; empty = best) picks.
  static Expected<std::uint32_t> choose_device(const std::vector<DeviceInfo>& devices,
                                               const std::string& selector);

  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const DeviceInfo& device() const;
  const std::filesystem::path& cache_dir() const;
  bool validation_enabled() const;
  MemoryStats memory_stats() const;
  void reset_peak_memory();
  KernelCacheStats kernel_cache_stats() const;

  // Validation messages (errors and warnings) reported since the last call. Thread-safe.
  std::vector<std::string> take_validation_messages();

  // Writes the pipeline cache to disk now (also done at destruction).
  Expected<void> save_pipeline_cache();

  ContextState& state() const { return *state_; }
  std::shared_ptr<ContextState> shared_state() const { return state_; }

 private:
  explicit Context(std::shared_ptr<ContextState> state);
  std::shared_ptr<ContextState> state_;
};

std::filesystem::path default_cache_dir();

}  // namespace aat
