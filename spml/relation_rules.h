// The per-pair rule and the per-pixel finish of the SPML relations (docs/spml-loss.md), shared by
// the CPU kernels (spml/loss_kernels.cpp) and the CUDA kernels (cuda/spml_loss.cu). Header-only
// and free of engine types so that nvcc can compile it.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/hd.h"

namespace spml {

// Match rules: single-label equality, or the set form (bitmasks sharing a bit, spec §4.1).
constexpr int32_t kMatchEqual = 0;
constexpr int32_t kMatchIntersect = 1;

// How a candidate segment j counts for a pixel.
constexpr int32_t kPairSkip = 0;  // not a candidate, or the pixel's own segment when it matches
constexpr int32_t kPairPositive = 1;
constexpr int32_t kPairNegative = 2;

ENGINE_HD bool keys_match(int32_t rule, int64_t pixel_key, int64_t segment_key) {
  return rule == kMatchEqual ? pixel_key == segment_key : (pixel_key & segment_key) != 0;
}

// Spec §4.1: Pos(i) = matching candidates other than the own segment s(i); Neg(i) = candidates
// that do not match, which includes s(i) itself when its key does not match the pixel's (the
// all-zero tag case of the set form).
ENGINE_HD int32_t classify_pair(int32_t rule, int64_t pixel_key, int32_t own, int64_t segment_key,
                                int32_t j) {
  if (segment_key < 0) return kPairSkip;
  if (keys_match(rule, pixel_key, segment_key)) return j == own ? kPairSkip : kPairPositive;
  return kPairNegative;
}

// The per-pixel finish of spec §4.1 in log space. The positive and negative sums are kept as
// exp(l - m) sums with a running maximum m of the logits seen. num = Σ_Pos S when Pos is not
// empty, else S_own; den = num + Σ_Neg S; ℓ = ln den − ln num.
template <typename T>
struct LogNumDen {
  T log_num;
  T log_den;
};
template <typename T>
ENGINE_HD LogNumDen<T> finish_pixel(int64_t num_positive, T max_logit, T pos_sum, T neg_sum,
                                    T own_logit) {
  LogNumDen<T> r;
  r.log_num = num_positive > 0 ? max_logit + std::log(pos_sum) : own_logit;
  if (neg_sum > T(0)) {
    T log_neg = max_logit + std::log(neg_sum);
    T hi = r.log_num > log_neg ? r.log_num : log_neg;
    T lo = r.log_num > log_neg ? log_neg : r.log_num;
    r.log_den = hi + std::log1p(std::exp(lo - hi));
  } else {
    r.log_den = r.log_num;
  }
  return r;
}

}  // namespace spml
