#include "suggest.hpp"

#include <algorithm>
#include <numeric>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace aat::cli {

namespace {

// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  std::iota(d[0].begin(), d[0].end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// Options of the main app that take a value (the word after them is no command).
bool takes_value(const CLI::App& app, std::string_view arg) {
  if (arg.find('=') != std::string_view::npos) return false;
  for (const CLI::Option* option : app.get_options())
    if (option->check_name(std::string(arg))) return option->get_type_size() > 0;
  return false;
}

}  // namespace

std::optional<std::string> closest_name(std::string_view word, const std::vector<std::string>& candidates) {
  const std::size_t allowed = word.size() <= 4 ? 1 : word.size() / 3;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::optional<std::string> unknown_command_message(const CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) commands.push_back(sub->get_name());
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg.starts_with("-")) {
      if (takes_value(app, arg)) ++i;
      continue;
    }
    if (std::find(commands.begin(), commands.end(), arg) != commands.end()) return std::nullopt;
    std::string list;
    for (const auto& c : commands) list += (list.empty() ? "" : ", ") + c;
    const auto guess = closest_name(arg, commands);
    return fmt::format("'{}' is not an aat command{}; the commands are {} ('aat COMMAND --help' for each)", arg,
                       guess ? fmt::format(" (did you mean '{}'?)", *guess) : std::string(), list);
  }
  return std::nullopt;
}

}  // namespace aat::cli
