// aat::Error and aat::Expected: every fallible public call returns Expected<T>.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aat {

enum class ErrorCode {
  invalid_argument,   // the caller passed something the callee cannot use
  not_found,          // a named thing (binding, member, file, device, plugin) does not exist
  io,                 // a file could not be read or written
  parse,              // a file or string is malformed (.npy header, SPIR-V, value syntax)
  shader_compile,     // GLSL did not compile
  reflection,         // SPIR-V could not be reflected
  size_mismatch,      // a buffer or array is not the size the kernel expects
  type_mismatch,      // a value or array has the wrong type
  unsupported,        // valid input this build or device cannot handle
  no_device,          // no usable Vulkan device
  out_of_memory,      // host or device allocation failed
  vulkan,             // any other Vulkan failure
  validation,         // the validation layer reported a problem
  abi_mismatch,       // a plugin was built against another ABI version
  plugin,             // a plugin could not be loaded or misbehaved
  timeout,            // waiting for the device took too long
  internal,           // a bug in AAT
};

std::string_view to_string(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Outermost first: "while running kernel 'saxpy'", "while reading 'q.npy'".
  const std::vector<std::string>& context() const { return context_; }

  // Adds what the caller was doing; returns *this so it chains in a return statement.
  Error& with_context(std::string what) & {
    context_.insert(context_.begin(), std::move(what));
    return *this;
  }
  Error&& with_context(std::string what) && {
    context_.insert(context_.begin(), std::move(what));
    return std::move(*this);
  }

  // "context: context: message" — what a user sees.
  std::string what() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<std::string> context_;
};

template <class T>
using Expected = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error(code, std::move(message)));
}

// Adds a line of context to an error result; passes a value through unchanged.
template <class T>
Expected<T> with_context(Expected<T>&& result, std::string what) {
  if (!result) result.error().with_context(std::move(what));
  return std::move(result);
}

// Propagates an error with a line of context added.
template <class T>
std::unexpected<Error> forward(Expected<T>&& failed, std::string what) {
  return std::unexpected<Error>(std::move(failed.error()).with_context(std::move(what)));
}

}  // namespace aat

// Evaluates an Expected<T> expression; on error returns it from the enclosing function,
// otherwise assigns its value to `lhs` (which may be a declaration: AAT_TRY(auto x, f())).
#define AAT_CONCAT_INNER(a, b) a##b
#define AAT_CONCAT(a, b) AAT_CONCAT_INNER(a, b)
#define AAT_TRY(lhs, expr) AAT_TRY_IMPL(AAT_CONCAT(aat_try_, __LINE__), lhs, expr)
#define AAT_TRY_IMPL(tmp, lhs, expr)                                 \
  auto tmp = (expr);                                                 \
  if (!tmp) return std::unexpected<::aat::Error>(std::move(tmp.error())); \
  lhs = std::move(*tmp)

// Same, for Expected<void>.
#define AAT_CHECK(expr) AAT_CHECK_IMPL(AAT_CONCAT(aat_check_, __LINE__), expr)
#define AAT_CHECK_IMPL(tmp, expr)                                    \
  do {                                                               \
    auto tmp = (expr);                                               \
    if (!tmp) return std::unexpected<::aat::Error>(std::move(tmp.error())); \
  } while (0)
