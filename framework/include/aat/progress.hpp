// Progress of a long command, on stderr: which stage it is in, how long it has run and, where a
// stage knows how much work it has, when it will be done. Nothing is printed for the first
// second, so short commands stay silent. On a terminal one line is redrawn in place and erased
// at the end; otherwise (when asked for, `--progress`) a plain line is printed per stage and every
// ten seconds within a long one. A ticker thread prints while the caller waits on the device.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace aat {

class Progress {
 public:
  enum class Mode {
    off,       // print nothing
    terminal,  // one line, redrawn in place (stderr is a terminal)
    lines,     // plain lines (a log file, a pipe)
  };
  // --quiet wins; then a terminal gets `terminal`; otherwise `lines` only when forced (--progress).
  static Mode choose(bool quiet, bool forced, std::FILE* out = stderr);

  // `task` prefixes every line ("attention"). `delay`: how long the task runs before anything shows.
  Progress(Mode mode, std::string task, std::FILE* out = stderr,
           std::chrono::milliseconds delay = std::chrono::seconds(1));
  Progress() : Progress(Mode::off, {}) {}
  ~Progress() { done(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // A new stage. With `total` > 0 the stage has that much work (bytes, steps, ...) and advance()
  // says how much is done, which gives an ETA.
  void stage(std::string name, double total = 0);
  void advance(double done);
  // Stops the ticker and erases the terminal line (lines mode: says how long it took). Call it
  // before printing results to stdout, which may be the same terminal. Idempotent.
  void done();

  Mode mode() const { return mode_; }

 private:
  void tick();
  void render(bool stage_changed);
  std::string line() const;

  Mode mode_;
  std::string task_;
  std::FILE* out_;
  std::chrono::milliseconds delay_;
  std::chrono::steady_clock::time_point start_, stage_start_, last_line_;
  std::string stage_;
  double total_ = 0, done_ = 0;
  bool shown_ = false, stage_shown_ = false, stopping_ = false, finished_ = false;
  std::size_t width_ = 0;  // of the terminal line last drawn
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::thread ticker_;
};

}  // namespace aat
