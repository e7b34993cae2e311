#include "aat/npy.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aat {

// Array data is copied between files and memory byte for byte, so the host must match the
// little-endian layout that every supported descr uses.
static_assert(std::endian::native == std::endian::little, "aat .npy I/O needs a little-endian host");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kVersionOffset = 6;
constexpr std::size_t kLengthOffset = 8;
// NumPy pads headers so the data starts on this boundary (mmap and SIMD friendly).
constexpr std::size_t kDataAlign = 64;
// NumPy leaves room for the growth-axis size to reach this many digits, so a header can
// be rewritten in place when appending; mirroring it keeps our files byte-identical.
constexpr std::size_t kGrowthAxisMaxDigits = 21;
constexpr std::size_t kMaxHeaderEcho = 200;
constexpr std::string_view kSupportedDescrs = "'<f4' (f32), '<f2' (f16), '<i4' (i32), '|u1' (u8)";

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string_view as_chars(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string errno_message(int error_number) { return std::generic_category().message(error_number); }

// ---------------------------------------------------------------------------------------------
// dtype <-> descr

std::string_view descr_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return "<f4";
    case DType::f16: return "<f2";
    case DType::i32: return "<i4";
    case DType::u8: return "|u1";
  }
  return "?";
}

std::optional<DType> little_endian_dtype(std::string_view type_code) {
  if (type_code == "f4") return DType::f32;
  if (type_code == "f2") return DType::f16;
  if (type_code == "i4") return DType::i32;
  return std::nullopt;
}

Expected<DType> dtype_from_descr(std::string_view descr) {
  // Byte order is meaningless for one byte, and NumPy reads any marker (or none) for it.
  if (descr == "|u1" || descr == "<u1" || descr == ">u1" || descr == "=u1" || descr == "u1") {
    return DType::u8;
  }
  if (descr.starts_with('<')) {
    if (auto dtype = little_endian_dtype(descr.substr(1))) return *dtype;
  }
  if (descr.starts_with('>') && little_endian_dtype(descr.substr(1))) {
    return fail(ErrorCode::unsupported, "big-endian dtype " + in_quotes(descr) +
                                            " is not supported; convert with arr.astype(" +
                                            in_quotes("<" + std::string(descr.substr(1))) +
                                            ") (supported dtypes: " + std::string(kSupportedDescrs) + ")");
  }
  return fail(ErrorCode::unsupported, "unsupported dtype " + in_quotes(descr) +
                                          " (supported dtypes: " + std::string(kSupportedDescrs) + ")");
}

// ---------------------------------------------------------------------------------------------
// Shapes

std::string shape_tuple(std::span<const std::int64_t> shape) {
  if (shape.size() == 1) return "(" + std::to_string(shape[0]) + ",)";
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + ")";
}

// The data size in bytes, or an error for negative dimensions and sizes that overflow.
Expected<std::size_t> data_size(DType dtype, std::span<const std::int64_t> shape, ErrorCode code) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t count = 1;
  for (const std::int64_t dim : shape) {
    if (dim < 0) {
      return fail(code, "negative dimension " + std::to_string(dim) + " in shape " + shape_tuple(shape));
    }
    if (dim != 0 && count > kMax / dim) {
      return fail(code, "element count overflow: shape " + shape_tuple(shape) + " has more than " +
                            std::to_string(kMax) + " elements");
    }
    count *= dim;
  }
  const auto item = static_cast<std::int64_t>(size_of(dtype));
  if (count > kMax / item) {
    return fail(code, "element count overflow: shape " + shape_tuple(shape) + " of " +
                          std::string(to_string(dtype)) + " needs more than " + std::to_string(kMax) +
                          " bytes");
  }
  return static_cast<std::size_t>(count * item);
}

