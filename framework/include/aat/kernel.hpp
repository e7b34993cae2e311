// Kernel: a compute pipeline built from SPIR-V and its reflection — descriptor-set layouts,
// pipeline layout, push-constant range and specialization, all derived, none hand-written.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aat/context.hpp"
#include "aat/reflect.hpp"
#include "aat/shader.hpp"
#include "aat/value.hpp"

namespace aat {

struct Workgroups {
  std::uint32_t x = 1, y = 1, z = 1;
};

struct KernelOptions {
  // Specialization constants by name or decimal id ("TILE" or "3"); typed from the reflection.
  std::vector<std::pair<std::string, Value>> spec;
  // Require this subgroup size (0: the driver's choice). Needs subgroup size control.
  std::uint32_t required_subgroup_size = 0;
};

// One statistic the driver reports for a compiled pipeline (registers, spills, shared memory,
// instruction counts — names and meanings are the driver's).
struct KernelStatistic {
  std::string executable;  // the driver's name for the compiled stage
  std::string name;
  std::string description;
  std::string value;
};

struct KernelState;  // private

class Kernel {
 public:
  Kernel() = default;
  // The context's kernel cache makes this cheap after the first call for the same SPIR-V,
  // specialization and subgroup size: the reflection, layouts and pipeline are shared, so a
  // plugin keeps no kernel map of its own and calls create() where it needs a kernel.
  static Expected<Kernel> create(const std::shared_ptr<Context>& context, Spirv spirv, std::string name,
                                 const KernelOptions& options = {});
  static Expected<Kernel> create(const std::shared_ptr<Context>& context, std::span<const std::uint32_t> spirv,
                                 std::string name, const KernelOptions& options = {});

  explicit operator bool() const { return state_ != nullptr; }
  const std::string& name() const;
  const KernelInterface& interface() const;
  const Spirv& spirv() const;
  // The local size after specialization.
  std::array<std::uint32_t, 3> local_size() const;
  // Workgroups that cover `invocations` per axis (ceil division), checked against device limits.
  Expected<Workgroups> workgroups_for(std::array<std::uint64_t, 3> invocations) const;
  // What the driver says about the compiled pipeline (VK_KHR_pipeline_executable_properties);
  // `unsupported` where the device does not offer it.
  Expected<std::vector<KernelStatistic>> statistics() const;

  KernelState& state() const { return *state_; }
  const std::shared_ptr<KernelState>& shared_state() const { return state_; }

 private:
  explicit Kernel(std::shared_ptr<KernelState> state) : state_(std::move(state)) {}
  std::shared_ptr<KernelState> state_;
};

}  // namespace aat
