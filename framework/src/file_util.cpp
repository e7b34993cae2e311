#include "file_util.hpp"

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace aat::detail {

std::optional<std::vector<std::byte>> read_file_bytes(const std::filesystem::path& path) {
  // Regular files only: a folder opens as a stream whose size reads as 2^63-1 bytes (and a
  // device or FIFO has no size), which sized the buffer below and threw std::bad_alloc.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const auto size = in.tellg();
  if (size < 0) return std::nullopt;
  std::vector<std::byte> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    return std::nullopt;
  return bytes;
}

Expected<void> write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return fail(ErrorCode::io, "cannot create folder '" + path.parent_path().string() + "': " + ec.message());

  std::ostringstream suffix;
  suffix << ".tmp." << ::getpid() << '.' << std::hash<std::thread::id>{}(std::this_thread::get_id()) << '.'
         << std::random_device{}();
  const auto temporary = path.string() + suffix.str();
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
      std::filesystem::remove(temporary, ec);
      return fail(ErrorCode::io, "cannot write '" + temporary + "'");
    }
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    return fail(ErrorCode::io, "cannot rename a temporary file to '" + path.string() + "': " + ec.message());
  }
  return {};
}

std::uint64_t fnv1a(std::span<const std::byte> bytes, std::uint64_t seed) {
  std::uint64_t hash = seed;
  for (std::byte b : bytes) {
    hash ^= static_cast<std::uint64_t>(b);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t seed) {
  return fnv1a(std::as_bytes(std::span(text.data(), text.size())), seed);
}

}  // namespace aat::detail