// ---------------------------------------------------------------------------------------------
// Header dict, a Python literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3,), }

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  Expected<Header> parse() {
    Header header;
    std::vector<std::string> seen;
    AAT_CHECK(expect('{'));
    while (!consume('}')) {
      AAT_TRY(std::string key, parse_string());
      if (std::ranges::find(seen, key) != seen.end()) return malformed("duplicate key " + in_quotes(key));
      AAT_CHECK(expect(':'));
      AAT_CHECK(parse_value(key, header));
      seen.push_back(std::move(key));
      // Python allows a trailing comma before the closing brace, and NumPy writes one.
      if (!consume(',')) {
        AAT_CHECK(expect('}'));
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) return malformed("unexpected text after the closing '}'");
    AAT_CHECK(check_required_keys(seen));
    return header;
  }

 private:
  Expected<void> check_required_keys(const std::vector<std::string>& seen) const {
    for (const char* key : {"descr", "fortran_order", "shape"}) {
      if (std::ranges::find(seen, key) == seen.end()) return malformed("missing key " + in_quotes(key));
    }
    return {};
  }

  std::unexpected<Error> malformed(const std::string& problem) const {
    std::string echo(text_.substr(0, kMaxHeaderEcho));
    if (text_.size() > kMaxHeaderEcho) echo += "...";
    while (!echo.empty() && (echo.back() == ' ' || echo.back() == '\n')) echo.pop_back();
    return fail(ErrorCode::parse,
                "malformed header: " + problem + " at offset " + std::to_string(pos_) + " in header " + echo);
  }

  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

  bool at(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }

  bool consume(char c) {
    if (!at(c)) return false;
    ++pos_;
    return true;
  }

  Expected<void> expect(char c) {
    if (consume(c)) return {};
    return malformed(std::string("expected '") + c + "'");
  }

  Expected<void> parse_value(const std::string& key, Header& header) {
    if (key == "descr") {
      // A list descr describes a structured (record) dtype.
      if (at('[')) {
        return fail(ErrorCode::unsupported, "structured dtypes are not supported (supported dtypes: " +
                                                std::string(kSupportedDescrs) + ")");
      }
      AAT_TRY(header.descr, parse_string());
      return {};
    }
    if (key == "fortran_order") {
      AAT_TRY(header.fortran_order, parse_bool());
      return {};
    }
    if (key == "shape") {
      AAT_TRY(header.shape, parse_shape());
      return {};
    }
    return malformed("unexpected key " + in_quotes(key));
  }

  Expected<std::string> parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return malformed("expected a quoted string");
    }
    const char quote = text_[pos_++];
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      // Only escaped quotes and backslashes can matter in keys and descrs.
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value += text_[pos_++];
    }
    if (pos_ >= text_.size()) return malformed("unterminated string");
    ++pos_;
    return value;
  }

  bool consume_word(std::string_view word) {
    skip_space();
    if (!text_.substr(pos_).starts_with(word)) return false;
    pos_ += word.size();
    return true;
  }

  Expected<bool> parse_bool() {
    if (consume_word("True")) return true;
    if (consume_word("False")) return false;
    return malformed("expected True or False for 'fortran_order'");
  }

  Expected<std::int64_t> parse_int() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '+') ++pos_;
    std::int64_t value = 0;
    const char* first = text_.data() + pos_;
    const auto [end, error] = std::from_chars(first, text_.data() + text_.size(), value);
    if (error == std::errc::result_out_of_range) return malformed("dimension too large for int64");
    if (error != std::errc()) return malformed("expected an integer dimension");
    pos_ += static_cast<std::size_t>(end - first);
    // Python 2 era writers emitted long literals such as 3L.
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;
    return value;
  }

  Expected<std::vector<std::int64_t>> parse_shape() {
    char close = ')';
    if (consume('[')) {
      close = ']';
    } else if (!consume('(')) {
      return malformed("expected a tuple for 'shape'");
    }
    std::vector<std::int64_t> shape;
    while (!consume(close)) {
      AAT_TRY(const std::int64_t dim, parse_int());
      shape.push_back(dim);
      if (!consume(',')) {
        AAT_CHECK(expect(close));
        break;
      }
    }
    return shape;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// File layout: magic, version, header length, header, data

struct Layout {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;
};

std::size_t read_le(std::span<const std::byte> bytes) {
  std::size_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) value = (value << 8) | std::to_integer<std::size_t>(bytes[i]);
  return value;
}

