// Memory: Buffer and Tensor transfers (mapped and staged), size and shape checks, allocation
// failures, and the sub-allocator giving memory back and reusing it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aat/tensor_npy.hpp"
#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::unwrap;

using aat::testing::FailsWith;

constexpr std::uint64_t kMiB = 1ull << 20;
// Sizes that catch rounding: empty, one byte, not a multiple of 4, and large and odd.
const std::vector<std::uint64_t> kSizes = {0, 1, 3, kMiB + 7};

std::vector<std::byte> pattern(std::uint64_t bytes, unsigned seed = 0) {
  std::vector<std::byte> out(bytes);
  for (std::uint64_t i = 0; i < bytes; ++i) out[i] = static_cast<std::byte>((i * 131 + 7 + seed) & 0xff);
  return out;
}

// A context whose device buffers are never mapped, so every transfer is staged through a
// host-visible buffer and a copy on the queue, as on a discrete GPU. Validation on.
std::shared_ptr<Context> staging_context() {
  static std::shared_ptr<Context> context = [] {
    ContextOptions options;
    options.validation = true;
    options.force_staging = true;
    return unwrap(Context::create(options), "creating the force_staging context");
  }();
  return context;
}

// A context of its own, so allocator numbers are not disturbed by other tests' buffers.
std::shared_ptr<Context> fresh_context() {
  ContextOptions options;
  options.validation = true;
  return unwrap(Context::create(options), "creating a fresh context");
}

// --- Buffer round trips ------------------------------------------------------------------

class BufferTest : public DeviceTest {};

TEST_F(BufferTest, RoundTripsEverySize) {
  for (const std::uint64_t size : kSizes) {
    auto buffer = unwrap(Buffer::create(context(), size));
    EXPECT_EQ(buffer.size(), size);
    const auto data = pattern(size);
    AAT_ASSERT_OK(buffer.write(data));
    std::vector<std::byte> back(size);
    AAT_ASSERT_OK(buffer.read(back));
    EXPECT_EQ(back, data) << size << " bytes";
  }
}

TEST_F(BufferTest, RoundTripsEveryMemoryKind) {
  for (const MemoryKind kind : {MemoryKind::device, MemoryKind::upload, MemoryKind::readback}) {
    auto buffer = unwrap(Buffer::create(context(), 1000, kind));
    EXPECT_EQ(buffer.kind(), kind);
    const auto data = pattern(1000, static_cast<unsigned>(kind));
    AAT_ASSERT_OK(buffer.write(data));
    std::vector<std::byte> back(1000);
    AAT_ASSERT_OK(buffer.read(back));
    EXPECT_EQ(back, data);
  }
}

TEST_F(BufferTest, WriteAndReadAtAnOffsetTouchOnlyThatRange) {
  auto buffer = unwrap(Buffer::create(context(), 64));
  AAT_ASSERT_OK(buffer.write(std::vector<std::byte>(64, std::byte{0xaa})));
  const auto middle = pattern(13);
  AAT_ASSERT_OK(buffer.write(middle, 17));
  std::vector<std::byte> all(64);
  AAT_ASSERT_OK(buffer.read(all));
  for (std::size_t i = 0; i < 64; ++i) {
    const std::byte expected = (i >= 17 && i < 30) ? middle[i - 17] : std::byte{0xaa};
    ASSERT_EQ(all[i], expected) << "at " << i;
  }
  std::vector<std::byte> part(13);
  AAT_ASSERT_OK(buffer.read(part, 17));
  EXPECT_EQ(part, middle);
}

TEST_F(BufferTest, WritePastTheEndIsASizeMismatch) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  EXPECT_TRUE(FailsWith(buffer.write(pattern(17)), ErrorCode::size_mismatch, {"17 bytes", "16-byte buffer"}));
  EXPECT_TRUE(FailsWith(buffer.write(pattern(4), 13), ErrorCode::size_mismatch, {"offset 13"}));
  EXPECT_TRUE(FailsWith(buffer.write(pattern(1), ~0ull), ErrorCode::size_mismatch));
}

TEST_F(BufferTest, ReadPastTheEndIsASizeMismatch) {
  auto buffer = unwrap(Buffer::create(context(), 16));
  std::vector<std::byte> out(8);
  EXPECT_TRUE(FailsWith(buffer.read(out, 9), ErrorCode::size_mismatch, {"offset 9"}));
}

