// Faults (docs/reliability.md): what goes wrong on a device, in a plugin or on disk gives a
// named error or is recovered from, and never crashes the host or corrupts its data.
//   - device allocations larger than the heap, and allocation failures injected in the allocator
//   - out-of-bounds shader access under robust buffer access
//   - plugins whose command or entry point throws
//   - corrupt SPIR-V cache entries, concurrent writers (threads and processes) to the cache folder
//   - the teardown leak check itself: a Vulkan object left alive, or a leaked handle, is reported
//
// The leak check reaches the raw VkDevice through the framework's private state.
#define VULKAN_HPP_NO_CONSTRUCTORS  // as the framework compiles its private headers
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aat/op_run.hpp"
#include "aat/plugin.hpp"
#include "context_state.hpp"
#include "device_test.hpp"
#include "saxpy_glsl.hpp"

namespace aat {
namespace {

namespace fs = std::filesystem;
using testing::DeviceTest;
using testing::FailsWith;
using testing::unwrap;

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / ("aat_faults_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// dst[i] = src[i + read_offset]; probe[i + write_offset] = 1: offsets past the end go out of bounds.
constexpr const char* kOutOfBounds = R"(
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) writeonly buffer Dst { float dst[]; };
layout(std430, binding = 2) writeonly buffer Probe { float probe[]; };
layout(push_constant) uniform Params { uint n; uint read_offset; uint write_offset; };
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i >= n) return;
  dst[i] = src[i + read_offset];
  probe[i + write_offset] = 1.0;
}
)";

// --- device memory ----------------------------------------------------------------------------

class DeviceMemoryFaults : public DeviceTest {};

