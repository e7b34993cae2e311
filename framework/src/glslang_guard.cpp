#include "glslang_guard.hpp"

#include <cctype>
#include <map>
#include <vector>

#include <fmt/format.h>

namespace aat::detail {

namespace {

struct Token {
  std::string_view text;
  std::string_view file;
  int line = 0;
  bool identifier = false;
};

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `#line N "file"` (or `#line N`): the next line is line N of that file.
void follow_line_directive(std::string_view directive, int& line, std::string_view& file) {
  std::size_t i = directive.find("line");
  if (i == std::string_view::npos) return;
  i += 4;
  while (i < directive.size() && directive[i] == ' ') ++i;
  int number = 0;
  bool any = false;
  while (i < directive.size() && std::isdigit(static_cast<unsigned char>(directive[i]))) {
    number = number * 10 + (directive[i++] - '0');
    any = true;
    if (number > 100000000) return;
  }
  if (!any) return;
  line = number - 1;  // the directive's own newline advances to N
  const std::size_t open = directive.find('"', i);
  const std::size_t close = open == std::string_view::npos ? open : directive.find('"', open + 1);
  if (close != std::string_view::npos) file = directive.substr(open + 1, close - open - 1);
}

// Identifiers and single punctuation characters; preprocessor lines only move the position.
std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::string_view file;
  int line = 1;
  bool line_start = true;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = true;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (line_start && c == '#') {
      const std::size_t end = std::min(text.find('\n', i), text.size());
      follow_line_directive(text.substr(i, end - i), line, file);
      i = end;
      continue;
    }
    line_start = false;
    if (is_ident_start(c)) {
      std::size_t j = i + 1;
      while (j < text.size() && is_ident_char(text[j])) ++j;
      tokens.push_back({text.substr(i, j - i), file, line, true});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i + 1;
      while (j < text.size() && (is_ident_char(text[j]) || text[j] == '.')) ++j;
      i = j;  // numbers play no part in the hazards
    } else {
      tokens.push_back({text.substr(i, 1), file, line, false});
      ++i;
    }
  }
  return tokens;
}

bool is_block_storage(std::string_view word) {
  return word == "buffer" || word == "uniform" || word == "shared" || word == "in" || word == "out";
}

std::string where(const Token& t) {
  return t.file.empty() ? fmt::format("line {}", t.line) : fmt::format("{}:{}", t.file, t.line);
}

}  // namespace

std::optional<std::string> glslang_crash_hazard(std::string_view preprocessed) {
  const std::vector<Token> tokens = tokenize(preprocessed);
  // Hazard 1: an interface block whose block name is a function declared before it
  // (`float f(float); buffer f { ... };`): glslang 11 dereferences the function as a variable.
  std::map<std::string_view, const Token*> functions;
  int braces = 0, parens = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (!t.identifier) {
      const char c = t.text[0];
      braces += c == '{' ? 1 : c == '}' ? -1 : 0;
      parens += c == '(' ? 1 : c == ')' ? -1 : 0;
      continue;
    }
    if (braces != 0 || parens != 0 || i + 1 >= tokens.size()) continue;
    const Token& next = tokens[i + 1];
    if (next.text == "(" && i > 0 && tokens[i - 1].identifier) functions.emplace(t.text, &t);
    if (next.text == "{" && i > 0 && is_block_storage(tokens[i - 1].text)) {
      if (auto f = functions.find(t.text); f != functions.end())
        return fmt::format("{}: the block name '{}' is already the name of a function ({}); rename the block "
                           "(the glslang in this build crashes on it instead of reporting it)",
                           where(t), t.text, where(*f->second));
    }
  }
  return std::nullopt;
}

}  // namespace aat::detail
