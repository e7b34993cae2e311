// Kernel: a compute pipeline built from SPIR-V and its reflection — descriptor-set layouts,
// pipeline layout, push-constant range and specialization, all derived, none hand-written.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
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

// Specialization-constant values by name or decimal id ("TILE" or "3"); typed from the reflection.
using SpecValues = std::vector<std::pair<std::string, Value>>;

struct KernelOptions {
  SpecValues spec;
  // Require this subgroup size (0: the driver's choice). Needs subgroup size control.
  std::uint32_t required_subgroup_size = 0;
};

// Every specialization constant of `interface` as bits by id: `values` over the reflected defaults.
// `not_found` for a name the kernel lacks (listing those it has), or the value's error where its
// constant's type cannot hold it; `kernel` names the kernel in messages.
Expected<SpecBits> specialization_bits(const KernelInterface& interface, const SpecValues& values,
                                       std::string_view kernel);

// A kernel's generated Specialization (aat-bindgen's `plugin_gen::<plugin>::<kernel>::Specialization`),
// which the header of a kernel the build skipped declares without defining.
template <class S>
concept GeneratedSpecialization = requires(const S& s) {
  { s.entries() } -> std::same_as<SpecValues>;
};

// The entries of generated Specialization S once `set` has filled in what a configuration needs:
// `specialization_entries<gen::Specialization>([&](auto& s) { s.TILE = 64; })`. Where the build
// skipped the kernel (its family's compiler was missing), `set` is never instantiated and there
// are no entries; that kernel's SPIR-V is empty, which Kernel::create refuses.
template <class S, class Set>
SpecValues specialization_entries(Set&& set) {
  if constexpr (GeneratedSpecialization<S>) {
    S s{};
    std::forward<Set>(set)(s);
    return s.entries();
  } else {
    return {};
  }
}

// The shared memory of generated Specialization S filled in by `set` (S::shared_bytes(): the
// kernel's reflection); `unsupported` where the build skipped the kernel.
template <class S, class Set>
Expected<std::uint64_t> specialization_shared_bytes(Set&& set) {
  if constexpr (GeneratedSpecialization<S>) {
    S s{};
    std::forward<Set>(set)(s);
    return s.shared_bytes();
  } else {
    return fail(ErrorCode::unsupported, "the build skipped this kernel (no shader compiler here knows its family)");
  }
}

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
  // Shared memory (bytes) after specialization, as KernelInterface::shared_bytes counts it;
  // create() refuses a specialization needing more than the device has.
  std::uint64_t shared_bytes() const;
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