TEST_F(BufferTest, AnEmptyHandleRefusesTransfers) {
  const Buffer empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_FALSE(empty.host_visible());
  EXPECT_TRUE(FailsWith(empty.write(pattern(4)), ErrorCode::invalid_argument));
  std::vector<std::byte> out(4);
  EXPECT_TRUE(FailsWith(empty.read(out), ErrorCode::invalid_argument));
}

TEST_F(BufferTest, MappedViewMatchesWhatWasWrittenWhenHostVisible) {
  auto buffer = unwrap(Buffer::create(context(), 100, MemoryKind::upload));
  ASSERT_TRUE(buffer.host_visible());
  ASSERT_EQ(buffer.mapped().size(), 100u);
  const auto data = pattern(100);
  AAT_ASSERT_OK(buffer.write(data));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), buffer.mapped().begin()));
}

// --- the staging path --------------------------------------------------------------------

class StagingTest : public ::testing::Test {
 protected:
  void SetUp() override { (void)staging_context()->take_validation_messages(); }
  void TearDown() override {
    for (const auto& message : staging_context()->take_validation_messages()) ADD_FAILURE() << message;
  }
};

TEST_F(StagingTest, ForcedStagingMakesDeviceBuffersUnmapped) {
  auto buffer = unwrap(Buffer::create(staging_context(), 256));
  EXPECT_FALSE(buffer.host_visible());
  EXPECT_TRUE(buffer.mapped().empty());
}

TEST_F(StagingTest, ForcedStagingLeavesHostBuffersMapped) {
  EXPECT_TRUE(unwrap(Buffer::create(staging_context(), 256, MemoryKind::upload)).host_visible());
  EXPECT_TRUE(unwrap(Buffer::create(staging_context(), 256, MemoryKind::readback)).host_visible());
}

TEST_F(StagingTest, BufferRoundTripsEverySizeThroughStaging) {
  ASSERT_TRUE(staging_context()->validation_enabled());
  for (const std::uint64_t size : kSizes) {
    auto buffer = unwrap(Buffer::create(staging_context(), size));
    const auto data = pattern(size, 3);
    AAT_ASSERT_OK(buffer.write(data));
    std::vector<std::byte> back(size);
    AAT_ASSERT_OK(buffer.read(back));
    EXPECT_EQ(back, data) << size << " bytes";
  }
}

TEST_F(StagingTest, OffsetTransfersThroughStaging) {
  auto buffer = unwrap(Buffer::create(staging_context(), 40));
  AAT_ASSERT_OK(buffer.write(std::vector<std::byte>(40, std::byte{0})));
  const auto middle = pattern(7, 9);
  AAT_ASSERT_OK(buffer.write(middle, 5));
  std::vector<std::byte> part(7);
  AAT_ASSERT_OK(buffer.read(part, 5));
  EXPECT_EQ(part, middle);
  std::vector<std::byte> all(40);
  AAT_ASSERT_OK(buffer.read(all));
  EXPECT_EQ(all[4], std::byte{0});
  EXPECT_EQ(all[12], std::byte{0});
}

TEST_F(StagingTest, StagedTransfersDoNotLeakStagingBuffers) {
  auto buffer = unwrap(Buffer::create(staging_context(), 4096));
  const MemoryStats before = staging_context()->memory_stats();
  AAT_ASSERT_OK(buffer.write(pattern(4096)));
  std::vector<std::byte> back(4096);
  AAT_ASSERT_OK(buffer.read(back));
  const MemoryStats after = staging_context()->memory_stats();
  EXPECT_EQ(after.live_buffers, before.live_buffers);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
}

TEST_F(StagingTest, StreamWritesAreVisibleToAStagedRead) {
  auto buffer = unwrap(Buffer::create(staging_context(), 64));
  auto stream = unwrap(Stream::create(staging_context()));
  AAT_ASSERT_OK(stream.fill(buffer, 0x01020304u));
  AAT_ASSERT_OK(stream.run());
  std::vector<std::uint32_t> words(16);
  AAT_ASSERT_OK(buffer.read(std::as_writable_bytes(std::span(words))));
  for (auto w : words) EXPECT_EQ(w, 0x01020304u);
}

// --- Tensor round trips ------------------------------------------------------------------

template <class T>
std::vector<T> values_for(std::size_t count) {
  std::vector<T> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    if constexpr (std::is_same_v<T, float>) out[i] = static_cast<float>(i % 1000) * 0.25f - 3.0f;
    else if constexpr (std::is_same_v<T, std::uint16_t>) out[i] = float_to_half(static_cast<float>(i % 2048) - 1024.0f);
    else if constexpr (std::is_same_v<T, std::int32_t>) out[i] = static_cast<std::int32_t>(i) * -7 + 3;
    else out[i] = static_cast<T>(i % 251);
  }
  return out;
}

