// Thread safety as documented (docs/architecture.md, docs/embedding.md): one Context and one
// Kernel shared by several host threads, each thread with its own Bindings, Stream, tensors and
// ShaderCompiler, all dispatching at once; every result must be exact.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "device_test.hpp"

namespace aat {
namespace {

using testing::DeviceTest;
using testing::unwrap;

constexpr const char* kAxpb = R"(
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer XBuffer { int x[]; } X;
layout(std430, binding = 1) writeonly buffer YBuffer { int y[]; } Y;
layout(push_constant) uniform Params { int a; int b; uint n; } params;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < params.n) Y.y[i] = params.a * X.x[i] + params.b;
}
)";

// Runs one thread's share of the work; returns "" or what went wrong.
std::string worker(const std::shared_ptr<Context>& context, const Kernel& kernel, int thread, int iterations) {
  for (int it = 0; it < iterations; ++it) {
    const std::uint32_t n = 1000u + static_cast<std::uint32_t>(thread * 37 + it * 11);
    const int a = thread + 2, b = it - 5;
    std::vector<std::int32_t> x(n);
    for (std::uint32_t i = 0; i < n; ++i) x[i] = static_cast<std::int32_t>(i) - 300 + thread;
    auto tx = Tensor::from_values<std::int32_t>(context, DType::i32, {n}, x);
    auto ty = Tensor::create(context, DType::i32, {n});
    if (!tx || !ty) return "allocation failed";
    Bindings bindings(kernel);
    if (!bindings.bind("X", *tx) || !bindings.bind("Y", *ty) || !bindings.push("a", a) || !bindings.push("b", b) ||
        !bindings.push("n", n))
      return "binding failed";
    auto stream = Stream::create(context);
    if (!stream) return stream.error().what();
    auto groups = kernel.workgroups_for({n, 1, 1});
    if (!groups) return groups.error().what();
    if (auto r = stream->dispatch(bindings, *groups); !r) return r.error().what();
    if (auto r = stream->run(); !r) return r.error().what();
    auto y = ty->download_values<std::int32_t>();
    if (!y) return y.error().what();
    for (std::uint32_t i = 0; i < n; ++i)
      if ((*y)[i] != a * x[i] + b)
        return "thread " + std::to_string(thread) + " iteration " + std::to_string(it) + ": wrong value at " +
               std::to_string(i);
  }
  return {};
}

class ThreadsTest : public DeviceTest {};

TEST_F(ThreadsTest, OneContextAndOneKernelSharedByEightThreads) {
  const auto kernel = unwrap(Kernel::create(context(), compile(kAxpb, "axpb.comp"), "axpb"));
  constexpr int kThreads = 8, kIterations = 6;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { errors[static_cast<std::size_t>(t)] = worker(context(), kernel, t, kIterations); });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
}

TEST_F(ThreadsTest, EachThreadCompilesAndCreatesItsOwnKernelOnTheSharedContext) {
  constexpr int kThreads = 4;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ShaderCompiler compiler(context()->cache_dir());  // one per thread; the on-disk cache is shared
      auto spirv = compiler.compile(kAxpb, "axpb.comp");
      if (!spirv) {
        errors[static_cast<std::size_t>(t)] = spirv.error().what();
        return;
      }
      auto kernel = Kernel::create(context(), *spirv, "axpb");
      if (!kernel) {
        errors[static_cast<std::size_t>(t)] = kernel.error().what();
        return;
      }
      errors[static_cast<std::size_t>(t)] = worker(context(), *kernel, t, 2);
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
}

}  // namespace
}  // namespace aat
