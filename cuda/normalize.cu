// CUDA L2 normalization over the rows of a dense [rows, cols] matrix, forward and backward, with
// the row cached in registers for rows of up to 256 values (a segment of lanes per row) and a
// block per row beyond.
#include <cuda_runtime.h>

#include "cuda/launch.h"
#include "engine/kernels/normalize.h"

namespace engine::cuda {

namespace {

template <int lanes>
__global__ void l2_normalize_rows_forward(const float* x, int64_t rows, int64_t cols, float eps,
                                          float* out) {
  for_each_row_segment<lanes>(rows, [&](int64_t row, int lane, bool valid) {
    const float* xr = x + row * cols;
    float v[kRowRegs];
    float ss = 0;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      v[k] = valid && c < cols ? __ldg(xr + c) : 0.0f;
      ss += v[k] * v[k];
    }
    ss = seg_sum<lanes>(ss);
    if (!valid) return;
    float inv = 1.0f / fmaxf(sqrtf(ss), eps);
    float* yr = out + row * cols;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      if (c < cols) yr[c] = v[k] * inv;
    }
  });
}

__global__ void l2_normalize_rows_forward_block(const float* x, int64_t cols, float eps,
                                                float* out) {
  __shared__ float scratch[kWarp];
  int64_t off = int64_t(blockIdx.x) * cols;
  float ss = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float v = __ldg(x + off + c);
    ss += v * v;
  }
  ss = block_sum(ss, scratch);
  float inv = 1.0f / fmaxf(sqrtf(ss), eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[off + c] = __ldg(x + off + c) * inv;
}

// n > eps: dx = g / n - x (g . x) / n^3; otherwise dx = g / eps.
__device__ __forceinline__ void l2_backward_coefficients(float ss, float gx, float eps, float& a,
                                                         float& b) {
  float n = sqrtf(ss);
  if (n > eps) {
    a = 1.0f / n;
    b = gx / (n * n * n);
  } else {
    a = 1.0f / eps;
    b = 0.0f;
  }
}

template <int lanes>
__global__ void l2_normalize_rows_backward(const float* x, const float* g, int64_t rows,
                                           int64_t cols, float eps, float* dx) {
  for_each_row_segment<lanes>(rows, [&](int64_t row, int lane, bool valid) {
    const float* xr = x + row * cols;
    const float* gr = g + row * cols;
    float xv[kRowRegs], gv[kRowRegs];
    float ss = 0, gx = 0;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      bool in = valid && c < cols;
      xv[k] = in ? __ldg(xr + c) : 0.0f;
      gv[k] = in ? __ldg(gr + c) : 0.0f;
      ss += xv[k] * xv[k];
      gx += gv[k] * xv[k];
    }
    ss = seg_sum<lanes>(ss);
    gx = seg_sum<lanes>(gx);
    if (!valid) return;
    float a, b;
    l2_backward_coefficients(ss, gx, eps, a, b);
    float* dr = dx + row * cols;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      if (c < cols) dr[c] = gv[k] * a - xv[k] * b;
    }
  });
}

__global__ void l2_normalize_rows_backward_block(const float* x, const float* g, int64_t cols,
                                                 float eps, float* dx) {
  __shared__ float scratch[kWarp];
  int64_t off = int64_t(blockIdx.x) * cols;
  float ss = 0, gx = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float xv = __ldg(x + off + c), gv = __ldg(g + off + c);
    ss += xv * xv;
    gx += gv * xv;
  }
  ss = block_sum(ss, scratch);
  gx = block_sum(gx, scratch);
  float a, b;
  l2_backward_coefficients(ss, gx, eps, a, b);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    dx[off + c] = __ldg(g + off + c) * a - __ldg(x + off + c) * b;
}

}  // namespace

void l2_normalize_rows(const float* x, int64_t rows, int64_t cols, double eps, float* out) {
  if (rows == 0 || cols == 0) return;
  int lanes = row_lanes(cols);
  if (lanes == 0) {
    l2_normalize_rows_forward_block<<<unsigned(rows), 512, 0, stream()>>>(x, cols, float(eps), out);
  } else {
    dispatch_lanes(lanes, [&](auto l) {
      l2_normalize_rows_forward<l.value>
          <<<row_grid(rows, l.value), kBlock, 0, stream()>>>(x, rows, cols, float(eps), out);
    });
  }
  ENGINE_CUDA_LAUNCH_CHECK();
}

void l2_normalize_backward_rows(const float* x, const float* g, int64_t rows, int64_t cols,
                                double eps, float* dx) {
  if (rows == 0 || cols == 0) return;
  int lanes = row_lanes(cols);
  if (lanes == 0) {
    l2_normalize_rows_backward_block<<<unsigned(rows), 512, 0, stream()>>>(x, g, cols, float(eps),
                                                                           dx);
  } else {
    dispatch_lanes(lanes, [&](auto l) {
      l2_normalize_rows_backward<l.value>
          <<<row_grid(rows, l.value), kBlock, 0, stream()>>>(x, g, rows, cols, float(eps), dx);
    });
  }
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
