// 2-d pooling kernels on dense NHWC data: x [N, H, W, C] -> out [N, OH, OW, C]. The channel
// dim is innermost in every loop, so it vectorizes. Backward kernels gather over the outputs
// whose windows cover each input pixel (no scatter), so they parallelize without races and
// sum in a fixed order.
#pragma once

#include <cstdint>

namespace engine {

// Geometry of a pooling over [N, H, W, C] -> [N, OH, OW, C].
struct PoolShape {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t out_h = 0, out_w = 0;
};

// A sliding window: output o covers input rows o * stride - pad + k * dilation, k < kernel.
struct PoolWindow {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

}  // namespace engine

namespace engine::cpu {

// Max over each window (padding is -inf); argmax[n, oh, ow, c] = ih * W + iw of the first
// maximum (a NaN wins: the last NaN), -1 for a window with no input pixel.
template <typename T>
void max_pool2d(const T* x, const PoolShape& s, const PoolWindow& win, T* out, int64_t* argmax);

// dx[n, ih, iw, c] = sum of dy over the outputs whose argmax is (ih, iw).
template <typename T>
void max_pool2d_backward(const T* dy, const int64_t* argmax, const PoolShape& s,
                         const PoolWindow& win, T* dx);

// Averages over rectangular bins: output (oh, ow) covers rows [h_start[oh], h_end[oh]) and
// columns [w_start[ow], w_end[ow]) of the input (already clipped to it) and is scaled by
// inv_count[oh * OW + ow]. Starts and ends must be non-decreasing in the output index (true
// for avg_pool2d and adaptive_avg_pool2d); bins may overlap.
struct AvgBins {
  const int64_t* h_start;
  const int64_t* h_end;
  const int64_t* w_start;
  const int64_t* w_end;
  const double* inv_count;
};

template <typename T>
void avg_pool2d(const T* x, const PoolShape& s, const AvgBins& bins, T* out);

template <typename T>
void avg_pool2d_backward(const T* dy, const PoolShape& s, const AvgBins& bins, T* dx);

}  // namespace engine::cpu

// The CUDA kernels (cuda/pool.cu): f32, device pointers, same semantics as the CPU ones; the
// AvgBins arrays must be device memory. Backward passes are gathers (deterministic, no atomics).
namespace engine::cuda {

void max_pool2d(const float* x, const PoolShape& s, const PoolWindow& win, float* out,
                int64_t* argmax);
void max_pool2d_backward(const float* dy, const int64_t* argmax, const PoolShape& s,
                         const PoolWindow& win, float* dx);
void avg_pool2d(const float* x, const PoolShape& s, const cpu::AvgBins& bins, float* out);
void avg_pool2d_backward(const float* dy, const PoolShape& s, const cpu::AvgBins& bins, float* dx);

}  // namespace engine::cuda