template <class T>
void expect_tensor_round_trip(const std::shared_ptr<Context>& context, DType dtype, std::int64_t count) {
  const auto values = values_for<T>(static_cast<std::size_t>(count));
  auto tensor = unwrap(Tensor::from_values<T>(context, dtype, {count}, values));
  EXPECT_EQ(tensor.byte_size(), static_cast<std::uint64_t>(count) * size_of(dtype));
  const auto back = unwrap(tensor.template download_values<T>());
  EXPECT_EQ(back, values) << to_string(dtype) << " x " << count;
}

void expect_all_dtype_round_trips(const std::shared_ptr<Context>& context) {
  for (const std::uint64_t size : kSizes) {
    const auto count = static_cast<std::int64_t>(size);
    expect_tensor_round_trip<float>(context, DType::f32, count);
    expect_tensor_round_trip<std::uint16_t>(context, DType::f16, count);
    expect_tensor_round_trip<std::int32_t>(context, DType::i32, count);
    expect_tensor_round_trip<std::uint8_t>(context, DType::u8, count);
  }
}

class TensorTest : public DeviceTest {};

TEST_F(TensorTest, RoundTripsEveryDtypeAndSize) { expect_all_dtype_round_trips(context()); }

TEST_F(StagingTest, TensorRoundTripsEveryDtypeAndSizeThroughStaging) {
  expect_all_dtype_round_trips(staging_context());
}

TEST_F(TensorTest, UploadOfTheWrongByteCountIsASizeMismatch) {
  auto tensor = unwrap(Tensor::create(context(), DType::f32, {2, 3}));
  EXPECT_TRUE(FailsWith(tensor.upload(pattern(20)), ErrorCode::size_mismatch, {"f32[2x3]", "20 bytes", "24"}));
  EXPECT_TRUE(FailsWith(tensor.upload(pattern(28)), ErrorCode::size_mismatch, {"28 bytes"}));
  const std::vector<float> five(5, 1.0f);
  EXPECT_TRUE(FailsWith(tensor.upload_values<float>(five), ErrorCode::size_mismatch));
}

TEST_F(TensorTest, ValuesOfAnotherElementTypeAreATypeMismatch) {
  auto tensor = unwrap(Tensor::create(context(), DType::f16, {4}));
  const std::vector<float> floats(4, 1.0f);
  EXPECT_TRUE(FailsWith(tensor.upload_values<float>(floats), ErrorCode::type_mismatch, {"f16[4]"}));
  EXPECT_TRUE(FailsWith(tensor.download_values<float>(), ErrorCode::type_mismatch, {"f16[4]"}));
}

TEST_F(TensorTest, NegativeDimensionIsInvalid) {
  EXPECT_TRUE(FailsWith(Tensor::create(context(), DType::f32, {2, -3}), ErrorCode::invalid_argument,
                        {"2x-3", "negative"}));
}

TEST_F(TensorTest, DescribeShowsDtypeAndShape) {
  EXPECT_EQ(unwrap(Tensor::create(context(), DType::f16, {2, 8, 128, 64})).describe(), "f16[2x8x128x64]");
  EXPECT_EQ(unwrap(Tensor::create(context(), DType::u8, {5})).describe(), "u8[5]");
  EXPECT_EQ(unwrap(Tensor::create(context(), DType::f32, {})).describe(), "f32[scalar]");
}

TEST_F(TensorTest, StridesAreCOrderInElements) {
  const auto tensor = unwrap(Tensor::create(context(), DType::f16, {2, 8, 128, 64}));
  EXPECT_EQ(tensor.strides(), (std::vector<std::int64_t>{8 * 128 * 64, 128 * 64, 64, 1}));
  EXPECT_EQ(tensor.element_count(), 2 * 8 * 128 * 64);
  EXPECT_EQ(tensor.byte_size(), 2u * 8 * 128 * 64 * 2);
  EXPECT_EQ(tensor.rank(), 4);
  EXPECT_EQ(tensor.dim(0), 2);
  EXPECT_EQ(tensor.dim(-1), 64);
  EXPECT_EQ(tensor.dim(-4), 2);
}

