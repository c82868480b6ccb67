// Pooling kernels on dense NHWC f32: one thread per output (forward) or input (backward) element,
// channel fastest so warps touch contiguous channels. Backward passes gather: each input element
// finds the outputs whose windows (or bins) cover it and sums them in increasing output order,
// so there are no atomics and results are deterministic.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "cuda/kernel_util.h"
#include "engine/kernels/pool.h"

namespace engine::cuda {

namespace {

__global__ void max_pool2d_nhwc_forward(const float* __restrict__ x, PoolShape s, PoolWindow win,
                                        float* __restrict__ out, int64_t* __restrict__ argmax) {
  const int64_t total = s.n * s.out_h * s.out_w * s.c;
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % s.c;
    int64_t p = i / s.c;
    const int64_t ow = p % s.out_w;
    p /= s.out_w;
    const int64_t oh = p % s.out_h;
    const int64_t n = p / s.out_h;
    const float* xn = x + n * s.h * s.w * s.c + c;
    float best = -INFINITY;
    int64_t arg = -1;
    for (int64_t kh = 0; kh < win.kernel_h; ++kh) {
      const int64_t ih = oh * win.stride_h - win.pad_h + kh * win.dilation_h;
      if (ih < 0 || ih >= s.h) continue;
      for (int64_t kw = 0; kw < win.kernel_w; ++kw) {
        const int64_t iw = ow * win.stride_w - win.pad_w + kw * win.dilation_w;
        if (iw < 0 || iw >= s.w) continue;
        const float v = __ldg(xn + (ih * s.w + iw) * s.c);
        // NaN propagates (the last NaN wins), as on the CPU and in PyTorch.
        if (v > best || v != v) {
          best = v;
          arg = ih * s.w + iw;
        }
      }
    }
    out[i] = best;
    argmax[i] = arg;
  }
}

// Outputs o along one axis whose window tap k lands on input index i: o * stride - pad +
// k * dilation = i. Visits them in increasing o (decreasing k).
template <typename F>
__device__ void for_each_covering_output(int64_t i, int64_t out, int64_t kernel, int64_t stride,
                                         int64_t pad, int64_t dilation, F f) {
  for (int64_t k = kernel - 1; k >= 0; --k) {
    const int64_t t = i + pad - k * dilation;
    if (t < 0 || t % stride != 0) continue;
    const int64_t o = t / stride;
    if (o < out) f(o);
  }
}

__global__ void max_pool2d_nhwc_backward_gather(const float* __restrict__ dy,
                                                const int64_t* __restrict__ argmax, PoolShape s,
                                                PoolWindow win, float* __restrict__ dx) {
  const int64_t total = s.n * s.h * s.w * s.c;
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % s.c;
    int64_t p = i / s.c;
    const int64_t iw = p % s.w;
    p /= s.w;
    const int64_t ih = p % s.h;
    const int64_t n = p / s.h;
    const int64_t pos = ih * s.w + iw;
    float acc = 0.f;
    for_each_covering_output(
        ih, s.out_h, win.kernel_h, win.stride_h, win.pad_h, win.dilation_h, [&](int64_t oh) {
          for_each_covering_output(
              iw, s.out_w, win.kernel_w, win.stride_w, win.pad_w, win.dilation_w, [&](int64_t ow) {
                const int64_t o = ((n * s.out_h + oh) * s.out_w + ow) * s.c + c;
                if (__ldg(argmax + o) == pos) acc += __ldg(dy + o);
              });
        });
    dx[i] = acc;
  }
}

__global__ void avg_pool2d_nhwc_forward(const float* __restrict__ x, PoolShape s, cpu::AvgBins b,
                                        float* __restrict__ out) {
  const int64_t total = s.n * s.out_h * s.out_w * s.c;
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % s.c;
    int64_t p = i / s.c;
    const int64_t ow = p % s.out_w;
    p /= s.out_w;
    const int64_t oh = p % s.out_h;
    const int64_t n = p / s.out_h;
    const float* xn = x + n * s.h * s.w * s.c + c;
    // Double accumulation as on the CPU (same order, so bitwise equal): an adaptive bin can
    // cover a whole feature map, thousands of terms.
    double acc = 0.0;
    const int64_t w0 = b.w_start[ow], w1 = b.w_end[ow];
    for (int64_t ih = b.h_start[oh]; ih < b.h_end[oh]; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) acc += double(__ldg(xn + (ih * s.w + iw) * s.c));
    out[i] = float(acc * b.inv_count[oh * s.out_w + ow]);
  }
}

// First o in [0, out) with v < a[o] (a nondecreasing), out if none.
__device__ int64_t first_above(const int64_t* a, int64_t out, int64_t v) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (a[mid] <= v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

__global__ void avg_pool2d_nhwc_backward_gather(const float* __restrict__ dy, PoolShape s,
                                                cpu::AvgBins b, float* __restrict__ dx) {
  const int64_t total = s.n * s.h * s.w * s.c;
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % s.c;
    int64_t p = i / s.c;
    const int64_t iw = p % s.w;
    p /= s.w;
    const int64_t ih = p % s.h;
    const int64_t n = p / s.h;
    // Bins covering ih: end > ih and start <= ih; both bounds are nondecreasing in the output.
    const int64_t oh0 = first_above(b.h_end, s.out_h, ih),
                  oh1 = first_above(b.h_start, s.out_h, ih);
    const int64_t ow0 = first_above(b.w_end, s.out_w, iw),
                  ow1 = first_above(b.w_start, s.out_w, iw);
    double acc = 0.0;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const float* g = dy + ((n * s.out_h + oh) * s.out_w) * s.c + c;
      for (int64_t ow = ow0; ow < ow1; ++ow)
        acc += double(__ldg(g + ow * s.c)) * b.inv_count[oh * s.out_w + ow];
    }
    dx[i] = float(acc);
  }
}

}  // namespace

void max_pool2d(const float* x, const PoolShape& s, const PoolWindow& win, float* out,
                int64_t* argmax) {
  const int64_t total = s.n * s.out_h * s.out_w * s.c;
  if (total == 0) return;
  max_pool2d_nhwc_forward<<<grid_for(total), kThreads, 0, current_stream()>>>(x, s, win, out,
                                                                              argmax);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void max_pool2d_backward(const float* dy, const int64_t* argmax, const PoolShape& s,
                         const PoolWindow& win, float* dx) {
  const int64_t total = s.n * s.h * s.w * s.c;
  if (total == 0) return;
  max_pool2d_nhwc_backward_gather<<<grid_for(total), kThreads, 0, current_stream()>>>(dy, argmax, s,
                                                                                      win, dx);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void avg_pool2d(const float* x, const PoolShape& s, const cpu::AvgBins& bins, float* out) {
  const int64_t total = s.n * s.out_h * s.out_w * s.c;
  if (total == 0) return;
  avg_pool2d_nhwc_forward<<<grid_for(total), kThreads, 0, current_stream()>>>(x, s, bins, out);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void avg_pool2d_backward(const float* dy, const PoolShape& s, const cpu::AvgBins& bins, float* dx) {
  const int64_t total = s.n * s.h * s.w * s.c;
  if (total == 0) return;
  avg_pool2d_nhwc_backward_gather<<<grid_for(total), kThreads, 0, current_stream()>>>(dy, s, bins,
                                                                                      dx);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
