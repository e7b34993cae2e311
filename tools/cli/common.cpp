#include <fmt/format.h>

#include "commands.hpp"

namespace aat::cli {

void report(GlobalOptions& global, const Error& error) {
  fmt::print(stderr, "aat: error: {}\n", error.what());
  global.exit_code = 1;
}

Expected<std::shared_ptr<Context>> open_context(const GlobalOptions& global, bool robust_buffer_access) {
  ContextOptions options;
  options.device = global.device;
  options.robust_buffer_access = robust_buffer_access;
  return Context::create(options);
}

}  // namespace aat::cli
