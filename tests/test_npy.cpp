// .npy reading and writing: files written by real NumPy (tests/data/npy, see generate.py there),
// round trips, header dialects, and every error naming the file and the problem.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aat/dtype.hpp"
#include "aat/error.hpp"
#include "aat/npy.hpp"

namespace {

namespace fs = std::filesystem;
using aat::DType;
using aat::ErrorCode;

fs::path fixture(const std::string& name) {
  const char* dir = std::getenv("AAT_TEST_DATA_DIR");
  if (dir == nullptr || *dir == '\0') dir = AAT_SOURCE_TEST_DATA_DIR;
  return fs::path(dir) / "npy" / name;
}

// A per-test file name, so tests never see each other's files.
fs::path temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return fs::path(::testing::TempDir()) /
         (std::string("aat_npy_") + info->test_suite_name() + "_" + info->name() + "_" + name);
}

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.is_open()) << "cannot read " << path;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

void write_bytes(const fs::path& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::vector<std::byte> to_bytes(std::string_view text) {
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A .npy image with a hand-written header dict, for dialects and defects NumPy never writes.
std::vector<std::byte> npy_image(std::string_view dict, std::string_view data = "", int major = 1) {
  std::string image("\x93NUMPY", 6);
  image += static_cast<char>(major);
  image += '\0';
  const std::size_t length = dict.size();
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  for (std::size_t i = 0; i < length_bytes; ++i) image += static_cast<char>((length >> (8 * i)) & 0xffu);
  image += dict;
  image += data;
  return to_bytes(image);
}

template <class T>
::testing::AssertionResult fails_with(const aat::Expected<T>& result, ErrorCode code,
                                      std::initializer_list<std::string_view> fragments) {
  if (result) return ::testing::AssertionFailure() << "succeeded, expected " << aat::to_string(code);
  const std::string what = result.error().what();
  if (result.error().code() != code) {
    return ::testing::AssertionFailure() << "code " << aat::to_string(result.error().code()) << ", expected "
                                         << aat::to_string(code) << ": " << what;
  }
  for (const std::string_view fragment : fragments) {
    if (what.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << fragment << "\": " << what;
    }
  }
  return ::testing::AssertionSuccess() << what;
}

const std::vector<float> kF32_2x3{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};

void expect_f32_2x3(const aat::Expected<aat::HostArray>& array) {
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_EQ(array->dtype, DType::f32);
  EXPECT_EQ(array->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(array->element_count(), 6);
  const auto values = array->as<float>();
  ASSERT_TRUE(values) << values.error().what();
  EXPECT_EQ(std::vector<float>(values->begin(), values->end()), kF32_2x3);
}

// --- Files written by NumPy -------------------------------------------------------------------

TEST(NpyNumpyFiles, ReadsF32) { expect_f32_2x3(aat::read_npy(fixture("f32_2x3.npy"))); }

TEST(NpyNumpyFiles, ReadsF16) {
  const auto array = aat::read_npy(fixture("f16_4.npy"));
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_EQ(array->dtype, DType::f16);
  EXPECT_EQ(array->shape, (std::vector<std::int64_t>{4}));
  const auto bits = array->as<std::uint16_t>();
  ASSERT_TRUE(bits) << bits.error().what();
  EXPECT_EQ(aat::from_half(*bits), (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f}));
}

TEST(NpyNumpyFiles, ReadsI32) {
  const auto array = aat::read_npy(fixture("i32_2x2x2.npy"));
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_EQ(array->dtype, DType::i32);
  EXPECT_EQ(array->shape, (std::vector<std::int64_t>{2, 2, 2}));
  const auto values = array->as<std::int32_t>();
  ASSERT_TRUE(values) << values.error().what();
  EXPECT_EQ(std::vector<std::int32_t>(values->begin(), values->end()),
            (std::vector<std::int32_t>{-4, -3, -2, -1, 0, 1, 2, 3}));
}

TEST(NpyNumpyFiles, ReadsU8) {
  const auto array = aat::read_npy(fixture("u8_5.npy"));
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_EQ(array->dtype, DType::u8);
  EXPECT_EQ(array->shape, (std::vector<std::int64_t>{5}));
  const auto values = array->as<std::uint8_t>();
  ASSERT_TRUE(values) << values.error().what();
  EXPECT_EQ(std::vector<std::uint8_t>(values->begin(), values->end()),
            (std::vector<std::uint8_t>{0, 1, 127, 128, 255}));
}

TEST(NpyNumpyFiles, ReadsScalar) {
  const auto array = aat::read_npy(fixture("f32_scalar.npy"));
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_TRUE(array->shape.empty());
  EXPECT_EQ(array->element_count(), 1);
  const auto values = array->as<float>();
  ASSERT_TRUE(values) << values.error().what();
  ASSERT_EQ(values->size(), 1u);
  EXPECT_EQ((*values)[0], 3.5f);
}

TEST(NpyNumpyFiles, ReadsEmpty) {
  const auto array = aat::read_npy(fixture("f32_empty_0x3.npy"));
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_EQ(array->shape, (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(array->element_count(), 0);
  EXPECT_TRUE(array->data.empty());
  const auto values = array->as<float>();
  ASSERT_TRUE(values) << values.error().what();
  EXPECT_TRUE(values->empty());
}

TEST(NpyNumpyFiles, ReadsVersion2Header) { expect_f32_2x3(aat::read_npy(fixture("f32_v2_2x3.npy"))); }

TEST(NpyNumpyFiles, ReadsVersion3Header) { expect_f32_2x3(aat::read_npy(fixture("f32_v3_2x3.npy"))); }

TEST(NpyNumpyFiles, ParseMatchesRead) {
  expect_f32_2x3(aat::parse_npy(read_bytes(fixture("f32_2x3.npy")), "f32_2x3.npy"));
}

// Byte-identical output means NumPy (and anything else that reads NumPy's files) reads ours.
TEST(NpyNumpyFiles, WriterMatchesNumpyByteForByte) {
  for (const char* name :
       {"f32_2x3.npy", "f16_4.npy", "i32_2x2x2.npy", "u8_5.npy", "f32_scalar.npy", "f32_empty_0x3.npy"}) {
    const std::vector<std::byte> numpy_bytes = read_bytes(fixture(name));
    const auto array = aat::parse_npy(numpy_bytes, name);
    ASSERT_TRUE(array) << array.error().what();
    EXPECT_EQ(aat::serialize_npy(array->dtype, array->shape, array->data), numpy_bytes) << name;
  }
}

// --- Round trips ------------------------------------------------------------------------------

std::vector<std::byte> pattern(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 37 + 11) & 0xffu);
  return bytes;
}

std::size_t header_length(std::span<const std::byte> image) {
  return std::to_integer<std::size_t>(image[8]) | std::to_integer<std::size_t>(image[9]) << 8;
}

TEST(NpyRoundTrip, EveryDtypeAndRankZeroToFour) {
  const std::vector<std::vector<std::int64_t>> shapes{{}, {5}, {2, 3}, {2, 1, 3}, {2, 3, 1, 4}, {3, 0}};
  for (const DType dtype : {DType::f32, DType::f16, DType::i32, DType::u8}) {
    for (const auto& shape : shapes) {
      const std::string label = std::string(aat::to_string(dtype)) + " " + aat::shape_to_string(shape);
      std::size_t count = 1;
      for (const std::int64_t dim : shape) count *= static_cast<std::size_t>(dim);
      const std::vector<std::byte> data = pattern(count * aat::size_of(dtype));

      const std::vector<std::byte> image = aat::serialize_npy(dtype, shape, data);
      EXPECT_EQ(std::to_integer<int>(image[6]), 1) << label;
      const std::size_t data_offset = 10 + header_length(image);
      EXPECT_EQ(data_offset % 64, 0u) << label;
      EXPECT_EQ(static_cast<char>(image[data_offset - 1]), '\n') << label;
      EXPECT_EQ(image.size(), data_offset + data.size()) << label;

      const fs::path path = temp_path("round_trip.npy");
      const auto written = aat::write_npy(path, dtype, shape, data);
      ASSERT_TRUE(written) << written.error().what();
      const auto array = aat::read_npy(path);
      ASSERT_TRUE(array) << label << ": " << array.error().what();
      EXPECT_EQ(array->dtype, dtype) << label;
      EXPECT_EQ(array->shape, shape) << label;
      EXPECT_EQ(array->data, data) << label;
      EXPECT_EQ(read_bytes(path), image) << label;
    }
  }
}

TEST(NpyRoundTrip, HostArrayOverload) {
  const aat::HostArray array{DType::i32, {3}, bytes_of(std::vector<std::int32_t>{7, -8, 9})};
  const fs::path path = temp_path("array.npy");
  const auto written = aat::write_npy(path, array);
  ASSERT_TRUE(written) << written.error().what();
  const auto back = aat::read_npy(path);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(back->shape, array.shape);
  EXPECT_EQ(back->data, array.data);
}

TEST(NpyRoundTrip, HugeHeaderSwitchesToVersion2) {
  // At 3 characters ("1, ") per dim, 30000 dims overflow the 16-bit header length of 1.0.
  const std::vector<std::int64_t> shape(30000, 1);
  const std::vector<std::byte> data = pattern(4);
  const std::vector<std::byte> image = aat::serialize_npy(DType::f32, shape, data);
  ASSERT_EQ(std::to_integer<int>(image[6]), 2);
  std::size_t length = 0;
  for (std::size_t i = 4; i-- > 0;) length = (length << 8) | std::to_integer<std::size_t>(image[8 + i]);
  EXPECT_EQ((12 + length) % 64, 0u);
  const auto array = aat::parse_npy(image);
  ASSERT_TRUE(array) << array.error().what();
  EXPECT_EQ(array->shape, shape);
  EXPECT_EQ(array->data, data);
}

// --- Header dialects --------------------------------------------------------------------------

TEST(NpyHeader, AcceptsKeysInAnyOrderAndEitherQuote) {
  const std::string data(24, '\0');
  for (const char* dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
           "{ 'fortran_order' :False,'shape':(2,3,),'descr':\"<f4\" ,}   \n",
           "{\n\t'descr': '<f4',\n\t'fortran_order': False,\n\t'shape': (2L, 3L),\n}\n",
       }) {
    const auto array = aat::parse_npy(npy_image(dict, data));
    ASSERT_TRUE(array) << dict << ": " << array.error().what();
    EXPECT_EQ(array->dtype, DType::f32) << dict;
    EXPECT_EQ(array->shape, (std::vector<std::int64_t>{2, 3})) << dict;
  }
}

TEST(NpyHeader, AcceptsEveryShapeForm) {
  struct Case {
    const char* tuple;
    std::vector<std::int64_t> shape;
  };
  for (const Case& c : std::vector<Case>{{"()", {}},
                                         {"(3,)", {3}},
                                         {"( 3 , )", {3}},
                                         {"(2, 3, 4)", {2, 3, 4}},
                                         {"(2, 3, 4,)", {2, 3, 4}},
                                         {"(0,)", {0}},
                                         {"[2, 3]", {2, 3}}}) {
    std::size_t count = 1;
    for (const std::int64_t dim : c.shape) count *= static_cast<std::size_t>(dim);
    const std::string dict =
        std::string("{'descr': '|u1', 'fortran_order': False, 'shape': ") + c.tuple + "}";
    const auto array = aat::parse_npy(npy_image(dict, std::string(count, 'x')));
    ASSERT_TRUE(array) << c.tuple << ": " << array.error().what();
    EXPECT_EQ(array->shape, c.shape) << c.tuple;
  }
}

TEST(NpyHeader, AcceptsAnyByteOrderMarkForU8) {
  for (const char* descr : {"|u1", "<u1", ">u1", "=u1", "u1"}) {
    const std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2,)}";
    const auto array = aat::parse_npy(npy_image(dict, "ab"));
    ASSERT_TRUE(array) << descr << ": " << array.error().what();
    EXPECT_EQ(array->dtype, DType::u8) << descr;
  }
}

