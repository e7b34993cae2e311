// What an aat::Kernel holds: its name and the context's cached pipeline. Private to the framework.
#pragma once

#include <memory>
#include <string>

#include "context_state.hpp"
#include "kernel_cache.hpp"
#include "aat/kernel.hpp"

namespace aat {

struct KernelState {
  std::shared_ptr<ContextState> context;
  std::string name;
  std::shared_ptr<const detail::CompiledKernel> compiled;  // shared with every kernel of the same key
  std::uint64_t shared_bytes = 0;                          // of its Workgroup variables, as specialized

  const detail::Program& program() const { return *compiled->program; }
  const KernelInterface& interface() const { return compiled->program->interface; }
  const detail::PipelineLayout& layout() const { return *compiled->program->layout; }
  const std::array<std::uint32_t, 3>& local_size() const { return compiled->local_size; }
};

}  // namespace aat
