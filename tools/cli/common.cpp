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

Expected<std::pair<std::string, std::string>> assignment(const std::string& option, const std::string& text,
                                                          const char* form) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return fail(ErrorCode::parse, fmt::format("{} '{}': expected {}", option, text, form));
  return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

CompileOptions compile_options(const std::vector<std::string>& defines) {
  CompileOptions options;
  for (const auto& d : defines) {
    const auto eq = d.find('=');
    options.defines.emplace_back(d.substr(0, eq), eq == std::string::npos ? "1" : d.substr(eq + 1));
  }
  return options;
}

bool parse_run_arguments(CLI::App& app, const std::vector<std::string>& args) {
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes a vector last-first
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    return true;
  }
  return false;
}

}  // namespace aat::cli
