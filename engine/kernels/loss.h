// Classification loss kernels on dense [rows, classes] scores with one integer target per row
// (I = int32_t or int64_t). A row whose target equals ignore_index contributes nothing.
#pragma once

#include <cstdint>

namespace engine {
// What a loss forward reports besides the per-row losses.
struct LossStats {
  double sum = 0;        // sum of the per-row losses, in row order (deterministic)
  int64_t valid = 0;     // rows whose target is not ignore_index
  int64_t bad_row = -1;  // first row whose target is outside [0, classes) and not ignored
};
}  // namespace engine

namespace engine::cpu {
// Fused log-softmax + negative log-likelihood: lse[r] = log(sum_c exp(logits[r, c])) (stable),
// loss[r] = lse[r] - logits[r, target[r]] (0 for ignored and out-of-range rows). When
// stats.bad_row >= 0 the caller reports that target and discards the outputs.
template <typename T, typename I>
LossStats cross_entropy_forward(const T* logits, const I* target, int64_t rows, int64_t classes,
                                int64_t ignore_index, T* loss, T* lse);
// dlogits[r, c] = s_r * (exp(logits[r, c] - lse[r]) - [c == target[r]]), where
// s_r = scale * (row_scale ? row_scale[r] : 1) and s_r = 0 for ignored rows.
template <typename T, typename I>
void cross_entropy_backward(const T* logits, const I* target, const T* lse, const T* row_scale,
                            T scale, int64_t rows, int64_t classes, int64_t ignore_index,
                            T* dlogits);
// Negative log-likelihood of log-probabilities: loss[r] = -log_probs[r, target[r]].
template <typename T, typename I>
LossStats nll_forward(const T* log_probs, const I* target, int64_t rows, int64_t classes,
                      int64_t ignore_index, T* loss);
// dlog_probs[r, c] = -s_r * [c == target[r]] (s_r as in cross_entropy_backward).
template <typename T, typename I>
void nll_backward(const I* target, const T* row_scale, T scale, int64_t rows, int64_t classes,
                  int64_t ignore_index, T* dlog_probs);
}  // namespace engine::cpu

// The same contracts on f32 device pointers (I = int32_t or int64_t). The forwards return the
// statistics to the host, so they wait for the stream.
namespace engine::cuda {
template <typename I>
LossStats cross_entropy_forward(const float* logits, const I* target, int64_t rows, int64_t classes,
                                int64_t ignore_index, float* loss, float* lse);
template <typename I>
void cross_entropy_backward(const float* logits, const I* target, const float* lse,
                            const float* row_scale, float scale, int64_t rows, int64_t classes,
                            int64_t ignore_index, float* dlogits);
template <typename I>
LossStats nll_forward(const float* log_probs, const I* target, int64_t rows, int64_t classes,
                      int64_t ignore_index, float* loss);
template <typename I>
void nll_backward(const I* target, const float* row_scale, float scale, int64_t rows,
                  int64_t classes, int64_t ignore_index, float* dlog_probs);
}  // namespace engine::cuda
