#include "aat/error.hpp"

#include <string>
#include <string_view>

namespace aat {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::io: return "io";
    case ErrorCode::parse: return "parse";
    case ErrorCode::shader_compile: return "shader_compile";
    case ErrorCode::reflection: return "reflection";
    case ErrorCode::size_mismatch: return "size_mismatch";
    case ErrorCode::type_mismatch: return "type_mismatch";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::no_device: return "no_device";
    case ErrorCode::out_of_memory: return "out_of_memory";
    case ErrorCode::vulkan: return "vulkan";
    case ErrorCode::validation: return "validation";
    case ErrorCode::abi_mismatch: return "abi_mismatch";
    case ErrorCode::plugin: return "plugin";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::internal: return "internal";
  }
  // Only reachable through a cast of an out-of-range integer; a name is more useful than a crash.
  return "unknown";
}

std::string Error::what() const {
  std::string text;
  for (const std::string& line : context_) {
    text += line;
    text += ": ";
  }
  text += message_;
  return text;
}

}  // namespace aat