TEST(NpyHeader, AcceptsVersion2And3Lengths) {
  const char* dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}";
  for (const int major : {2, 3}) {
    const auto array = aat::parse_npy(npy_image(dict, std::string(4, '\x01'), major));
    ASSERT_TRUE(array) << major << ": " << array.error().what();
    EXPECT_EQ(array->dtype, DType::i32);
  }
}

// --- Errors: each names the file and the problem ------------------------------------------------

TEST(NpyErrors, MissingFile) {
  const fs::path path = temp_path("does_not_exist.npy");
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::not_found, {path.string(), "does not exist"}));
}

TEST(NpyErrors, Directory) {
  const fs::path path = fs::path(::testing::TempDir());
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::io, {path.string(), "directory"}));
}

TEST(NpyErrors, BadMagic) {
  const fs::path path = temp_path("text.npy");
  write_bytes(path, to_bytes("hello, this is not numpy"));
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse,
                         {"while reading '" + path.string() + "'", "not a .npy file", "bad magic"}));
}

TEST(NpyErrors, EmptyFile) {
  const fs::path path = temp_path("empty.npy");
  write_bytes(path, {});
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse, {path.string(), "not a .npy file", "empty"}));
}

TEST(NpyErrors, TruncatedHeader) {
  const fs::path path = fixture("f32_truncated_header.npy");
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse,
                         {path.string(), "truncated header: expected 118 bytes of header, file has 30"}));
}

