// Attention from several host threads on one shared Context (docs/embedding.md): each thread
// has its own aat::attention::Attention (not thread-safe by itself); the Context is shared.
// Every result is compared with the double-precision reference at the f32 tolerance of
// test_attention.cpp (abs = rel = 2e-5).
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aat/attention/attention.hpp"
#include "device_test.hpp"
#include "reference.hpp"

namespace aat::attention {
namespace {

using aat::testing::DeviceTest;
namespace ref = reference;

// One thread's work: several problems of its own, run and checked. Returns "" or the failures.
std::string run_thread(const std::shared_ptr<Context>& context, int thread, int iterations) {
  auto attention = Attention::create(context);
  if (!attention) return attention.error().what();
  std::ostringstream failures;
  std::mt19937 rng(static_cast<std::uint32_t>(1000 + thread));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int it = 0; it < iterations; ++it) {
    ref::Problem p{.batch = 1 + (thread % 2), .q_heads = 2};
    p.kv_heads = (thread % 3 == 0) ? 1 : 2;  // GQA on some threads
    p.q_len = 5 + 7 * ((thread + it) % 4);
    p.kv_len = p.q_len + 9 * (it % 3);
    p.head_dim = (thread % 2) ? 64 : 32;
    p.causal = ((thread + it) % 2) == 1;
    std::vector<float> q(static_cast<std::size_t>(p.q_elements())), k(static_cast<std::size_t>(p.kv_elements())),
        v(k.size());
    for (auto* x : {&q, &k, &v})
      for (float& e : *x) e = normal(rng);
    const std::vector<std::int64_t> qs{p.batch, p.q_heads, p.q_len, p.head_dim},
        ks{p.batch, p.kv_heads, p.kv_len, p.head_dim};
    auto tq = Tensor::from_values<float>(context, DType::f32, qs, q);
    auto tk = Tensor::from_values<float>(context, DType::f32, ks, k);
    auto tv = Tensor::from_values<float>(context, DType::f32, ks, v);
    if (!tq || !tk || !tv) return "upload failed";
    AttentionOptions options;
    options.causal = p.causal;
    if (it == 2) options.splits = 2;  // the split-K path and its merge, concurrently too
    auto result = attention->run(*tq, *tk, *tv, options);
    if (!result) return result.error().what();
    auto out = result->out.download_values<float>();
    auto lse = result->lse.download_values<float>();
    if (!out || !lse) return "download failed";
    const auto want = ref::attention(p, q, k, v);
    const auto c_out = ref::compare(*out, want.out, 2e-5, 2e-5, qs);
    const std::vector<std::int64_t> rows{p.batch, p.q_heads, p.q_len};
    const auto c_lse = ref::compare(*lse, want.lse, 2e-5, 2e-5, rows);
    if (!c_out.ok) failures << "thread " << thread << " iteration " << it << " O: " << ref::describe(c_out) << "\n";
    if (!c_lse.ok) failures << "thread " << thread << " iteration " << it << " L: " << ref::describe(c_lse) << "\n";
  }
  return failures.str();
}

class AttentionThreadsTest : public DeviceTest {};

TEST_F(AttentionThreadsTest, SixThreadsOnOneContextEachWithItsOwnAttention) {
  constexpr int kThreads = 6, kIterations = 4;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { errors[static_cast<std::size_t>(t)] = run_thread(context(), t, kIterations); });
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[static_cast<std::size_t>(t)], "") << "thread " << t;
}

}  // namespace
}  // namespace aat::attention
