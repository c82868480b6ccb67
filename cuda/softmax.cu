// CUDA softmax / log-softmax over the rows of a dense [rows, cols] matrix, forward and backward.
// Rows of up to 256 values: a segment of 4..32 lanes per row keeps the row in registers, so x
// is read once. Longer rows: a block per row with an online maximum and sum (one read pass, one
// write pass).
#include <cuda_runtime.h>

#include "cuda/launch.h"
#include "engine/kernels/softmax.h"

namespace engine::cuda {

namespace {

template <int lanes>
__global__ void softmax_rows_forward(const float* x, int64_t rows, int64_t cols, bool log,
                                     float* out) {
  for_each_row_segment<lanes>(rows, [&](int64_t row, int lane, bool valid) {
    float v[kRowRegs], m, s;
    row_max_sumexp<lanes>(x + row * cols, cols, lane, valid, v, m, s);
    if (!valid) return;
    float lse = m + logf(s), inv = 1.0f / s;
    float* yr = out + row * cols;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      if (c < cols) yr[c] = log ? v[k] - lse : expf(v[k] - m) * inv;
    }
  });
}

// One read pass for the maximum and sum (online), one read-and-write pass.
__global__ void softmax_rows_forward_block(const float* x, int64_t cols, bool log, float* out) {
  __shared__ float scratch[kWarp];
  const float* xr = x + int64_t(blockIdx.x) * cols;
  float mb, s;
  block_row_max_sumexp(xr, cols, scratch, mb, s);
  float lse = mb + logf(s), inv = 1.0f / s;
  float* yr = out + int64_t(blockIdx.x) * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float v = __ldg(xr + c);
    yr[c] = log ? v - lse : expf(v - mb) * inv;
  }
}

// softmax: dx = y * (g - sum g*y); log_softmax: dx = g - exp(y) * sum g.
template <int lanes>
__global__ void softmax_rows_backward(const float* y, const float* g, int64_t rows, int64_t cols,
                                      bool log, float* dx) {
  for_each_row_segment<lanes>(rows, [&](int64_t row, int lane, bool valid) {
    const float* yr = y + row * cols;
    const float* gr = g + row * cols;
    float yv[kRowRegs], gv[kRowRegs];
    float s = 0;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      bool in = valid && c < cols;
      yv[k] = in ? __ldg(yr + c) : 0.0f;
      gv[k] = in ? __ldg(gr + c) : 0.0f;
      s += log ? gv[k] : gv[k] * yv[k];
    }
    s = seg_sum<lanes>(s);
    if (!valid) return;
    float* dr = dx + row * cols;
#pragma unroll
    for (int k = 0; k < kRowRegs; ++k) {
      int64_t c = lane + int64_t(k) * lanes;
      if (c < cols) dr[c] = log ? gv[k] - expf(yv[k]) * s : yv[k] * (gv[k] - s);
    }
  });
}

__global__ void softmax_rows_backward_block(const float* y, const float* g, int64_t cols, bool log,
                                            float* dx) {
  __shared__ float scratch[kWarp];
  int64_t off = int64_t(blockIdx.x) * cols;
  float s = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float gv = __ldg(g + off + c);
    s += log ? gv : gv * __ldg(y + off + c);
  }
  s = block_sum(s, scratch);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float yv = __ldg(y + off + c), gv = __ldg(g + off + c);
    dx[off + c] = log ? gv - expf(yv) * s : yv * (gv - s);
  }
}

}  // namespace

void softmax_rows(const float* x, int64_t rows, int64_t cols, bool log, float* out) {
  if (rows == 0 || cols == 0) return;
  int lanes = row_lanes(cols);
  if (lanes == 0) {
    softmax_rows_forward_block<<<unsigned(rows), 512, 0, stream()>>>(x, cols, log, out);
  } else {
    dispatch_lanes(lanes, [&](auto l) {
      softmax_rows_forward<l.value>
          <<<row_grid(rows, l.value), kBlock, 0, stream()>>>(x, rows, cols, log, out);
    });
  }
  ENGINE_CUDA_LAUNCH_CHECK();
}

void softmax_backward_rows(const float* y, const float* g, int64_t rows, int64_t cols, bool log,
                           float* dx) {
  if (rows == 0 || cols == 0) return;
  int lanes = row_lanes(cols);
  if (lanes == 0) {
    softmax_rows_backward_block<<<unsigned(rows), 512, 0, stream()>>>(y, g, cols, log, dx);
  } else {
    dispatch_lanes(lanes, [&](auto l) {
      softmax_rows_backward<l.value>
          <<<row_grid(rows, l.value), kBlock, 0, stream()>>>(y, g, rows, cols, log, dx);
    });
  }
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