Expected<void> check_magic(std::span<const std::byte> bytes) {
  const std::string_view start = as_chars(bytes.first(std::min(bytes.size(), kMagic.size())));
  if (bytes.empty()) return fail(ErrorCode::parse, "not a .npy file (the file is empty)");
  if (!kMagic.starts_with(start)) {
    return fail(ErrorCode::parse, "not a .npy file (bad magic: it does not start with \"\\x93NUMPY\")");
  }
  if (start.size() < kMagic.size()) {
    return fail(ErrorCode::parse, "truncated header: the file ends after " + std::to_string(bytes.size()) +
                                      " bytes, inside the magic string");
  }
  return {};
}

// Returns the header text and sets `data_offset` to where the data starts.
Expected<std::string_view> find_header(std::span<const std::byte> bytes, std::size_t& data_offset) {
  AAT_CHECK(check_magic(bytes));
  if (bytes.size() < kLengthOffset) {
    return fail(ErrorCode::parse, "truncated header: the file ends inside the format version");
  }
  const auto major = std::to_integer<unsigned>(bytes[kVersionOffset]);
  const auto minor = std::to_integer<unsigned>(bytes[kVersionOffset + 1]);
  if (major < 1 || major > 3 || minor != 0) {
    return fail(ErrorCode::unsupported, "format version " + std::to_string(major) + "." +
                                            std::to_string(minor) +
                                            " is not supported (supported: 1.0, 2.0, 3.0)");
  }
  // Version 1.0 has a 16-bit header length; 2.0 and 3.0 (UTF-8 header) widened it to 32 bits.
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t header_offset = kLengthOffset + length_size;
  if (bytes.size() < header_offset) {
    return fail(ErrorCode::parse, "truncated header: the file ends inside the header length");
  }
  const std::size_t header_size = read_le(bytes.subspan(kLengthOffset, length_size));
  const std::size_t available = bytes.size() - header_offset;
  if (available < header_size) {
    return fail(ErrorCode::parse, "truncated header: expected " + std::to_string(header_size) +
                                      " bytes of header, file has " + std::to_string(available));
  }
  data_offset = header_offset + header_size;
  return as_chars(bytes.subspan(header_offset, header_size));
}

Expected<void> check_data_size(std::size_t expected, std::size_t available) {
  const std::string sizes =
      "expected " + std::to_string(expected) + " bytes of data, file has " + std::to_string(available);
  if (available < expected) return fail(ErrorCode::parse, "truncated data: " + sizes);
  if (available > expected) {
    return fail(ErrorCode::parse,
                std::to_string(available - expected) + " trailing bytes after the data: " + sizes);
  }
  return {};
}

// `bytes` holds at least the header; the file (or buffer) is `total_size` bytes long.
Expected<Layout> parse_layout(std::span<const std::byte> bytes, std::uint64_t total_size) {
  Layout layout;
  AAT_TRY(const std::string_view header_text, find_header(bytes, layout.data_offset));
  AAT_TRY(Header header, HeaderParser(header_text).parse());
  AAT_TRY(layout.dtype, dtype_from_descr(header.descr));
  if (header.fortran_order) {
    return fail(ErrorCode::unsupported,
                "fortran_order=True is not supported; save with np.ascontiguousarray");
  }
  AAT_TRY(const std::size_t expected, data_size(layout.dtype, header.shape, ErrorCode::parse));
  AAT_CHECK(check_data_size(expected, total_size - layout.data_offset));
  layout.shape = std::move(header.shape);
  return layout;
}

std::string reading(std::string_view what) { return "while reading " + in_quotes(what); }

