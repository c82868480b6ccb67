// Resize kernels on dense NHWC f32 (bit copies for nearest). One thread per output element with
// the channel fastest, so a warp reads and writes contiguous channels. The backward passes are
// gathers: one thread per input element sums, in increasing output order, the outputs whose taps
// read it. Those outputs form a contiguous range along each axis (the source index is
// nondecreasing in the output index), found by binary search, so there are no atomics and the
// result is deterministic.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernel_util.h"
#include "engine/kernels/resize.h"
#include "engine/word_dispatch.h"

namespace engine::cuda {

namespace {

// Smallest o in [0, out) with key(o) >= v (out if none); key nondecreasing.
template <typename Key>
__device__ int64_t lower_bound_output(int64_t out, int64_t v, Key key) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (key(mid) < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// Weight with which output o's bilinear tap reads input index i.
__device__ double bilinear_weight(const BilinearTap& t, int64_t i) {
  if (t.i0 == i && t.i1 == i) return t.w0 + t.w1;
  if (t.i0 == i) return t.w0;
  if (t.i1 == i) return t.w1;
  return 0.0;
}

__global__ void resize_bilinear_nhwc_forward(const float* __restrict__ x, ResizeDims d,
                                             bool align_corners, double scale_h, double scale_w,
                                             float* __restrict__ out) {
  const int64_t total = d.n * d.out_h * d.out_w * d.c;
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % d.c;
    int64_t p = i / d.c;
    const int64_t ow = p % d.out_w;
    p /= d.out_w;
    const int64_t oh = p % d.out_h;
    const int64_t n = p / d.out_h;
    const BilinearTap th = bilinear_tap(oh, d.in_h, scale_h, align_corners);
    const BilinearTap tw = bilinear_tap(ow, d.in_w, scale_w, align_corners);
    const float* base = x + n * d.in_h * d.in_w * d.c + c;
    const float h0 = float(th.w0), h1 = float(th.w1), w0 = float(tw.w0), w1 = float(tw.w1);
    const float a = __ldg(base + (th.i0 * d.in_w + tw.i0) * d.c);
    const float b = __ldg(base + (th.i0 * d.in_w + tw.i1) * d.c);
    const float e = __ldg(base + (th.i1 * d.in_w + tw.i0) * d.c);
    const float f = __ldg(base + (th.i1 * d.in_w + tw.i1) * d.c);
    out[i] = h0 * (w0 * a + w1 * b) + h1 * (w0 * e + w1 * f);
  }
}

__global__ void resize_bilinear_nhwc_backward_gather(const float* __restrict__ grad_out,
                                                     ResizeDims d, bool align_corners,
                                                     double scale_h, double scale_w,
                                                     float* __restrict__ grad_in) {
  const int64_t total = d.n * d.in_h * d.in_w * d.c;
  auto key_h = [&](int64_t o) { return bilinear_tap(o, d.in_h, scale_h, align_corners).i0; };
  auto key_w = [&](int64_t o) { return bilinear_tap(o, d.in_w, scale_w, align_corners).i0; };
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % d.c;
    int64_t p = i / d.c;
    const int64_t iw = p % d.in_w;
    p /= d.in_w;
    const int64_t ih = p % d.in_h;
    const int64_t n = p / d.in_h;
    // Outputs whose first tap is ih - 1 or ih read ih.
    const int64_t oh0 = lower_bound_output(d.out_h, ih - 1, key_h);
    const int64_t oh1 = lower_bound_output(d.out_h, ih + 1, key_h);
    const int64_t ow0 = lower_bound_output(d.out_w, iw - 1, key_w);
    const int64_t ow1 = lower_bound_output(d.out_w, iw + 1, key_w);
    float acc = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const float wh = float(bilinear_weight(bilinear_tap(oh, d.in_h, scale_h, align_corners), ih));
      const float* g = grad_out + ((n * d.out_h + oh) * d.out_w) * d.c + c;
      float row = 0.f;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const float ww =
            float(bilinear_weight(bilinear_tap(ow, d.in_w, scale_w, align_corners), iw));
        row = fmaf(ww, __ldg(g + ow * d.c), row);
      }
      acc = fmaf(wh, row, acc);
    }
    grad_in[i] = acc;
  }
}

