// Progress on stderr (aat/progress.hpp): what each mode prints, and when.
#include "aat/progress.hpp"

#include <cstdio>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aat {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[512];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, file)) text.append(buffer, n);
  return text;
}

TEST(Progress, LinesModeNamesEachStageWithElapsedTimeAndAnEta) {
  std::FILE* out = std::tmpfile();
  {
    Progress progress(Progress::Mode::lines, "attention", out, 0ms);
    progress.stage("reading q, k, v", 4);
    progress.advance(1);
    std::this_thread::sleep_for(500ms);
    progress.stage("attention on llvmpipe");
    std::this_thread::sleep_for(300ms);
  }
  const std::string text = contents(out);
  EXPECT_THAT(text, HasSubstr("aat: attention: reading q, k, v ("));
  EXPECT_THAT(text, HasSubstr("25%, about"));
  EXPECT_THAT(text, HasSubstr("left)"));
  EXPECT_THAT(text, HasSubstr("aat: attention: attention on llvmpipe ("));
  EXPECT_THAT(text, HasSubstr("elapsed"));
  EXPECT_THAT(text, HasSubstr("aat: attention: finished after"));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  std::fclose(out);
}

TEST(Progress, NothingShowsBeforeTheDelay) {
  std::FILE* out = std::tmpfile();
  {
    Progress progress(Progress::Mode::lines, "quick", out, 10s);
    progress.stage("work");
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ(contents(out), "");
  std::fclose(out);
}

TEST(Progress, TerminalModeRedrawsOneLineAndErasesIt) {
  std::FILE* out = std::tmpfile();
  {
    Progress progress(Progress::Mode::terminal, "flow", out, 0ms);
    progress.stage("stepping");
    std::this_thread::sleep_for(500ms);
    progress.done();
    progress.done();  // idempotent
    progress.stage("ignored after done");
  }
  const std::string text = contents(out);
  EXPECT_THAT(text, HasSubstr("\raat: flow: stepping ("));
  EXPECT_THAT(text, Not(HasSubstr("\n")));
  EXPECT_THAT(text, Not(HasSubstr("ignored")));
  EXPECT_EQ(text.back(), '\r');  // erased: the line ends blanked, the cursor at its start
  std::fclose(out);
}

TEST(Progress, QuietWinsAndPipesStaySilentUnlessForced) {
  std::FILE* file = std::tmpfile();  // not a terminal
  EXPECT_EQ(Progress::choose(true, true, file), Progress::Mode::off);
  EXPECT_EQ(Progress::choose(false, false, file), Progress::Mode::off);
  EXPECT_EQ(Progress::choose(false, true, file), Progress::Mode::lines);
  std::fclose(file);
}

}  // namespace
}  // namespace aat