// ---------------------------------------------------------------------------------------------
// Files

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Expected<File> open_file(const std::filesystem::path& path, const char* mode) {
  File file(std::fopen(path.c_str(), mode));
  if (!file) return fail(ErrorCode::io, "cannot open the file: " + errno_message(errno));
  return file;
}

Expected<std::vector<std::byte>> read_file(const std::filesystem::path& path) {
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (status.type() == std::filesystem::file_type::not_found) {
    return fail(ErrorCode::not_found, "file does not exist");
  }
  if (std::filesystem::is_directory(status)) return fail(ErrorCode::io, "is a directory, not a file");
  AAT_TRY(const File file, open_file(path, "rb"));
  // The size is only a hint: reading to EOF also works for pipes and files that change.
  std::error_code size_error;
  const std::uintmax_t hint = std::filesystem::file_size(path, size_error);
  std::vector<std::byte> bytes(size_error ? std::size_t{1} << 16 : static_cast<std::size_t>(hint) + 1);
  std::size_t used = 0;
  while (true) {
    if (used == bytes.size()) bytes.resize(bytes.size() * 2);
    const std::size_t got = std::fread(bytes.data() + used, 1, bytes.size() - used, file.get());
    used += got;
    if (got == 0) break;
  }
  if (std::ferror(file.get()) != 0) return fail(ErrorCode::io, "read failed: " + errno_message(errno));
  bytes.resize(used);
  return bytes;
}

Expected<void> write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  AAT_TRY(File file, open_file(path, "wb"));
  if (std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) {
    return fail(ErrorCode::io, "write failed: " + errno_message(errno));
  }
  // fclose flushes, so a full disk may only show up here.
  if (std::fclose(file.release()) != 0) return fail(ErrorCode::io, "write failed: " + errno_message(errno));
  return {};
}

// ---------------------------------------------------------------------------------------------
// Writing

std::string header_dict(DType dtype, std::span<const std::int64_t> shape) {
  std::string dict = "{'descr': " + in_quotes(descr_of(dtype)) +
                     ", 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisMaxDigits) dict.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  return dict;
}

void append_le(std::vector<std::byte>& out, std::size_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<std::byte>((value >> (8 * i)) & 0xffu));
}

// Same choice and padding as numpy.lib.format._wrap_header: 1.0 unless the header needs
// more than 16 bits of length, then 2.0; a '\n' ends the header.
std::vector<std::byte> wrap_header(const std::string& dict, std::size_t data_size_bytes) {
  const std::size_t with_newline = dict.size() + 1;
  std::size_t length_size = 2;
  std::size_t padding = kDataAlign - (kLengthOffset + length_size + with_newline) % kDataAlign;
  if (with_newline + padding > std::numeric_limits<std::uint16_t>::max()) {
    length_size = 4;
    padding = kDataAlign - (kLengthOffset + length_size + with_newline) % kDataAlign;
  }
  std::vector<std::byte> out;
  out.reserve(kLengthOffset + length_size + with_newline + padding + data_size_bytes);
  for (const char c : kMagic) out.push_back(static_cast<std::byte>(c));
  out.push_back(static_cast<std::byte>(length_size == 2 ? 1 : 2));
  out.push_back(std::byte{0});
  append_le(out, with_newline + padding, length_size);
  for (const char c : dict) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), padding, static_cast<std::byte>(' '));
  out.push_back(static_cast<std::byte>('\n'));
  return out;
}

Expected<void> check_write_args(DType dtype, std::span<const std::int64_t> shape,
                                std::span<const std::byte> data) {
  AAT_TRY(const std::size_t expected, data_size(dtype, shape, ErrorCode::invalid_argument));
  if (data.size() != expected) {
    return fail(ErrorCode::size_mismatch,
                "data has " + std::to_string(data.size()) + " bytes but shape " + shape_to_string(shape) +
                    " of " + std::string(to_string(dtype)) + " needs " + std::to_string(expected));
  }
  return {};
}

}  // namespace