template <typename U>
__global__ void resize_nearest_nhwc_forward(const U* __restrict__ x, ResizeDims d,
                                            U* __restrict__ out) {
  const int64_t total = d.n * d.out_h * d.out_w * d.c;
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % d.c;
    int64_t p = i / d.c;
    const int64_t ow = p % d.out_w;
    p /= d.out_w;
    const int64_t oh = p % d.out_h;
    const int64_t n = p / d.out_h;
    const int64_t ih = nearest_source(oh, d.in_h, d.out_h);
    const int64_t iw = nearest_source(ow, d.in_w, d.out_w);
    out[i] = x[((n * d.in_h + ih) * d.in_w + iw) * d.c + c];
  }
}

__global__ void resize_nearest_nhwc_backward_gather(const float* __restrict__ grad_out,
                                                    ResizeDims d, float* __restrict__ grad_in) {
  const int64_t total = d.n * d.in_h * d.in_w * d.c;
  auto key_h = [&](int64_t o) { return nearest_source(o, d.in_h, d.out_h); };
  auto key_w = [&](int64_t o) { return nearest_source(o, d.in_w, d.out_w); };
  ENGINE_CUDA_LOOP(i, total) {
    const int64_t c = i % d.c;
    int64_t p = i / d.c;
    const int64_t iw = p % d.in_w;
    p /= d.in_w;
    const int64_t ih = p % d.in_h;
    const int64_t n = p / d.in_h;
    const int64_t oh0 = lower_bound_output(d.out_h, ih, key_h);
    const int64_t oh1 = lower_bound_output(d.out_h, ih + 1, key_h);
    const int64_t ow0 = lower_bound_output(d.out_w, iw, key_w);
    const int64_t ow1 = lower_bound_output(d.out_w, iw + 1, key_w);
    float acc = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const float* g = grad_out + ((n * d.out_h + oh) * d.out_w) * d.c + c;
      for (int64_t ow = ow0; ow < ow1; ++ow) acc += __ldg(g + ow * d.c);
    }
    grad_in[i] = acc;
  }
}

}  // namespace

void resize_bilinear(const float* x, const ResizeDims& d, bool align_corners, float* out) {
  const int64_t total = d.n * d.out_h * d.out_w * d.c;
  if (total == 0) return;
  resize_bilinear_nhwc_forward<<<grid_for(total), kThreads, 0, current_stream()>>>(
      x, d, align_corners, bilinear_scale(d.in_h, d.out_h, align_corners),
      bilinear_scale(d.in_w, d.out_w, align_corners), out);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void resize_bilinear_backward(const float* grad_out, const ResizeDims& d, bool align_corners,
                              float* grad_in) {
  const int64_t total = d.n * d.in_h * d.in_w * d.c;
  if (total == 0) return;
  resize_bilinear_nhwc_backward_gather<<<grid_for(total), kThreads, 0, current_stream()>>>(
      grad_out, d, align_corners, bilinear_scale(d.in_h, d.out_h, align_corners),
      bilinear_scale(d.in_w, d.out_w, align_corners), grad_in);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void resize_nearest(const void* x, int elem_size, const ResizeDims& d, void* out) {
  const int64_t total = d.n * d.out_h * d.out_w * d.c;
  if (total == 0) return;
  const unsigned grid = grid_for(total);
  cudaStream_t s = current_stream();
  dispatch_word(size_t(elem_size), "resize_nearest", [&](auto tag) {
    using U = decltype(tag);
    resize_nearest_nhwc_forward<<<grid, kThreads, 0, s>>>(static_cast<const U*>(x), d,
                                                          static_cast<U*>(out));
  });
  ENGINE_CUDA_LAUNCH_CHECK();
}

void resize_nearest_backward(const float* grad_out, const ResizeDims& d, float* grad_in) {
  const int64_t total = d.n * d.in_h * d.in_w * d.c;
  if (total == 0) return;
  resize_nearest_nhwc_backward_gather<<<grid_for(total), kThreads, 0, current_stream()>>>(
      grad_out, d, grad_in);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
