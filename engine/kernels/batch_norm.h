// Batch normalization kernels on dense channels-last data viewed as [rows, C] (rows = N*H*W, or
// the product of all leading dims). Per-channel statistics are column reductions: each of a
// fixed number of row chunks accumulates into its own [C] double buffer (contiguous in C, so the
// inner loop vectorizes), and the chunks are combined in a fixed order, so results do not depend
// on the thread count.
#pragma once

#include <cstdint>

namespace engine::cpu {

// Batch mean and biased variance (divide by rows) per channel, accumulated in double.
template <typename T>
void batch_norm_stats(const T* x, int64_t rows, int64_t channels, double* mean, double* var);

// out[r, c] = x[r, c] * scale[c] + shift[c].
template <typename T>
void batch_norm_affine(const T* x, int64_t rows, int64_t channels, const double* scale,
                       const double* shift, T* out);

// Per-channel sum(dy) and sum(dy * (x - center)), accumulated in double.
template <typename T>
void batch_norm_backward_reduce(const T* dy, const T* x, int64_t rows, int64_t channels,
                                const double* center, double* sum_dy, double* sum_dy_xc);

// dx[r, c] = dy[r, c] * a[c] + x[r, c] * b[c] + k[c]: the closed-form training backward
// (and, with b = k = 0, the eval backward) folded into one pass.
template <typename T>
void batch_norm_backward_apply(const T* dy, const T* x, int64_t rows, int64_t channels,
                               const double* a, const double* b, const double* k, T* dx);

}  // namespace engine::cpu
