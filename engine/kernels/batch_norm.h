// Batch normalization kernels on dense channels-last data viewed as [rows, C] (rows = N*H*W, or
// the product of all leading dims). Per-channel statistics are column reductions: each of a
// fixed number of row chunks accumulates into its own [C] buffer (contiguous in C, so the inner
// loop vectorizes / loads coalesce), and the chunks are combined in a fixed order, so results do
// not depend on the thread count and are identical from run to run.
//
// The fused variants (batch_norm_relu, batch_norm_add_relu) share these kernels: `residual`
// ([rows, C], nullable) is added after the affine map and `relu` clamps the sum at 0. Their
// backward takes the forward output y (nullable: no ReLU) and uses g = dy * (y > 0) in place
// of dy; the residual's gradient is that g.
#pragma once

#include <cstdint>

namespace engine::cpu {

// Batch mean and biased variance (divide by rows) per channel, accumulated in double.
template <typename T>
void batch_norm_stats(const T* x, int64_t rows, int64_t channels, double* mean, double* var);

// out[r, c] = act(x[r, c] * scale[c] + shift[c] + residual[r, c]); residual nullable (0),
// act = max(0, .) when relu, identity otherwise.
template <typename T>
void batch_norm_affine(const T* x, const T* residual, int64_t rows, int64_t channels,
                       const double* scale, const double* shift, bool relu, T* out);

// Per-channel sum(g) and sum(g * (x - center)), accumulated in double; g = dy, or
// dy * (y > 0) when y (the ReLU output of the forward) is not null.
template <typename T>
void batch_norm_backward_reduce(const T* dy, const T* y, const T* x, int64_t rows, int64_t channels,
                                const double* center, double* sum_dy, double* sum_dy_xc);

// dx[r, c] = g[r, c] * a[c] + x[r, c] * b[c] + k[c] (g as above): the closed-form training
// backward (and, with b = k = 0, the eval backward) folded into one pass. dx and dres are
// nullable; dres (the residual's gradient) receives g.
template <typename T>
void batch_norm_backward_apply(const T* dy, const T* y, const T* x, int64_t rows, int64_t channels,
                               const double* a, const double* b, const double* k, T* dx, T* dres);

}  // namespace engine::cpu

// The CUDA kernels (cuda/batch_norm.cu): f32, device pointers, every [C] vector dense f32 on the
// same device. Statistics use per-thread Welford accumulators combined per block and then over
// row blocks in a fixed order (deterministic, no atomics); [C] results stay on the device.
namespace engine::cuda {

// Floats of scratch memory the two functions below need for a [rows, C] input.
int64_t batch_norm_workspace_size(int64_t rows, int64_t channels);

// Per-channel parameters of the forward. Training (running_mean == nullptr allowed, then no
// update): batch mean and biased variance of x; the running buffers are updated in place as
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * rows / (rows - 1).
// Eval (x unused): mean and var are the running buffers. Either way save_mean = mean,
// save_invstd = 1 / sqrt(var + eps), scale = weight * invstd, shift = bias - mean * scale
// (weight/bias nullable: 1 and 0).
void batch_norm_parameters(const float* x, int64_t rows, int64_t channels, bool training,
                           const float* weight, const float* bias, float* running_mean,
                           float* running_var, double momentum, double eps, float* workspace,
                           float* save_mean, float* save_invstd, float* scale, float* shift);

// out = act(x * scale[c] + shift[c] + residual) as in cpu::batch_norm_affine.
void batch_norm_forward_apply(const float* x, const float* residual, int64_t rows, int64_t channels,
                              const float* scale, const float* shift, bool relu, float* out);

// The whole backward: g = dy (or dy * (y > 0) when y is not null); dweight = sum(g * xhat),
// dbias = sum(g), dx (training: through the batch statistics; eval: g * weight * invstd),
// dres = g. Every output is nullable.
void batch_norm_backward(const float* dy, const float* y, const float* x, int64_t rows,
                         int64_t channels, const float* save_mean, const float* save_invstd,
                         const float* weight, bool training, float* workspace, float* dx,
                         float* dres, float* dweight, float* dbias);

}  // namespace engine::cuda
