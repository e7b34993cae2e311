// Communicator: the MPI world of this process, with every wait bounded. Messages are bytes
// between two ranks; a wait that passes its deadline fails with an error naming the rank that
// did not answer (stuck, or gone), and marks the communicator broken: nothing more can be said
// to the others, whose own waits may never end, so the caller should abort() the job.
//
// MPI is initialised here (MPI_Init_thread, MPI_THREAD_FUNNELED: only the thread that made the
// Communicator calls MPI; device threads do not) unless the host program did it, and finalised
// when the Communicator goes, if it initialised MPI. MPI can be initialised once per process.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aat/error.hpp"

namespace aat::distributed {

using Clock = std::chrono::steady_clock;

// The moment a wait gives up, and the timeout it came from (for the message).
struct Deadline {
  Clock::time_point at;
  std::chrono::milliseconds timeout;
  static Deadline in(std::chrono::milliseconds timeout) { return {Clock::now() + timeout, timeout}; }
};

class Communicator {
 public:
  // MPI_COMM_WORLD of this process.
  static Expected<Communicator> world();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  ~Communicator();

  int rank() const;
  int size() const;
  // This rank's position among the ranks on the same host (0, 1, ...): which device it takes.
  int local_rank() const;
  const std::string& host() const;  // MPI_Get_processor_name
  const std::string& host_of(int rank) const;
  // "rank 2 (host-a)"; "rank 0 (root, host-a)" for rank 0.
  std::string name_of(int rank) const;

  // Sends `bytes` to rank `to` (any size: cut into pieces MPI counts can hold). Returns when
  // the receiver has them, or fails at the deadline naming `to`.
  Expected<void> send(int to, int tag, std::span<const std::byte> bytes, const Deadline& deadline);
  // The next message of `tag` from rank `from`, whatever its size.
  Expected<std::vector<std::byte>> receive(int from, int tag, const Deadline& deadline);

  // Whether a wait timed out or MPI failed: the ranks may no longer agree on what happens next.
  bool broken() const;
  // Ends every rank of the job (MPI_Abort), after the caller has said why.
  [[noreturn]] void abort(int code) const;

 private:
  struct State;
  explicit Communicator(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace aat::distributed
