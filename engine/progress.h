// A progress bar for long loops (training, evaluation, dataset scans): count, rate and ETA on
// one stderr line redrawn at most 10 times a second; silent when stderr is not a terminal
// (CI logs, redirected runs), where finish() prints one summary line instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace engine {

class ProgressBar {
 public:
  // total <= 0: unknown length (no bar, no ETA).
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(int64_t n = 1);
  // Text shown after the counts (e.g. "loss 0.731").
  void set_postfix(std::string text);
  void finish();

  // The line for `done` of `total` after `seconds` (exposed for tests).
  static std::string format(const std::string& label, int64_t done, int64_t total, double seconds,
                            const std::string& unit, const std::string& postfix);

 private:
  void draw(bool force);

  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace engine
