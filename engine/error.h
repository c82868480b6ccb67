// engine::Error and ENGINE_CHECK: the one error mechanism of the project (DESIGN.md "Errors and
// logs"). Header-only so that cuda/ can use it without linking the engine library.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace engine {

class Error : public std::runtime_error {
 public:
  Error(const std::string& msg, const char* file, int line)
      : std::runtime_error(fmt::format("{} ({}:{})", msg, strip_path(file), line)), what_(msg) {}
  // The message without the source location.
  const std::string& message() const { return what_; }

 private:
  static const char* strip_path(const char* file) {
    // Keep paths short and stable: from the last "engine/", "cuda/", ... component onwards.
    const char* best = file;
    for (const char* p = file; *p; ++p)
      if (*p == '/' && p[1]) best = p + 1;
    return best;
  }
  std::string what_;
};

}  // namespace engine

#define ENGINE_THROW(...) throw ::engine::Error(::fmt::format(__VA_ARGS__), __FILE__, __LINE__)

#define ENGINE_CHECK(cond, ...)  \
  do {                           \
    if (!(cond)) [[unlikely]] {  \
      ENGINE_THROW(__VA_ARGS__); \
    }                            \
  } while (0)