TEST_F(DeviceMemoryFaults, BufferLargerThanTheHeapIsAnOutOfMemoryErrorAndTheContextStaysUsable) {
  const MemoryStats before = context()->memory_stats();
  const auto& limits = context()->device().limits;
  ASSERT_GT(limits.device_local_bytes, 0u);
  for (const std::uint64_t bytes : std::initializer_list<std::uint64_t>{
           limits.device_local_bytes + (std::uint64_t{1} << 30), limits.device_local_bytes * 4,
           std::uint64_t{1} << 62, ~std::uint64_t{0}}) {
    auto buffer = Buffer::create(context(), bytes);
    EXPECT_TRUE(FailsWith(buffer, ErrorCode::out_of_memory, {std::to_string(bytes)})) << bytes;
  }
  // A tensor whose byte size does not even fit in 64 bits is refused as well.
  EXPECT_FALSE(Tensor::create(context(), DType::f32, {std::int64_t{1} << 40, std::int64_t{1} << 40}));
  const MemoryStats after = context()->memory_stats();
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.live_buffers, before.live_buffers);
  // Nothing was corrupted: the allocator still serves and the device still computes.
  auto small = unwrap(Tensor::from_values<float>(context(), DType::f32, {4}, std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(unwrap(small.download_values<float>()), (std::vector<float>{1, 2, 3, 4}));
}

// Runs saxpy end to end; every failure must be a clean error.
Expected<std::vector<float>> run_saxpy(const std::shared_ptr<Context>& context, const Spirv& spirv, std::uint32_t n) {
  AAT_TRY(auto kernel, Kernel::create(context, spirv, "saxpy"));
  std::vector<float> xs(n, 2.0f), ys(n, 1.0f);
  AAT_TRY(auto x, Tensor::from_values<float>(context, DType::f32, {n}, xs));
  AAT_TRY(auto y, Tensor::from_values<float>(context, DType::f32, {n}, ys));
  Bindings bindings(kernel);
  AAT_CHECK(bindings.bind("X", x));
  AAT_CHECK(bindings.bind("Y", y));
  AAT_CHECK(bindings.push("a", 3.0f));
  AAT_CHECK(bindings.push("n", n));
  AAT_TRY(auto stream, Stream::create(context));
  AAT_TRY(auto groups, kernel.workgroups_for({n, 1, 1}));
  AAT_CHECK(stream.dispatch(bindings, groups));
  AAT_CHECK(stream.run());
  return y.download_values<float>();
}

TEST(AllocationFailureInjection, EveryDeviceAllocationFailingInTurnGivesANamedErrorAndLeaksNothing) {
  auto log = std::make_shared<testing::ValidationLog>();
  auto armed = std::make_shared<std::atomic<int>>(-1);  // fail the allocation with this index; -1: none
  auto seen = std::make_shared<std::atomic<int>>(0);
  ContextOptions options = testing::checked_context_options(log);
  options.force_staging = true;  // uploads and downloads allocate staging memory too
  options.allocation_filter = [armed, seen](std::uint64_t) { return (*seen)++ != armed->load(); };
  auto context = unwrap(Context::create(options));
  const Spirv spirv = [] {
    ShaderCompiler compiler;
    return unwrap(compiler.compile(testing::saxpy_glsl(256), "saxpy.comp"));
  }();

  // The first run counts the device allocations a fresh context makes for it.
  const std::uint32_t n = 9'000'000;  // 36 MB tensors: dedicated allocations, staging ones too
  ASSERT_EQ(unwrap(run_saxpy(context, spirv, n)).at(7), 7.0f);
  const int total = seen->load();
  ASSERT_GE(total, 5);  // x, y and their uploads, the download
  ::testing::Test::RecordProperty("device_allocations", total);
  int failures = 0;
  for (int victim = 0; victim < total; ++victim) {
    // A fresh context each time, so allocation number `victim` is a vkAllocateMemory of this run.
    auto fresh = unwrap(Context::create(options));
    seen->store(0);
    armed->store(victim);
    auto result = run_saxpy(fresh, spirv, n);
    armed->store(-1);
    if (result) {
      EXPECT_EQ(result->at(7), 7.0f);
    } else {
      ++failures;
      EXPECT_TRUE(FailsWith(result, ErrorCode::out_of_memory, {"allocation_filter"})) << "victim " << victim;
    }
    const MemoryStats stats = fresh->memory_stats();
    EXPECT_EQ(stats.live_bytes, 0u) << "victim " << victim;
    EXPECT_EQ(stats.live_buffers, 0u) << "victim " << victim;
    // After the injected failure the same context still works.
    EXPECT_EQ(unwrap(run_saxpy(fresh, spirv, 64)).at(3), 7.0f) << "victim " << victim;
    for (const auto& problem : testing::teardown_problems(std::move(fresh), *log))
      ADD_FAILURE() << "victim " << victim << ": " << problem;
  }
  EXPECT_EQ(failures, total);  // every allocation was needed, so every injected failure surfaced
  for (const auto& problem : testing::teardown_problems(std::move(context), *log)) ADD_FAILURE() << problem;
}

TEST(AllocationFailureInjection, FilterSeesTheSizeAndRefusalNamesIt) {
  auto log = std::make_shared<testing::ValidationLog>();
  auto largest = std::make_shared<std::atomic<std::uint64_t>>(0);
  ContextOptions options = testing::checked_context_options(log);
  options.allocation_filter = [largest](std::uint64_t bytes) {
    if (bytes > largest->load()) largest->store(bytes);
    return bytes < (256ull << 20);
  };
  auto context = unwrap(Context::create(options));
  EXPECT_TRUE(FailsWith(Buffer::create(context, 300ull << 20), ErrorCode::out_of_memory,
                      {std::to_string(300ull << 20), "allocation_filter"}));
  EXPECT_GE(largest->load(), 300ull << 20);
  EXPECT_TRUE(Buffer::create(context, 1 << 20).has_value());
  for (const auto& problem : testing::teardown_problems(std::move(context), *log)) ADD_FAILURE() << problem;
}

// --- robust buffer access -----------------------------------------------------------------------

TEST(RobustBufferAccess, OutOfBoundsReadsGiveZeroAndWritesAreDroppedWithoutCrashing) {
  auto log = std::make_shared<testing::ValidationLog>();
  ContextOptions options = testing::checked_context_options(log);
  options.robust_buffer_access = true;
  auto context = unwrap(Context::create(options));
  if (!context->device().features.robust_buffer_access)
    GTEST_SKIP() << context->device().name << " does not offer robustBufferAccess";
  ShaderCompiler compiler;
  auto kernel = unwrap(Kernel::create(context, unwrap(compiler.compile(kOutOfBounds, "oob.comp")), "oob"));

  constexpr std::uint32_t n = 256;
  auto src = unwrap(Tensor::from_values<float>(context, DType::f32, {n}, std::vector<float>(n, 7.0f)));
  auto dst = unwrap(Tensor::from_values<float>(context, DType::f32, {n}, std::vector<float>(n, -1.0f)));
  auto probe = unwrap(Tensor::from_values<float>(context, DType::f32, {n}, std::vector<float>(n, 0.0f)));
  // Allocated right after `probe` in the same memory block: out-of-bounds writes must not reach it.
  auto neighbour = unwrap(Tensor::from_values<float>(context, DType::f32, {4 * n}, std::vector<float>(4 * n, 5.0f)));

  {
    Bindings bindings(kernel);
    AAT_ASSERT_OK(bindings.bind("Src", src));
    AAT_ASSERT_OK(bindings.bind("Dst", dst));
    AAT_ASSERT_OK(bindings.bind("Probe", probe));
    AAT_ASSERT_OK(bindings.push("n", n));
    AAT_ASSERT_OK(bindings.push("read_offset", n));   // every read past the end of src
    AAT_ASSERT_OK(bindings.push("write_offset", n));  // every write past the end of probe
    auto stream = unwrap(Stream::create(context));
    AAT_ASSERT_OK(stream.dispatch(bindings, unwrap(kernel.workgroups_for({n, 1, 1}))));
    AAT_ASSERT_OK(stream.run());
  }
  const auto read = unwrap(dst.download_values<float>());
  const auto written = unwrap(probe.download_values<float>());
  const auto untouched = unwrap(neighbour.download_values<float>());
  const bool lavapipe = context->device().name.find("llvmpipe") != std::string::npos;
  for (std::uint32_t i = 0; i < n; ++i) {
    // Vulkan allows any value from inside the buffer (7) or zero; lavapipe returns zero.
    if (lavapipe) {
      ASSERT_EQ(read[i], 0.0f) << "at " << i;
    } else {
      ASSERT_TRUE(read[i] == 0.0f || read[i] == 7.0f) << "at " << i << ": " << read[i];
    }
    // Out-of-bounds writes may land inside the buffer's own range, never outside it.
    if (lavapipe) {
      ASSERT_EQ(written[i], 0.0f) << "at " << i;
    }
  }
  for (std::uint32_t i = 0; i < 4 * n; ++i) ASSERT_EQ(untouched[i], 5.0f) << "neighbour at " << i;
  EXPECT_EQ(unwrap(src.download_values<float>()), std::vector<float>(n, 7.0f));
  for (const auto& m : context->take_validation_messages()) ADD_FAILURE() << m;
  src = dst = probe = neighbour = Tensor();
  kernel = Kernel();
  for (const auto& problem : testing::teardown_problems(std::move(context), *log)) ADD_FAILURE() << problem;
}

// --- plugins that throw -------------------------------------------------------------------------

const fs::path kFaultPlugins = AAT_TEST_FAULT_PLUGIN_DIR;

TEST(ThrowingPlugin, ACommandThatThrowsUnwindsToTheHostAsACatchableException) {
  PluginRegistry registry;
  AAT_ASSERT_OK(registry.load(kFaultPlugins / "libaat-test-throws.so"));
  const PluginCommand* command = registry.find_command("throw-std");
  ASSERT_NE(command, nullptr);
  const char* argv[] = {"aat run throw-std"};
  const aat_host host{AAT_PLUGIN_ABI_VERSION, "", nullptr};
  // What tools/cli/cmd_run_plugin.cpp catches at the boundary (tests/cli/test_cli_faults.sh
  // checks the CLI itself: exit code 1 and the message, not a crash).
  try {
    command->run(&host, 1, argv);
    ADD_FAILURE() << "the command did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("on purpose"));
  }
  const PluginCommand* other = registry.find_command("throw-other");
  ASSERT_NE(other, nullptr);
  EXPECT_ANY_THROW(other->run(&host, 1, argv));
}

// Runs the op `name` of the throwing plugin on x = f32[4].
Expected<OpResult> run_throwing_op(std::string_view name) {
  PluginRegistry registry;
  AAT_CHECK(registry.load(kFaultPlugins / "libaat-test-throws.so"));
  const PluginOp* op = registry.find_op(name);
  if (!op) return fail(ErrorCode::not_found, "the test plugin has no op " + std::string(name));
  auto context = testing::shared_context();
  AAT_TRY(Tensor x, Tensor::create(context, DType::f32, {4}));
  return run_op(context, *op, {.inputs = {{"x", x}}});
}

TEST(ThrowingPlugin, AnOpWhosePlanThrowsIsAPluginErrorNamingTheOp) {
  EXPECT_TRUE(FailsWith(run_throwing_op("throw-in-plan"), ErrorCode::plugin,
                        {"op 'throw-in-plan' (plugin 'throws')", "plan threw an exception", "on purpose"}));
}

TEST(ThrowingPlugin, AnOpDescribingItsOutputAgainstItsRuleIsNotTrusted) {
  EXPECT_TRUE(FailsWith(run_throwing_op("bad-output"), ErrorCode::plugin,
                        {"op 'bad-output'", "output 'y'", "against its own rule"}));
}

TEST(ThrowingPlugin, AnEntryPointThatThrowsIsAPluginErrorNamingTheLibrary) {
  PluginRegistry registry;
  const auto path = kFaultPlugins / "libaat-test-entry_throws.so";
  auto loaded = registry.load(path);
  EXPECT_TRUE(FailsWith(loaded, ErrorCode::plugin, {path.string(), "threw an exception", "entry point failed"}));
  EXPECT_TRUE(registry.plugins().empty());
}

// --- the SPIR-V cache on disk -------------------------------------------------------------------

constexpr const char* kCacheShader = R"(
#version 450
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Data { uint values[]; };
void main() { values[gl_GlobalInvocationID.x] *= 3u; }
)";

