// Spatial resizing of NHWC images [N, H, W, C] (PyTorch F.interpolate semantics): the source
// coordinate math shared by both backends (ENGINE_HD) and the kernel signatures.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/hd.h"

namespace engine {

// Sizes of one resize: input [n, in_h, in_w, c] -> output [n, out_h, out_w, c].
struct ResizeDims {
  int64_t n = 0, in_h = 0, in_w = 0, c = 0, out_h = 0, out_w = 0;
};

// Source pixels per output pixel along one axis for bilinear interpolation. align_corners maps
// the corner pixel centres onto each other (scale (in-1)/(out-1); a 1-pixel output samples 0);
// otherwise pixel centres are aligned (half-pixel, scale in/out) and negative sources clamp to 0.
ENGINE_HD double bilinear_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? double(in - 1) / double(out - 1) : 0.0;
  return double(in) / double(out);
}

struct BilinearTap {
  int64_t i0 = 0, i1 = 0;     // the two source indices (equal at the last pixel)
  double w0 = 1.0, w1 = 0.0;  // their weights, w0 + w1 = 1
};

ENGINE_HD BilinearTap bilinear_tap(int64_t dst, int64_t in, double scale, bool align_corners) {
  double src = align_corners ? scale * double(dst) : scale * (double(dst) + 0.5) - 0.5;
  if (src < 0.0) src = 0.0;
  int64_t i0 = int64_t(src);
  if (i0 > in - 1) i0 = in - 1;
  BilinearTap t;
  t.i0 = i0;
  t.i1 = i0 < in - 1 ? i0 + 1 : i0;
  t.w1 = src - double(i0);
  if (t.w1 > 1.0) t.w1 = 1.0;
  t.w0 = 1.0 - t.w1;
  return t;
}

// PyTorch's legacy 'nearest': src = floor(dst * in / out) with the scale rounded to float as
// PyTorch computes it, so that label maps pick exactly the pixels PyTorch picks.
ENGINE_HD int64_t nearest_source(int64_t dst, int64_t in, int64_t out) {
  if (in == out) return dst;
  float scale = float(in) / float(out);
  int64_t src = int64_t(floorf(float(dst) * scale));
  return src < in - 1 ? src : in - 1;
}

}  // namespace engine

// T is float or double on CPU, float on CUDA. Inputs and outputs are dense NHWC.
namespace engine::cpu {
template <typename T>
void resize_bilinear(const T* x, const ResizeDims& d, bool align_corners, T* out);
// grad_in [n, in_h, in_w, c] = adjoint of resize_bilinear applied to grad_out [n, out_h, out_w, c]
// (overwrites grad_in; deterministic: each input row is summed by one thread in a fixed order).
template <typename T>
void resize_bilinear_backward(const T* grad_out, const ResizeDims& d, bool align_corners,
                              T* grad_in);
// Element-size generic (U is uint8_t, uint16_t, uint32_t or uint64_t holding any dtype's bits).
template <typename U>
void resize_nearest(const U* x, const ResizeDims& d, U* out);
// Adjoint of resize_nearest for floating T (sums the gradients of the outputs that copied each
// input pixel; overwrites grad_in).
template <typename T>
void resize_nearest_backward(const T* grad_out, const ResizeDims& d, T* grad_in);
}  // namespace engine::cpu

namespace engine::cuda {
void resize_bilinear(const float* x, const ResizeDims& d, bool align_corners, float* out);
void resize_bilinear_backward(const float* grad_out, const ResizeDims& d, bool align_corners,
                              float* grad_in);
void resize_nearest(const void* x, int elem_size, const ResizeDims& d, void* out);
void resize_nearest_backward(const float* grad_out, const ResizeDims& d, float* grad_in);
}  // namespace engine::cuda
