// Progress line formatting (the redraw itself only happens on a terminal) and log levels.
#include <gtest/gtest.h>

#include "engine/log.h"
#include "engine/progress.h"
#include "support/expect_error.h"

namespace engine {
namespace {

TEST(ProgressBar, KnownTotalShowsPercentBarRateAndEta) {
  std::string s = ProgressBar::format("train", 25, 100, 10.0, "it", "loss 0.5");
  EXPECT_EQ(s, "train  25% |######..................| 25/100 [00:10<00:30, 2.50 it/s loss 0.5]");
}

TEST(ProgressBar, UnknownTotalAndLongRuns) {
  EXPECT_EQ(ProgressBar::format("scan", 7, 0, 3725.0, "img", ""),
            "scan 7 img [1:02:05, 0.00 img/s]");
  EXPECT_EQ(ProgressBar::format("eval", 0, 10, 0.0, "it", ""),
            "eval   0% |........................| 0/10 [00:00<--:--, 0.00 it/s]");
}

TEST(Log, ParsesLevelsAndRejectsUnknown) {
  EXPECT_EQ(log::parse_level("warn"), log::Level::warn);
  testing::expect_error([] { log::parse_level("loud"); }, "log level 'loud'");
  log::Level before = log::level();
  log::set_level(log::Level::error);
  EXPECT_EQ(log::level(), log::Level::error);
  log::set_level(before);
}

}  // namespace
}  // namespace engine
