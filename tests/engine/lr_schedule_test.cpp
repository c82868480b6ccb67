// PolyLR against hand-computed values, warm-up continuity and argument errors.
#include "engine/optim/lr_schedule.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/error.h"

namespace engine::optim {
namespace {

TEST(LrSchedule, PolyMatchesHandComputedValues) {
  PolyLR s({.base_lr = 0.01, .max_iters = 100, .power = 0.9});
  EXPECT_DOUBLE_EQ(s(0), 0.01);
  EXPECT_NEAR(s(50), 0.01 * 0.5358867312681466, 1e-15);   // 0.5^0.9
  EXPECT_NEAR(s(90), 0.01 * 0.12589254117941673, 1e-15);  // 0.1^0.9
  EXPECT_EQ(s(100), 0.0);
  EXPECT_EQ(s(1000), 0.0) << "clamped past max_iters";

  PolyLR linear({.base_lr = 2.0, .max_iters = 8, .power = 1.0});
  EXPECT_DOUBLE_EQ(linear(2), 1.5);
  EXPECT_DOUBLE_EQ(linear(6), 0.5);

  PolyLR constant({.base_lr = 0.3, .max_iters = 8, .power = 0.0});
  EXPECT_DOUBLE_EQ(constant(0), 0.3);
  EXPECT_DOUBLE_EQ(constant(7), 0.3);
}

TEST(LrSchedule, WarmupRampsLinearlyToThePolyValue) {
  PolyLR s({.base_lr = 1.0,
            .max_iters = 10,
            .power = 1.0,
            .warmup_iters = 4,
            .warmup_start_factor = 0.25});
  // poly(4) = 0.6; the ramp runs from 0.25 at it = 0 to 0.6 at it = 4.
  EXPECT_DOUBLE_EQ(s(0), 0.25);
  EXPECT_DOUBLE_EQ(s(1), 0.3375);
  EXPECT_DOUBLE_EQ(s(2), 0.425);
  EXPECT_DOUBLE_EQ(s(3), 0.5125);
  EXPECT_DOUBLE_EQ(s(4), 0.6);
  EXPECT_DOUBLE_EQ(s(5), 0.5);
  EXPECT_DOUBLE_EQ(s(10), 0.0);
}

TEST(LrSchedule, DefaultWarmupStartsAtOneThousandth) {
  PolyLR s({.base_lr = 0.5, .max_iters = 1000, .power = 0.9, .warmup_iters = 10});
  EXPECT_DOUBLE_EQ(s(0), 0.0005);
  EXPECT_GT(s(1), s(0));
  EXPECT_LT(s(9), s(10));
  PolyLR no_warmup({.base_lr = 0.5, .max_iters = 1000, .power = 0.9});
  EXPECT_DOUBLE_EQ(s(10), no_warmup(10));
}

TEST(LrSchedule, IsMonotoneAfterWarmup) {
  PolyLR s({.base_lr = 0.007, .max_iters = 300, .power = 0.9, .warmup_iters = 20});
  for (int64_t it = 20; it < 300; ++it) EXPECT_GT(s(it), s(it + 1)) << it;
  for (int64_t it = 0; it < 20; ++it) EXPECT_LT(s(it), s(it + 1)) << it;
}

std::string error_of(const PolyLRConfig& c) {
  try {
    PolyLR s(c);
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

TEST(LrSchedule, RejectsBadArguments) {
  EXPECT_NE(error_of({.base_lr = 0.1, .max_iters = 0}).find("max_iters must be > 0, got 0"),
            std::string::npos);
  EXPECT_NE(error_of({.base_lr = -1, .max_iters = 5}).find("base_lr"), std::string::npos);
  EXPECT_NE(error_of({.base_lr = 1, .max_iters = 5, .power = -1}).find("power"), std::string::npos);
  EXPECT_NE(error_of({.base_lr = 1, .max_iters = 5, .warmup_iters = 5})
                .find("warmup_iters must be in [0, max_iters = 5), got 5"),
            std::string::npos);
  EXPECT_NE(error_of({.base_lr = 1, .max_iters = 5, .warmup_iters = 1, .warmup_start_factor = 2})
                .find("warmup_start_factor"),
            std::string::npos);
  PolyLR s({.base_lr = 1, .max_iters = 5});
  EXPECT_THROW(s(-1), Error);
}

}  // namespace
}  // namespace engine::optim