TEST(NpyErrors, TruncatedInsideThePreamble) {
  const std::vector<std::byte> whole = read_bytes(fixture("f32_2x3.npy"));
  ASSERT_GE(whole.size(), 9u);
  for (const std::size_t size : {3u, 7u, 9u}) {
    const std::vector<std::byte> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_TRUE(
        fails_with(aat::parse_npy(cut, "cut.npy"), ErrorCode::parse, {"'cut.npy'", "truncated header"}))
        << size;
  }
}

TEST(NpyErrors, TruncatedData) {
  const fs::path path = fixture("f32_truncated_data.npy");
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse,
                         {path.string(), "truncated data: expected 24 bytes of data, file has 16"}));
}

TEST(NpyErrors, TrailingBytes) {
  std::vector<std::byte> bytes = read_bytes(fixture("f32_2x3.npy"));
  bytes.insert(bytes.end(), 4, std::byte{0});
  const fs::path path = temp_path("trailing.npy");
  write_bytes(path, bytes);
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse,
                         {path.string(), "4 trailing bytes", "expected 24 bytes of data, file has 28"}));
}

TEST(NpyErrors, FortranOrder) {
  const fs::path path = fixture("f32_fortran_2x3.npy");
  EXPECT_TRUE(
      fails_with(aat::read_npy(path), ErrorCode::unsupported,
                 {path.string(), "fortran_order=True is not supported; save with np.ascontiguousarray"}));
}

