// Test support: one shared Context per test binary, with validation on, and a fixture that
// fails any test during which the validation layer reported something. When all tests are
// done, a GoogleTest environment destroys the shared context and fails the run if it was still
// referenced (a leaked Buffer, Tensor, Kernel or Stream keeps the device alive) or if the layer
// reported anything while it was torn down (Vulkan objects never destroyed): docs/reliability.md.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aat/aat.hpp"

namespace aat::testing {

// The process-wide test context (created on first use, validation on).
std::shared_ptr<Context> shared_context();

// Validation messages kept outside the contexts that report them, so that what the layer says
// while a context is destroyed is still there to check afterwards. Thread-safe.
class ValidationLog {
 public:
  void add(const std::string& message);
  std::size_t size() const;
  std::vector<std::string> since(std::size_t mark) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

// Options for a test context: validation on, every message also copied into `log`.
ContextOptions checked_context_options(const std::shared_ptr<ValidationLog>& log);

// Releases `context`, which must be the caller's last reference, and returns what went wrong:
// references still held elsewhere (the device stays alive, so nothing was torn down), and each
// validation message reported during the teardown, e.g. "VkBuffer ... has not been destroyed".
std::vector<std::string> teardown_problems(std::shared_ptr<Context>&& context, const ValidationLog& log);

class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::shared_ptr<Context> context() const { return context_; }
  // Compiles GLSL with the shared test compiler (SPIR-V cache under the test cache folder).
  Spirv compile(const std::string& source, const std::string& name = "test.comp",
                const CompileOptions& options = {});

 private:
  std::shared_ptr<Context> context_;
};

// Unwraps an Expected in a test, failing with the error's message.
template <class T>
T unwrap(Expected<T> value, const char* what = "") {
  if (!value) {
    ADD_FAILURE() << what << (what[0] ? ": " : "") << value.error().what();
    throw std::runtime_error(value.error().what());
  }
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

// A device test whose suites share one T, made by T::create(context) on first use and released
// when a suite ends: a plugin's pipelines are built once per suite, not once per test.
template <class T>
class SharedObjectTest : public DeviceTest {
 protected:
  static void TearDownTestSuite() { object_.reset(); }
  T& shared() {
    if (!object_) object_ = unwrap(T::create(context()), "the suite's shared object: create");
    return *object_;
  }

 private:
  static inline std::optional<T> object_;
};

// A tensor of `dtype` (f32, or f16 rounded from the values) holding `values`, C order.
inline Tensor upload_floats(const std::shared_ptr<Context>& context, DType dtype, std::vector<std::int64_t> shape,
                            const std::vector<float>& values) {
  if (dtype == DType::f16)
    return unwrap(Tensor::from_values<std::uint16_t>(context, DType::f16, std::move(shape), to_half(values)), "upload f16");
  return unwrap(Tensor::from_values<float>(context, DType::f32, std::move(shape), values), "upload f32");
}

// Passes when `result` is an error with `code` whose text contains every one of `parts`.
template <class T>
::testing::AssertionResult FailsWith(const Expected<T>& result, ErrorCode code,
                                     std::initializer_list<std::string_view> parts = {}) {
  if (result) return ::testing::AssertionFailure() << "succeeded; expected " << to_string(code);
  const auto& error = result.error();
  if (error.code() != code)
    return ::testing::AssertionFailure() << "code " << to_string(error.code()) << ", expected " << to_string(code)
                                         << " (" << error.what() << ")";
  for (std::string_view part : parts)
    if (error.what().find(part) == std::string::npos)
      return ::testing::AssertionFailure() << "message '" << error.what() << "' does not contain '" << part << "'";
  return ::testing::AssertionSuccess();
}

}  // namespace aat::testing

#define AAT_ASSERT_OK(expr)                                                       \
  do {                                                                            \
    auto aat_assert_result = (expr);                                              \
    ASSERT_TRUE(aat_assert_result.has_value()) << aat_assert_result.error().what(); \
  } while (0)
