#include "engine/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace engine::optim {

PolyLR::PolyLR(const PolyLRConfig& c) : config_(c) {
  ENGINE_CHECK(std::isfinite(c.base_lr) && c.base_lr >= 0,
               "PolyLR: base_lr must be finite and >= 0, got {}", c.base_lr);
  ENGINE_CHECK(c.max_iters > 0, "PolyLR: max_iters must be > 0, got {}", c.max_iters);
  ENGINE_CHECK(std::isfinite(c.power) && c.power >= 0, "PolyLR: power must be >= 0, got {}",
               c.power);
  ENGINE_CHECK(c.warmup_iters >= 0 && c.warmup_iters < c.max_iters,
               "PolyLR: warmup_iters must be in [0, max_iters = {}), got {}", c.max_iters,
               c.warmup_iters);
  ENGINE_CHECK(c.warmup_start_factor >= 0 && c.warmup_start_factor <= 1,
               "PolyLR: warmup_start_factor must be in [0, 1], got {}", c.warmup_start_factor);
}

double PolyLR::poly(int64_t it) const {
  double frac = double(std::min(it, config_.max_iters)) / double(config_.max_iters);
  return config_.base_lr * std::pow(1.0 - frac, config_.power);
}

double PolyLR::operator()(int64_t it) const {
  ENGINE_CHECK(it >= 0, "PolyLR: iteration must be >= 0, got {}", it);
  if (it >= config_.warmup_iters) return poly(it);
  double start = config_.warmup_start_factor * config_.base_lr;
  double alpha = double(it) / double(config_.warmup_iters);
  return start + (poly(config_.warmup_iters) - start) * alpha;
}

}  // namespace engine::optim
