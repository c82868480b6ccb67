// expect_error(f, "text"): f must throw engine::Error whose message contains every given part.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/error.h"

namespace engine::testing {

template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no engine::Error thrown; expected one containing: " << parts.front();
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(e.message().find(p), std::string::npos) << "'" << p << "' not in: " << e.message();
  }
}

template <typename F>
void expect_error(F&& f, const char* part) {
  expect_error(std::forward<F>(f), std::vector<std::string>{part});
}

}  // namespace engine::testing
