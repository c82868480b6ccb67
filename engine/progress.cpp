#include "engine/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace engine {

namespace {
std::string clock_str(double seconds) {
  if (!(seconds >= 0) || seconds > 360000) return "--:--";
  auto s = int64_t(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::advance(int64_t n) {
  done_ += n;
  draw(false);
}

void ProgressBar::set_postfix(std::string text) {
  postfix_ = std::move(text);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = format(label_, done_, total_, secs, unit_, postfix_);
  std::fprintf(stderr, tty_ ? "\r%s\n" : "%s\n", line.c_str());
}

void ProgressBar::draw(bool force) {
  if (!tty_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::string line = format(label_, done_, total_, secs, unit_, postfix_);
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
}

std::string ProgressBar::format(const std::string& label, int64_t done, int64_t total,
                                double seconds, const std::string& unit,
                                const std::string& postfix) {
  double rate = seconds > 0 ? double(done) / seconds : 0.0;
  std::string tail = fmt::format("{:.2f} {}/s", rate, unit);
  if (!postfix.empty()) tail += " " + postfix;
  if (total <= 0)
    return fmt::format("{} {} {} [{}, {}]", label, done, unit, clock_str(seconds), tail);
  constexpr int kWidth = 24;
  double frac = std::min(1.0, double(done) / double(total));
  int filled = int(frac * kWidth);
  std::string bar = std::string(size_t(filled), '#') + std::string(size_t(kWidth - filled), '.');
  double eta = rate > 0 ? double(total - done) / rate : -1.0;
  return fmt::format("{} {:3.0f}% |{}| {}/{} [{}<{}, {}]", label, frac * 100, bar, done, total,
                     clock_str(seconds), clock_str(eta), tail);
}

}  // namespace engine
