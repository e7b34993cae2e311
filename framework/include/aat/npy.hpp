// NumPy .npy reading and writing: the interchange format of the CLI, tests and benches.
// Supported: little-endian f32 ('<f4'), f16 ('<f2'), i32 ('<i4'), u8 ('|u1'), C order, any rank
// (rank 0 included), format versions 1.0, 2.0 and 3.0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aat/dtype.hpp"
#include "aat/error.hpp"
#include "aat/host_array.hpp"

namespace aat {

// What a .npy header says about the data after it.
struct NpyHeader {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t data_offset = 0;  // where the data starts in the file
  std::uint64_t data_bytes = 0;   // element_count * size_of(dtype), checked against the file's size
};

// A .npy file mapped read-only into memory (mmap): open() parses and checks the header, and the
// file's length against it, touching only the header's pages; the data is read from disk when
// (and only where) data() is read, and never counts as memory the process allocated. So a
// caller can refuse an array from its header (too large for the device, wrong shape) before a
// byte of it is read. Copies share the mapping, which lives until the last copy goes.
class MappedNpy {
 public:
  static Expected<MappedNpy> open(const std::filesystem::path& path);

  const NpyHeader& header() const { return header_; }
  std::span<const std::byte> data() const { return data_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Mapping;
  std::shared_ptr<Mapping> mapping_;
  NpyHeader header_;
  std::span<const std::byte> data_;
  std::filesystem::path path_;
};

// Errors name the file and the problem: truncated header or data, Fortran order, an
// unsupported dtype such as '<f8' (with the list of supported ones), a malformed header.
// Regular files are read through MappedNpy (header checked before the data is read); pipes and
// other files that cannot be mapped are read to their end.
Expected<HostArray> read_npy(const std::filesystem::path& path);
Expected<HostArray> parse_npy(std::span<const std::byte> bytes, std::string_view what = "<memory>");

Expected<void> write_npy(const std::filesystem::path& path, DType dtype,
                         std::span<const std::int64_t> shape, std::span<const std::byte> data);
Expected<void> write_npy(const std::filesystem::path& path, const HostArray& array);
std::vector<std::byte> serialize_npy(DType dtype, std::span<const std::int64_t> shape,
                                     std::span<const std::byte> data);

}  // namespace aat