fs::path only_entry(const fs::path& folder) {
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(folder)) entries.push_back(e.path());
  EXPECT_EQ(entries.size(), 1u);
  return entries.empty() ? fs::path() : entries.front();
}

std::vector<char> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(SpirvCacheFaults, EveryTruncationAndEveryFlippedByteOfAnEntryIsDetectedDiscardedAndRebuilt) {
  const auto dir = fresh_dir("cache_damage");
  const Spirv reference = unwrap(ShaderCompiler().compile(kCacheShader, "damage.comp"));
  {
    ShaderCompiler writer(dir);
    ASSERT_EQ(unwrap(writer.compile(kCacheShader, "damage.comp")), reference);
  }
  const fs::path entry = only_entry(dir / "spirv");
  const std::vector<char> good = read_all(entry);
  ASSERT_GT(good.size(), 64u);
  std::vector<std::vector<char>> damaged;
  for (std::size_t length = 0; length < good.size(); length += 1 + length / 16)
    damaged.emplace_back(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(length));
  for (std::size_t at = 0; at < good.size(); at += 1 + at / 24) {
    auto flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
    damaged.push_back(std::move(flipped));
  }
  auto longer = good;
  longer.push_back('x');
  damaged.push_back(std::move(longer));
  for (std::size_t i = 0; i < damaged.size(); ++i) {
    write_all(entry, damaged[i]);
    ShaderCompiler compiler(dir);
    ASSERT_EQ(unwrap(compiler.compile(kCacheShader, "damage.comp")), reference) << "damage " << i;
    ASSERT_EQ(compiler.cache_stats().rejected, 1u) << "damage " << i;
    ASSERT_EQ(read_all(entry), good) << "damage " << i << ": the rebuilt entry differs";
  }
  fs::remove_all(dir);
}

