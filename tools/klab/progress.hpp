// A one-line progress bar on stderr, shown only when stderr is a terminal.
#pragma once

#include <chrono>
#include <string>

namespace klab::cli {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // fraction in [0, 1]; `detail` is printed after the bar (e.g. "PPL 12.3"). Redraws at most
  // ~20 times a second.
  void update(double fraction, const std::string& detail = {});
  // Clears the line (no-op when nothing was drawn).
  void finish();
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace klab::cli
