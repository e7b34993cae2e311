// "Did you mean ...?" for mistyped command names.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace aat::cli {

// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
// swaps of neighbours), if it is close enough to be a likely typo: at most 1 edit for words of
// up to 4 letters, else at most a third of the word's length.
std::optional<std::string> closest_name(std::string_view word, const std::vector<std::string>& candidates);

// For a command line CLI11 refused: when its first word that is no option is not a subcommand
// of `app`, the message to print instead ("'rn' is not an aat command; did you mean 'run'?
// Commands: ..."); otherwise nothing (CLI11's own message is the right one).
std::optional<std::string> unknown_command_message(const CLI::App& app, int argc, const char* const* argv);

}  // namespace aat::cli