TEST(SpirvCacheFaults, AnEntryThatIsNotAFileIsRebuiltAround) {
  const auto dir = fresh_dir("cache_not_a_file");
  const Spirv reference = unwrap(ShaderCompiler().compile(kCacheShader, "odd.comp"));
  {
    ShaderCompiler writer(dir);
    (void)unwrap(writer.compile(kCacheShader, "odd.comp"));
  }
  const fs::path entry = only_entry(dir / "spirv");
  fs::remove(entry);
  fs::create_directories(entry / "inside");  // a folder where the entry should be
  ShaderCompiler compiler(dir);
  EXPECT_EQ(unwrap(compiler.compile(kCacheShader, "odd.comp")), reference);
  fs::remove_all(dir);
}

// Checks what concurrent writers leave behind: one whole entry, no temporary files, a hit next time.
void expect_one_clean_entry(const fs::path& dir, const Spirv& reference, const std::string& name) {
  std::vector<fs::path> left;
  for (const auto& e : fs::directory_iterator(dir / "spirv")) left.push_back(e.path().filename());
  ASSERT_EQ(left.size(), 1u) << "files left: " << ::testing::PrintToString(left);
  EXPECT_EQ(left.front().extension(), ".aatspv");
  ShaderCompiler reader(dir);
  EXPECT_EQ(unwrap(reader.compile(kCacheShader, name)), reference);
  EXPECT_EQ(reader.cache_stats().hits, 1u);
  EXPECT_EQ(reader.cache_stats().rejected, 0u);
}