TEST(NpyErrors, UnsupportedDtypeListsTheSupportedOnes) {
  const fs::path path = fixture("f64_3.npy");
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::unsupported,
                         {path.string(), "unsupported dtype '<f8'", "'<f4'", "'<f2'", "'<i4'", "'|u1'"}));
}

TEST(NpyErrors, BigEndian) {
  const fs::path path = fixture("f32_big_endian_3.npy");
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::unsupported,
                         {path.string(), "big-endian dtype '>f4' is not supported", "astype('<f4')"}));
}

TEST(NpyErrors, DescrsNumpyNeverWrites) {
  for (const char* descr : {"|i4", "=f4", "f4", "<i8", "|b1", "|i1", "<c8", "<U3", "float32"}) {
    const std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,)}";
    EXPECT_TRUE(fails_with(aat::parse_npy(npy_image(dict, "abcd"), "odd.npy"), ErrorCode::unsupported,
                           {"'odd.npy'", std::string("unsupported dtype '") + descr + "'"}))
        << descr;
  }
}

TEST(NpyErrors, StructuredDtype) {
  const char* dict = "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,)}";
  EXPECT_TRUE(fails_with(aat::parse_npy(npy_image(dict, "12345678"), "rec.npy"), ErrorCode::unsupported,
                         {"'rec.npy'", "structured dtypes are not supported", "'<f4'"}));
}

TEST(NpyErrors, NegativeDimension) {
  const fs::path path = temp_path("negative.npy");
  write_bytes(path, npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}"));
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse,
                         {path.string(), "negative dimension -3 in shape (2, -3)"}));
}

TEST(NpyErrors, ElementCountOverflow) {
  const fs::path path = temp_path("overflow.npy");
  write_bytes(path, npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"));
  EXPECT_TRUE(fails_with(aat::read_npy(path), ErrorCode::parse, {path.string(), "element count overflow"}));
  // The count itself fits in int64 but its size in bytes does not.
  EXPECT_TRUE(fails_with(
      aat::parse_npy(npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,)}"),
                     "bytes.npy"),
      ErrorCode::parse, {"'bytes.npy'", "element count overflow"}));
  EXPECT_TRUE(fails_with(
      aat::parse_npy(npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
                     "digits.npy"),
      ErrorCode::parse, {"'digits.npy'", "too large"}));
}

