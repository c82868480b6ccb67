// Learning-rate schedules, evaluated per iteration and handed to the optimizer with set_lr.
#pragma once

#include <cstdint>

namespace engine::optim {

// "poly" decay (DeepLab, PSPNet, SPML) with an optional linear warm-up:
//   it >= warmup_iters:  lr(it) = base_lr * (1 - it / max_iters)^power
//   it <  warmup_iters:  linear from warmup_start_factor * base_lr at it = 0 to the poly value at
//                        it = warmup_iters, so the curve is continuous where warm-up ends.
//   it >= max_iters:     clamped to lr(max_iters) (0 for power > 0).
// Iterations count from 0. SPML's reference recipe has no warm-up (warmup_iters = 0, the
// default); when warm-up is used, the start factor defaults to 0.001, Detectron2's choice
// (SOLVER.WARMUP_FACTOR), so that the first step already moves the weights a little.
struct PolyLRConfig {
  double base_lr = 0.0;
  int64_t max_iters = 0;
  double power = 0.9;
  int64_t warmup_iters = 0;
  double warmup_start_factor = 0.001;
};

class PolyLR {
 public:
  // Throws engine::Error for base_lr < 0, max_iters <= 0, power < 0, warmup_iters outside
  // [0, max_iters) or warmup_start_factor outside [0, 1].
  explicit PolyLR(const PolyLRConfig& config);
  // The learning rate of iteration `it` (>= 0).
  double operator()(int64_t it) const;
  const PolyLRConfig& config() const { return config_; }

 private:
  double poly(int64_t it) const;
  PolyLRConfig config_;
};

}  // namespace engine::optim