TEST(SpirvCacheFaults, ConcurrentWriterThreadsEachGetTheRightSpirvAndLeaveOneWholeEntry) {
  const auto dir = fresh_dir("cache_threads");
  const Spirv reference = unwrap(ShaderCompiler().compile(kCacheShader, "race.comp"));
  constexpr int kThreads = 8, kRounds = 6;
  std::atomic<int> wrong{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int round = 0; round < kRounds; ++round) {
        ShaderCompiler compiler(dir);  // one per thread, as documented
        auto spirv = compiler.compile(kCacheShader, "race.comp");
        if (!spirv || *spirv != reference) ++wrong;
        // Also race a writer against readers: drop the entry now and then.
        if (round % 3 == 2) {
          std::error_code ec;
          for (const auto& e : fs::directory_iterator(dir / "spirv", ec))
            if (e.path().extension() == ".aatspv") fs::remove(e.path(), ec);
        }
      }
    });
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  // The last round of a thread may have removed the entry: compile once more, then check.
  (void)unwrap(ShaderCompiler(dir).compile(kCacheShader, "race.comp"));
  expect_one_clean_entry(dir, reference, "race.comp");
  fs::remove_all(dir);
}

TEST(SpirvCacheFaults, ConcurrentWriterProcessesEachGetTheRightSpirvAndLeaveOneWholeEntry) {
  const auto dir = fresh_dir("cache_processes");
  const Spirv reference = unwrap(ShaderCompiler().compile(kCacheShader, "fork.comp"));
  constexpr int kProcesses = 4, kRounds = 5;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child compiles and exits; it touches no Vulkan object of the parent's.
      int status = 0;
      for (int round = 0; round < kRounds; ++round) {
        ShaderCompiler compiler(dir);
        auto spirv = compiler.compile(kCacheShader, "fork.comp");
        if (!spirv || *spirv != reference) status = 1;
      }
      std::_Exit(status);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << pid << " status " << status;
  }
  expect_one_clean_entry(dir, reference, "fork.comp");
  fs::remove_all(dir);
}

// --- the pipeline cache on disk -----------------------------------------------------------------

TEST(PipelineCacheFaults, ACorruptOrTruncatedPipelineCacheFileIsNeverTrustedAndIsRewritten) {
  const auto dir = fresh_dir("pipeline_cache");
  auto log = std::make_shared<testing::ValidationLog>();
  ContextOptions options = testing::checked_context_options(log);
  options.cache_dir = dir;
  const Spirv spirv = unwrap(ShaderCompiler().compile(testing::saxpy_glsl(256), "saxpy.comp"));
  auto run_once = [&](const std::string& what) {
    auto context = unwrap(Context::create(options));
    EXPECT_EQ(unwrap(run_saxpy(context, spirv, 256)).at(5), 7.0f) << what;
    for (const auto& problem : testing::teardown_problems(std::move(context), *log))
      ADD_FAILURE() << what << ": " << problem;  // the destructor saves the cache again
  };
  run_once("first run");
  const fs::path file = only_entry(dir / "pipelines");
  const std::vector<char> good = read_all(file);
  ASSERT_GE(good.size(), 32u);

  std::vector<std::pair<std::string, std::vector<char>>> damaged;
  damaged.emplace_back("empty", std::vector<char>{});
  damaged.emplace_back("garbage", std::vector<char>(4096, '\x5a'));
  damaged.emplace_back("header only", std::vector<char>(good.begin(), good.begin() + 32));
  damaged.emplace_back("truncated",
                       std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2)));
  auto body = good;  // the device's own header, then noise where the driver's entries are
  for (std::size_t i = 32; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 + 7);
  damaged.emplace_back("valid header, garbage body", body);
  auto length = good;  // a header that claims more bytes than the file has
  length[0] = '\xff';
  length[1] = '\xff';
  damaged.emplace_back("header length past the end", length);
  for (const auto& [what, bytes] : damaged) {
    write_all(file, bytes);
    run_once(what);
    EXPECT_GE(read_all(file).size(), 32u) << what << ": the cache was not written back";
  }
  fs::remove_all(dir);
}

