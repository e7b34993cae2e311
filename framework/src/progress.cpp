#include "aat/progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace aat {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds(200);
constexpr auto kLineEvery = std::chrono::seconds(10);  // lines mode, within one stage

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string duration_text(double s) {
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto whole = static_cast<long long>(s);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

}  // namespace

Progress::Mode Progress::choose(bool quiet, bool forced, std::FILE* out) {
  if (quiet) return Mode::off;
  if (out && ::isatty(::fileno(out))) return Mode::terminal;
  return forced ? Mode::lines : Mode::off;
}

Progress::Progress(Mode mode, std::string task, std::FILE* out, std::chrono::milliseconds delay)
    : mode_(out ? mode : Mode::off), task_(std::move(task)), out_(out), delay_(delay) {
  start_ = stage_start_ = last_line_ = Clock::now();
  if (mode_ != Mode::off) ticker_ = std::thread([this] { tick(); });
}

void Progress::done() {
  if (mode_ == Mode::off) return;
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = stopping_ = true;
  }
  wake_.notify_all();
  ticker_.join();
  std::lock_guard lock(mutex_);
  if (mode_ == Mode::terminal && shown_) {
    fmt::print(out_, "\r{:{}}\r", "", width_);
    std::fflush(out_);
  } else if (mode_ == Mode::lines && shown_) {
    fmt::print(out_, "aat: {}: finished after {}\n", task_, duration_text(seconds(Clock::now() - start_)));
    std::fflush(out_);
  }
}

void Progress::stage(std::string name, double total) {
  if (mode_ == Mode::off) return;
  std::lock_guard lock(mutex_);
  if (finished_) return;
  stage_ = std::move(name);
  total_ = total;
  done_ = 0;
  stage_start_ = Clock::now();
  stage_shown_ = false;
  if (shown_) render(true);
}

void Progress::advance(double done) {
  if (mode_ == Mode::off) return;
  std::lock_guard lock(mutex_);
  done_ = done;
}

void Progress::tick() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kTick, [this] { return stopping_; })) {
    const auto now = Clock::now();
    if (now - start_ < delay_) continue;
    const bool first = !shown_;
    shown_ = true;
    render(first || !stage_shown_);
  }
}

// With the lock held.
std::string Progress::line() const {
  const auto now = Clock::now();
  std::string text = fmt::format("{}: {} ({} elapsed", task_, stage_.empty() ? "working" : stage_,
                                 duration_text(seconds(now - start_)));
  if (total_ > 0 && done_ > 0 && done_ < total_) {
    const double in_stage = seconds(now - stage_start_);
    text += fmt::format(", {:.0f}%, about {} left", 100 * done_ / total_, duration_text(in_stage * (total_ - done_) / done_));
  }
  return text + ")";
}

// With the lock held. Terminal: redraw the line. Lines: a line per stage, then every kLineEvery.
void Progress::render(bool stage_changed) {
  const auto now = Clock::now();
  if (mode_ == Mode::terminal) {
    std::string text = "aat: " + line();
    const std::size_t width = text.size();
    if (width < width_) text.append(width_ - width, ' ');
    width_ = width;
    fmt::print(out_, "\r{}", text);
  } else {
    if (!stage_changed && now - last_line_ < kLineEvery) return;
    fmt::print(out_, "aat: {}\n", line());
    last_line_ = now;
  }
  stage_shown_ = true;
  std::fflush(out_);
}

}  // namespace aat