TEST_F(TensorTest, ScalarTensorHasOneElementAndNoStrides) {
  const auto tensor = unwrap(Tensor::create(context(), DType::i32, {}));
  EXPECT_EQ(tensor.rank(), 0);
  EXPECT_EQ(tensor.element_count(), 1);
  EXPECT_EQ(tensor.byte_size(), 4u);
  EXPECT_TRUE(tensor.strides().empty());
}

TEST_F(TensorTest, ZeroSizedDimensionMakesAnEmptyTensor) {
  const auto tensor = unwrap(Tensor::create(context(), DType::f32, {0, 3}));
  EXPECT_EQ(tensor.element_count(), 0);
  EXPECT_EQ(tensor.byte_size(), 0u);
  EXPECT_EQ(tensor.strides(), (std::vector<std::int64_t>{3, 1}));
  EXPECT_TRUE(unwrap(tensor.download()).empty());
}

TEST_F(TensorTest, DownloadF32WidensF16) {
  const std::vector<float> values = {1.0f, -2.5f, 65504.0f, 0.1f, 5.96046448e-8f, -0.0f};
  const auto halves = to_half(values);
  auto tensor = unwrap(Tensor::from_values<std::uint16_t>(context(), DType::f16, {2, 3}, halves));
  const auto widened = unwrap(tensor.download_f32());
  ASSERT_EQ(widened.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(widened[i], half_to_float(halves[i])) << i;
  EXPECT_EQ(widened[0], 1.0f);
  EXPECT_EQ(widened[1], -2.5f);
  EXPECT_EQ(widened[2], 65504.0f);
  EXPECT_NEAR(widened[3], 0.1f, 1e-4f);
  EXPECT_TRUE(std::signbit(widened[5]));
}

TEST_F(TensorTest, DownloadF32ConvertsIntegers) {
  const std::vector<std::int32_t> ints = {-5, 0, 123456};
  auto i32 = unwrap(Tensor::from_values<std::int32_t>(context(), DType::i32, {3}, ints));
  EXPECT_EQ(unwrap(i32.download_f32()), (std::vector<float>{-5.0f, 0.0f, 123456.0f}));
  const std::vector<std::uint8_t> bytes = {0, 7, 255};
  auto u8 = unwrap(Tensor::from_values<std::uint8_t>(context(), DType::u8, {3}, bytes));
  EXPECT_EQ(unwrap(u8.download_f32()), (std::vector<float>{0.0f, 7.0f, 255.0f}));
}

TEST_F(TensorTest, NpyRoundTripKeepsDtypeShapeAndData) {
  HostArray array{DType::i32, {2, 2}, pattern(16, 5)};
  auto tensor = unwrap(Tensor::from_host(context(), array));
  EXPECT_EQ(tensor.describe(), "i32[2x2]");
  const auto back = unwrap(tensor.to_host());
  EXPECT_EQ(back.dtype, DType::i32);
  EXPECT_EQ(back.shape, array.shape);
  EXPECT_EQ(back.data, array.data);
}

TEST_F(TensorTest, SaveNpyThenLoadNpyGivesTheSameTensor) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "aat_tensor_save_load.npy";
  const std::vector<float> values = {1.5f, -2.0f, 0.25f, 1e30f, -0.0f, 7.0f};
  auto tensor = unwrap(Tensor::from_values<float>(context(), DType::f32, {2, 3}, values));
  unwrap(write_npy(path, tensor));
  auto loaded = unwrap(read_npy_tensor(context(), path));
  EXPECT_EQ(loaded.describe(), "f32[2x3]");
  EXPECT_EQ(unwrap(loaded.download_values<float>()), values);
  std::filesystem::remove(path);
}

TEST_F(TensorTest, LoadNpyOfAMissingFileNamesTheFile) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "aat_no_such_tensor.npy";
  EXPECT_TRUE(FailsWith(read_npy_tensor(context(), path), ErrorCode::not_found, {"aat_no_such_tensor.npy"}));
}

// --- allocation failures -----------------------------------------------------------------

TEST_F(BufferTest, LargerThanTheLargestAllocationIsOutOfMemoryNamingTheSize) {
  const std::uint64_t limit = context()->device().limits.max_allocation_bytes;
  ASSERT_GT(limit, 0u);
  const MemoryStats before = context()->memory_stats();
  const std::uint64_t size = limit + 1;
  EXPECT_TRUE(FailsWith(Buffer::create(context(), size), ErrorCode::out_of_memory, {std::to_string(size)}));
  EXPECT_EQ(context()->memory_stats().live_buffers, before.live_buffers);
  EXPECT_EQ(context()->memory_stats().reserved_bytes, before.reserved_bytes);
}