// --- the teardown leak check --------------------------------------------------------------------

// Host allocations the driver makes for the deliberately leaked object, freed by the test itself
// once the device is gone, so the leak stays a Vulkan-level leak (LeakSanitizer stays quiet).
struct TrackedAllocations {
  std::mutex mutex;
  std::vector<void*> blocks;
  static void* VKAPI_CALL allocate(void* user, size_t size, size_t alignment, VkSystemAllocationScope) {
    void* p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    auto* self = static_cast<TrackedAllocations*>(user);
    std::lock_guard lock(self->mutex);
    self->blocks.push_back(p);
    return p;
  }
  static void* VKAPI_CALL reallocate(void*, void*, size_t, size_t, VkSystemAllocationScope) { return nullptr; }
  static void VKAPI_CALL release(void* user, void* p) {
    if (!p) return;
    auto* self = static_cast<TrackedAllocations*>(user);
    std::lock_guard lock(self->mutex);
    std::erase(self->blocks, p);
    std::free(p);
  }
  ~TrackedAllocations() {
    for (void* p : blocks) std::free(p);
  }
};

TEST(TeardownLeakCheck, AVulkanObjectLeftAliveIsReportedAfterTheContextIsGone) {
  auto log = std::make_shared<testing::ValidationLog>();
  auto context = unwrap(Context::create(testing::checked_context_options(log)));
  TrackedAllocations tracked;
  const VkAllocationCallbacks callbacks{&tracked, &TrackedAllocations::allocate, &TrackedAllocations::reallocate,
                                        &TrackedAllocations::release, nullptr, nullptr};
  const VkDevice device = *context->state().device;
  const VkEventCreateInfo info{VK_STRUCTURE_TYPE_EVENT_CREATE_INFO, nullptr, 0};
  VkEvent event = VK_NULL_HANDLE;
  ASSERT_EQ(vkCreateEvent(device, &info, &callbacks, &event), VK_SUCCESS);  // never destroyed
  const auto problems = testing::teardown_problems(std::move(context), *log);
  ASSERT_FALSE(problems.empty());
  EXPECT_THAT(problems, ::testing::Contains(::testing::AllOf(::testing::HasSubstr("VkEvent"),
                                                             ::testing::HasSubstr("has not been destroyed"))));
}

TEST(TeardownLeakCheck, AHandleStillHeldKeepsTheDeviceAliveAndIsReported) {
  auto log = std::make_shared<testing::ValidationLog>();
  auto context = unwrap(Context::create(testing::checked_context_options(log)));
  auto leaked = unwrap(Buffer::create(context, 1024));
  const auto problems = testing::teardown_problems(std::move(context), *log);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], ::testing::HasSubstr("still alive"));
  leaked = Buffer();  // the device goes now, quietly
  EXPECT_EQ(log->size(), 0u);
}

TEST(TeardownLeakCheck, ACleanTeardownReportsNothing) {
  auto log = std::make_shared<testing::ValidationLog>();
  auto context = unwrap(Context::create(testing::checked_context_options(log)));
  {
    ShaderCompiler compiler;
    const Spirv spirv = unwrap(compiler.compile(testing::saxpy_glsl(256), "saxpy.comp"));
    auto kernel = unwrap(Kernel::create(context, spirv, "saxpy"));
    EXPECT_EQ(unwrap(run_saxpy(context, kernel.spirv(), 128)).at(0), 7.0f);
  }
  EXPECT_THAT(testing::teardown_problems(std::move(context), *log), ::testing::IsEmpty());
}

}  // namespace
}  // namespace aat
