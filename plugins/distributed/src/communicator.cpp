#include "aat/distributed/communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace aat::distributed {

namespace {

// MPI counts are ints: large messages travel in pieces of at most 1 GiB.
constexpr std::size_t kPiece = std::size_t{1} << 30;

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

struct Communicator::State {
  bool owns_mpi = false;  // this Communicator initialised MPI, so it finalises it
  bool broken = false;
  int rank = 0, size = 1, local_rank = 0;
  std::vector<std::string> hosts;  // of every rank

  ~State() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi && !finalized) MPI_Finalize();
  }

  // Tests `request` until it completes or the deadline passes; on timeout cancels it and names
  // the peer. Sleeps between tests (1 ms at first, up to 20 ms) so a waiting rank leaves its
  // core to the device threads and to the other ranks of an oversubscribed host.
  Expected<void> wait(MPI_Request& request, const Deadline& deadline, const std::string& what) {
    auto pause = std::chrono::microseconds(50);
    while (true) {
      int done = 0;
      const int code = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (code != MPI_SUCCESS) {
        broken = true;
        return fail(ErrorCode::io, fmt::format("{}: MPI failed: {}", what, mpi_error(code)));
      }
      if (done) return {};
      if (Clock::now() >= deadline.at) {
        MPI_Cancel(&request);
        MPI_Request_free(&request);
        broken = true;
        return fail(ErrorCode::timeout, fmt::format("{}: nothing within {:g} s; that rank is stuck or has died",
                                                    what, seconds(deadline.timeout)));
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
    }
  }
};

Communicator::Communicator(std::unique_ptr<State> state) : state_(std::move(state)) {}
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::~Communicator() = default;

Expected<Communicator> Communicator::world() {
  auto state = std::make_unique<State>();
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) return fail(ErrorCode::unsupported, "MPI was already finalised in this process (it starts once)");
  if (!initialized) {
    int provided = 0;
    const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (code != MPI_SUCCESS) return fail(ErrorCode::io, fmt::format("MPI_Init_thread failed: {}", mpi_error(code)));
    state->owns_mpi = true;
  }
  // Errors come back as codes (turned into aat::Error), not as an abort inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &state->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &state->size);
  // Every rank's host name, for messages that name a rank (a collective at start-up, when all
  // ranks are known to be alive: MPI_Init returned on all of them).
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  std::vector<char> names(static_cast<std::size_t>(state->size) * MPI_MAX_PROCESSOR_NAME);
  if (const int code = MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names.data(), MPI_MAX_PROCESSOR_NAME,
                                     MPI_CHAR, MPI_COMM_WORLD);
      code != MPI_SUCCESS)
    return fail(ErrorCode::io, fmt::format("exchanging host names: {}", mpi_error(code)));
  for (int r = 0; r < state->size; ++r)
    state->hosts.emplace_back(names.data() + static_cast<std::ptrdiff_t>(r) * MPI_MAX_PROCESSOR_NAME);
  MPI_Comm local;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, state->rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
    MPI_Comm_rank(local, &state->local_rank);
    MPI_Comm_free(&local);
  }
  return Communicator(std::move(state));
}

int Communicator::rank() const { return state_->rank; }
int Communicator::size() const { return state_->size; }
int Communicator::local_rank() const { return state_->local_rank; }
const std::string& Communicator::host() const { return host_of(state_->rank); }
const std::string& Communicator::host_of(int rank) const { return state_->hosts.at(static_cast<std::size_t>(rank)); }
bool Communicator::broken() const { return state_->broken; }

std::string Communicator::name_of(int rank) const {
  const std::string& host = host_of(rank);
  return rank == 0 ? fmt::format("rank 0 (root, {})", host) : fmt::format("rank {} ({})", rank, host);
}

Expected<void> Communicator::send(int to, int tag, std::span<const std::byte> bytes, const Deadline& deadline) {
  const std::string what = fmt::format("sending {} bytes to {}", bytes.size(), name_of(to));
  const std::uint64_t size = bytes.size();
  std::vector<MPI_Request> requests;
  MPI_Request header;
  if (const int code = MPI_Isend(&size, sizeof size, MPI_BYTE, to, tag, MPI_COMM_WORLD, &header); code != MPI_SUCCESS) {
    state_->broken = true;
    return fail(ErrorCode::io, fmt::format("{}: {}", what, mpi_error(code)));
  }
  AAT_CHECK(state_->wait(header, deadline, what));
  for (std::size_t at = 0; at < bytes.size(); at += kPiece) {
    const auto piece = static_cast<int>(std::min(kPiece, bytes.size() - at));
    MPI_Request request;
    // MPI_Isend takes a non-const buffer in older headers; it only reads it.
    auto* data = const_cast<std::byte*>(bytes.data() + at);
    if (const int code = MPI_Isend(data, piece, MPI_BYTE, to, tag, MPI_COMM_WORLD, &request); code != MPI_SUCCESS) {
      state_->broken = true;
      return fail(ErrorCode::io, fmt::format("{}: {}", what, mpi_error(code)));
    }
    AAT_CHECK(state_->wait(request, deadline, what));
  }
  return {};
}

Expected<std::vector<std::byte>> Communicator::receive(int from, int tag, const Deadline& deadline) {
  const std::string what = fmt::format("waiting for {}", name_of(from));
  std::uint64_t size = 0;
  MPI_Request header;
  if (const int code = MPI_Irecv(&size, sizeof size, MPI_BYTE, from, tag, MPI_COMM_WORLD, &header); code != MPI_SUCCESS) {
    state_->broken = true;
    return fail(ErrorCode::io, fmt::format("{}: {}", what, mpi_error(code)));
  }
  AAT_CHECK(state_->wait(header, deadline, what));
  std::vector<std::byte> bytes(size);
  for (std::size_t at = 0; at < bytes.size(); at += kPiece) {
    const auto piece = static_cast<int>(std::min(kPiece, bytes.size() - at));
    MPI_Request request;
    if (const int code = MPI_Irecv(bytes.data() + at, piece, MPI_BYTE, from, tag, MPI_COMM_WORLD, &request);
        code != MPI_SUCCESS) {
      state_->broken = true;
      return fail(ErrorCode::io, fmt::format("{}: {}", what, mpi_error(code)));
    }
    AAT_CHECK(state_->wait(request, deadline, what));
  }
  return bytes;
}

void Communicator::abort(int code) const { MPI_Abort(MPI_COMM_WORLD, code); std::abort(); }

}  // namespace aat::distributed