TEST_F(BufferTest, LargerThanTheWholeHeapIsOutOfMemoryNamingTheSize) {
  const auto& limits = context()->device().limits;
  const std::uint64_t size = std::max(limits.max_allocation_bytes, limits.device_local_bytes) * 2 + 4;
  EXPECT_TRUE(FailsWith(Buffer::create(context(), size), ErrorCode::out_of_memory, {std::to_string(size)}));
}

TEST_F(TensorTest, HugeShapeIsOutOfMemoryNotACrash) {
  const auto result = Tensor::create(context(), DType::f32, {1 << 20, 1 << 20});
  EXPECT_TRUE(FailsWith(result, ErrorCode::out_of_memory, {std::to_string((1ull << 40) * 4)}));
}

TEST_F(BufferTest, DeviceStillWorksAfterAnAllocationFailure) {
  ASSERT_FALSE(Buffer::create(context(), ~0ull >> 1).has_value());
  auto buffer = unwrap(Buffer::create(context(), 8));
  AAT_ASSERT_OK(buffer.write(pattern(8)));
  std::vector<std::byte> back(8);
  AAT_ASSERT_OK(buffer.read(back));
  EXPECT_EQ(back, pattern(8));
}

// --- the allocator -----------------------------------------------------------------------

TEST(AllocatorTest, ManySmallAllocationsAreReusedAfterRelease) {
  auto context = fresh_context();
  const MemoryStats start = context->memory_stats();
  std::mt19937 random(42);
  std::uint64_t reserved_after_first_round = 0;
  for (int round = 0; round < 5; ++round) {
    std::vector<Buffer> buffers;
    for (int i = 0; i < 1000; ++i)
      buffers.push_back(unwrap(Buffer::create(context, 1 + random() % 4096)));
    EXPECT_EQ(context->memory_stats().live_buffers, start.live_buffers + 1000);
    std::shuffle(buffers.begin(), buffers.end(), random);
    buffers.clear();
    const MemoryStats after = context->memory_stats();
    EXPECT_EQ(after.live_bytes, start.live_bytes) << "round " << round;
    EXPECT_EQ(after.live_buffers, start.live_buffers) << "round " << round;
    if (round == 0) reserved_after_first_round = after.reserved_bytes;
    EXPECT_EQ(after.reserved_bytes, reserved_after_first_round) << "round " << round;
  }
  EXPECT_TRUE(context->take_validation_messages().empty());
}

TEST(AllocatorTest, FreedNeighboursCoalesceIntoOneRange) {
  auto context = fresh_context();
  // The first small buffer opens one block: its size is what sub-allocation works within.
  std::vector<Buffer> small;
  small.push_back(unwrap(Buffer::create(context, 256)));
  const std::uint64_t block = context->memory_stats().reserved_bytes;
  ASSERT_GE(block, 4 * kMiB);
  const std::uint64_t piece = block / 64;
  small.clear();
  for (int i = 0; i < 56; ++i) small.push_back(unwrap(Buffer::create(context, piece)));
  const std::uint64_t reserved = context->memory_stats().reserved_bytes;
  ASSERT_EQ(reserved, block) << "56 pieces of 1/64 block should share the first block";
  // Free every other piece, then the rest: only merging neighbours leaves a range bigger
  // than the untouched tail of the block (8 pieces).
  for (std::size_t i = 1; i < small.size(); i += 2) small[i] = Buffer();
  small.clear();
  const auto big = unwrap(Buffer::create(context, piece * 24));
  EXPECT_EQ(context->memory_stats().reserved_bytes, reserved) << "the big buffer needed a new block";
  EXPECT_TRUE(context->take_validation_messages().empty());
}

TEST(AllocatorTest, LargeBuffersReturnTheirMemoryWhenFreed) {
  auto context = fresh_context();
  const MemoryStats start = context->memory_stats();
  {
    auto big = unwrap(Buffer::create(context, 128 * kMiB));
    EXPECT_GE(context->memory_stats().reserved_bytes, start.reserved_bytes + 128 * kMiB);
  }
  EXPECT_EQ(context->memory_stats().reserved_bytes, start.reserved_bytes);
  EXPECT_EQ(context->memory_stats().live_bytes, start.live_bytes);
}

}  // namespace
}  // namespace aat
