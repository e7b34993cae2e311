// Stream: record dispatches, copies and fills; submit; wait; read back GPU time per dispatch.
// Record-then-submit, like a command buffer, but everything it touches is kept alive until
// the work is done, and barriers between commands are inserted for you by default.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aat/bindings.hpp"
#include "aat/kernel.hpp"
#include "aat/memory.hpp"

namespace aat {

struct DispatchTiming {
  std::string label;
  double gpu_ms = 0;
};

struct StreamState;  // private

class Stream {
 public:
  static Expected<Stream> create(const std::shared_ptr<Context>& context);
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  ~Stream();  // waits for submitted work

  // Validates the bindings (all bound, sizes, push constants) and records the dispatch.
  Expected<void> dispatch(const Bindings& bindings, Workgroups groups, std::string label = {});
  Expected<void> copy(const Buffer& source, const Buffer& destination, std::uint64_t bytes,
                      std::uint64_t source_offset = 0, std::uint64_t destination_offset = 0);
  // Fills `bytes` bytes (a multiple of 4; default: the whole buffer) with a repeated 32-bit word.
  Expected<void> fill(const Buffer& buffer, std::uint32_t word = 0, std::uint64_t bytes = ~0ull);

  // With auto barriers (the default) every command waits for the writes of the one before.
  // Turn them off to let independent dispatches overlap, and call barrier() where needed.
  void set_auto_barriers(bool enabled);
  void barrier();

  Expected<void> submit();
  Expected<void> wait(std::chrono::milliseconds timeout = std::chrono::minutes(2));
  Expected<void> run() {  // submit + wait
    AAT_CHECK(submit());
    return wait();
  }
  // After wait(): start recording anew (timings and kept-alive resources are dropped).
  Expected<void> reset();

  // After wait(): GPU time of each dispatch in recording order (empty when the queue has no
  // timestamps). Labels default to the kernel name.
  const std::vector<DispatchTiming>& timings() const;
  double total_gpu_ms() const;
  bool has_timestamps() const;

 private:
  explicit Stream(std::unique_ptr<StreamState> state);
  std::unique_ptr<StreamState> state_;
};

}  // namespace aat