Expected<HostArray> parse_npy(std::span<const std::byte> bytes, std::string_view what) {
  auto layout = parse_layout(bytes, bytes.size());
  if (!layout) return forward(std::move(layout), reading(what));
  const auto data = bytes.subspan(layout->data_offset);
  return HostArray{layout->dtype, std::move(layout->shape), std::vector<std::byte>(data.begin(), data.end())};
}

Expected<HostArray> read_npy(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {  // mapped: the header is checked before any data is read
    AAT_TRY(const MappedNpy file, MappedNpy::open(path));
    const auto data = file.data();
    return HostArray{file.header().dtype, file.header().shape, std::vector<std::byte>(data.begin(), data.end())};
  }
  auto bytes = read_file(path);  // pipes and devices cannot be mapped
  if (!bytes) return forward(std::move(bytes), reading(path.string()));
  auto layout = parse_layout(*bytes, bytes->size());
  if (!layout) return forward(std::move(layout), reading(path.string()));
  // Reuse the file buffer for the data instead of copying it: peak memory stays at one file.
  bytes->erase(bytes->begin(), bytes->begin() + static_cast<std::ptrdiff_t>(layout->data_offset));
  return HostArray{layout->dtype, std::move(layout->shape), std::move(*bytes)};
}

std::vector<std::byte> serialize_npy(DType dtype, std::span<const std::int64_t> shape,
                                     std::span<const std::byte> data) {
  // This signature cannot report an error, and writing a file that lies about its data would
  // be worse than failing loudly; write_npy checks first and reports the same problem.
  if (auto valid = check_write_args(dtype, shape, data); !valid) {
    throw std::invalid_argument("serialize_npy: " + valid.error().what());
  }
  std::vector<std::byte> out = wrap_header(header_dict(dtype, shape), data.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Expected<void> write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::int64_t> shape,
                         std::span<const std::byte> data) {
  const std::string writing = "while writing " + in_quotes(path.string());
  if (auto valid = check_write_args(dtype, shape, data); !valid) return forward(std::move(valid), writing);
  if (auto written = write_file(path, serialize_npy(dtype, shape, data)); !written) {
    return forward(std::move(written), writing);
  }
  return {};
}

Expected<void> write_npy(const std::filesystem::path& path, const HostArray& array) {
  return write_npy(path, array.dtype, array.shape, array.data);
}

// ---------------------------------------------------------------------------------------------
// Mapped files

struct MappedNpy::Mapping {
  void* address = nullptr;
  std::size_t length = 0;
  ~Mapping() {
    if (address) ::munmap(address, length);
  }
};

Expected<MappedNpy> MappedNpy::open(const std::filesystem::path& path) {
  const std::string where = reading(path.string());
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (status.type() == std::filesystem::file_type::not_found)
    return fail(ErrorCode::not_found, "file does not exist " + where);
  if (std::filesystem::is_directory(status)) return fail(ErrorCode::io, "is a directory, not a file " + where);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::io, "cannot open the file: " + errno_message(errno) + " " + where);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return fail(ErrorCode::io, "not a regular file, cannot be mapped " + where);
  }
  MappedNpy file;
  file.mapping_ = std::make_shared<Mapping>();
  file.mapping_->length = static_cast<std::size_t>(info.st_size);
  if (file.mapping_->length > 0) {
    void* address = ::mmap(nullptr, file.mapping_->length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      return fail(ErrorCode::io, "cannot map the file: " + errno_message(error) + " " + where);
    }
    file.mapping_->address = address;
  }
  ::close(fd);  // the mapping keeps the file
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(file.mapping_->address), file.mapping_->length);
  auto layout = parse_layout(bytes, bytes.size());  // touches the header's pages only
  if (!layout) return forward(std::move(layout), where);
  file.header_ = NpyHeader{layout->dtype, std::move(layout->shape), layout->data_offset,
                           bytes.size() - layout->data_offset};
  file.data_ = bytes.subspan(layout->data_offset);
  file.path_ = path;
  return file;
}

}  // namespace aat