TEST(NpyErrors, HugeShapeIsTruncatedDataNotAnAllocation) {
  const auto result = aat::parse_npy(
      npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,)}", "abcd"), "big");
  EXPECT_TRUE(fails_with(result, ErrorCode::parse,
                         {"truncated data: expected 4398046511104 bytes of data, file has 4"}));
}

TEST(NpyErrors, UnsupportedVersion) {
  std::vector<std::byte> bytes = read_bytes(fixture("f32_2x3.npy"));
  ASSERT_GT(bytes.size(), 6u);
  bytes[6] = std::byte{4};
  EXPECT_TRUE(fails_with(aat::parse_npy(bytes, "v4.npy"), ErrorCode::unsupported,
                         {"'v4.npy'", "format version 4.0 is not supported"}));
}

TEST(NpyErrors, MalformedHeaders) {
  struct Case {
    const char* dict;
    const char* problem;
  };
  for (const Case& c : std::vector<Case>{
           {"'descr': '<f4'", "expected '{'"},
           {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
           {"{'descr': '<f4', 'shape': (1,)}", "missing key 'fortran_order'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"},
           {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
            "duplicate key 'descr'"},
           {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "expected '}'"},
           {"{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected '}'"},
           {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", "expected True or False"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': 1}", "expected a tuple for 'shape'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}", "expected ')'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (a,)}", "expected an integer"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", "unexpected text after"},
           {"{'descr': '<f4", "unterminated string"},
           {"{descr: '<f4'}", "expected a quoted string"},
       }) {
    EXPECT_TRUE(fails_with(aat::parse_npy(npy_image(c.dict, "abcd"), "bad.npy"), ErrorCode::parse,
                           {"while reading 'bad.npy'", "malformed header", c.problem}))
        << c.dict;
  }
}

TEST(NpyErrors, MemoryBuffersAreNamedToo) {
  EXPECT_TRUE(
      fails_with(aat::parse_npy(to_bytes("nope")), ErrorCode::parse, {"'<memory>'", "not a .npy file"}));
}

// --- Typed views --------------------------------------------------------------------------------

TEST(HostArrayView, TypeMismatchNamesBothTypes) {
  const aat::HostArray array{DType::f32, {2}, bytes_of(std::vector<float>{1.0f, 2.0f})};
  EXPECT_TRUE(fails_with(array.as<std::int32_t>(), ErrorCode::type_mismatch, {"f32", "i32"}));
  EXPECT_TRUE(fails_with(array.as<std::uint16_t>(), ErrorCode::type_mismatch, {"f32", "f16"}));
  EXPECT_TRUE(fails_with(array.as<std::uint8_t>(), ErrorCode::type_mismatch, {"f32", "u8"}));
  const aat::HostArray bytes{DType::u8, {2}, to_bytes("ab")};
  EXPECT_TRUE(fails_with(bytes.as<float>(), ErrorCode::type_mismatch, {"u8", "f32"}));
}

TEST(HostArrayView, InconsistentArrayIsASizeMismatch) {
  const aat::HostArray array{DType::f32, {3}, bytes_of(std::vector<float>{1.0f, 2.0f})};
  EXPECT_TRUE(fails_with(array.as<float>(), ErrorCode::size_mismatch, {"8 bytes", "12"}));
}

TEST(HostArrayView, ElementCount) {
  EXPECT_EQ((aat::HostArray{DType::u8, {}, {}}.element_count()), 1);
  EXPECT_EQ((aat::HostArray{DType::u8, {2, 3, 4}, {}}.element_count()), 24);
  EXPECT_EQ((aat::HostArray{DType::u8, {2, 0, 4}, {}}.element_count()), 0);
}

// --- Writing errors -----------------------------------------------------------------------------

TEST(NpyWriteErrors, DataSizeMismatch) {
  const fs::path path = temp_path("mismatch.npy");
  const std::vector<std::int64_t> shape{2, 3};
  const std::vector<std::byte> data = pattern(20);
  EXPECT_TRUE(fails_with(aat::write_npy(path, DType::f32, shape, data), ErrorCode::size_mismatch,
                         {"while writing '" + path.string() + "'", "data has 20 bytes", "2x3", "needs 24"}));
  EXPECT_FALSE(fs::exists(path));
}

TEST(NpyWriteErrors, NegativeDimension) {
  const fs::path path = temp_path("negative.npy");
  const std::vector<std::int64_t> shape{-1};
  EXPECT_TRUE(fails_with(aat::write_npy(path, DType::u8, shape, {}), ErrorCode::invalid_argument,
                         {path.string(), "negative dimension -1"}));
}

TEST(NpyWriteErrors, UnwritablePath) {
  const fs::path path = temp_path("no_such_dir") / "out.npy";
  const std::vector<std::int64_t> shape{1};
  const std::vector<std::byte> data = pattern(1);
  EXPECT_TRUE(fails_with(aat::write_npy(path, DType::u8, shape, data), ErrorCode::io,
                         {path.string(), "cannot open"}));
}

TEST(NpyWriteErrors, SerializeRejectsMismatchedData) {
  const std::vector<std::int64_t> shape{4};
  const std::vector<std::byte> data = pattern(3);
  EXPECT_THROW(aat::serialize_npy(DType::u8, shape, data), std::invalid_argument);
}

// --- Helpers ------------------------------------------------------------------------------------

TEST(NpyShapeToString, Forms) {
  EXPECT_EQ(aat::shape_to_string({}), "scalar");
  const std::vector<std::int64_t> one{7};
  EXPECT_EQ(aat::shape_to_string(one), "7");
  const std::vector<std::int64_t> three{2, 3, 4};
  EXPECT_EQ(aat::shape_to_string(three), "2x3x4");
  const std::vector<std::int64_t> empty{0, 5};
  EXPECT_EQ(aat::shape_to_string(empty), "0x5");
}

TEST(ErrorFormatting, WhatJoinsContextOutermostFirst) {
  aat::Error error(ErrorCode::parse, "truncated data: expected 8 bytes of data, file has 4");
  EXPECT_EQ(error.what(), "truncated data: expected 8 bytes of data, file has 4");
  error.with_context("while reading 'q.npy'");
  error.with_context("while loading inputs");
  EXPECT_EQ(error.what(),
            "while loading inputs: while reading 'q.npy': truncated data: expected 8 bytes of data, "
            "file has 4");
  EXPECT_EQ(error.message(), "truncated data: expected 8 bytes of data, file has 4");
  EXPECT_EQ(error.context().size(), 2u);
}

TEST(ErrorFormatting, CodeNames) {
  EXPECT_EQ(aat::to_string(ErrorCode::invalid_argument), "invalid_argument");
  EXPECT_EQ(aat::to_string(ErrorCode::not_found), "not_found");
  EXPECT_EQ(aat::to_string(ErrorCode::io), "io");
  EXPECT_EQ(aat::to_string(ErrorCode::parse), "parse");
  EXPECT_EQ(aat::to_string(ErrorCode::shader_compile), "shader_compile");
  EXPECT_EQ(aat::to_string(ErrorCode::reflection), "reflection");
  EXPECT_EQ(aat::to_string(ErrorCode::size_mismatch), "size_mismatch");
  EXPECT_EQ(aat::to_string(ErrorCode::type_mismatch), "type_mismatch");
  EXPECT_EQ(aat::to_string(ErrorCode::unsupported), "unsupported");
  EXPECT_EQ(aat::to_string(ErrorCode::no_device), "no_device");
  EXPECT_EQ(aat::to_string(ErrorCode::out_of_memory), "out_of_memory");
  EXPECT_EQ(aat::to_string(ErrorCode::vulkan), "vulkan");
  EXPECT_EQ(aat::to_string(ErrorCode::validation), "validation");
  EXPECT_EQ(aat::to_string(ErrorCode::abi_mismatch), "abi_mismatch");
  EXPECT_EQ(aat::to_string(ErrorCode::plugin), "plugin");
  EXPECT_EQ(aat::to_string(ErrorCode::timeout), "timeout");
  EXPECT_EQ(aat::to_string(ErrorCode::internal), "internal");
}

}  // namespace
