// Test support: one shared Context per test binary, with validation on, and a fixture that
// fails any test during which the validation layer reported something.
#pragma once

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aat/aat.hpp"

namespace aat::testing {

// The process-wide test context (created on first use, validation on).
std::shared_ptr<Context> shared_context();

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

}  // namespace aat::testing

#define AAT_ASSERT_OK(expr)                                                       \
  do {                                                                            \
    auto aat_assert_result = (expr);                                              \
    ASSERT_TRUE(aat_assert_result.has_value()) << aat_assert_result.error().what(); \
  } while (0)
