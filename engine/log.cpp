#include "engine/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>

#include "engine/error.h"

namespace engine::log {
namespace {
// The one process-wide logging setting DESIGN.md allows; atomic so worker threads may log.
std::atomic<Level> g_level{Level::info};

const char* tag(Level l) {
  switch (l) {
    case Level::debug:
      return "D";
    case Level::info:
      return "I";
    case Level::warn:
      return "W";
    case Level::error:
      return "E";
    default:
      return "?";
  }
}
}  // namespace

void set_level(Level level) {
  g_level.store(level);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  ENGINE_THROW("log level '{}' is not one of debug, info, warn, error, off", name);
}

void write(Level level, std::string_view msg) {
  using namespace std::chrono;
  static const auto t0 = steady_clock::now();
  double t = duration<double>(steady_clock::now() - t0).count();
  std::string line = fmt::format("[{} {:9.3f}] {}\n", tag(level), t, msg);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace engine::log
