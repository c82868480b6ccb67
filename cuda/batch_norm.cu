// Batch normalization over dense NHWC data viewed as [rows, C]. Channel reductions use a 2-d
// grid: blockIdx.x picks 32 * VEC consecutive channels (a warp reads VEC * 32 contiguous floats of
// one row: coalesced, float4 when VEC = 4), blockIdx.y a contiguous chunk of rows, threadIdx.y
// strides the chunk. Each thread keeps Welford (count, mean, M2) accumulators, the block merges
// its 8 row lanes in shared memory, and one partial per (row chunk, channel) goes to the
// workspace; a per-channel finalize merges the partials in chunk order (Chan et al.), so every
// element is read once and the result is deterministic (no atomics).
#include <cuda_runtime.h>

#include <cmath>

#include "cuda/kernel_util.h"
#include "engine/kernels/batch_norm.h"

namespace engine::cuda {

namespace {

constexpr int kLanesX = 32;  // channel lanes per block (one warp wide)
constexpr int kLanesY = 8;   // row lanes per block
constexpr int kTargetBlocks = 1024;

struct RowChunks {
  int64_t count, size;
};

// Enough row chunks to give ~kTargetBlocks blocks, each chunk at least a few rows per lane.
RowChunks row_chunks(int64_t rows, int64_t channels, int vec) {
  int64_t blocks_x = ceil_div(ceil_div(channels, vec), kLanesX);
  int64_t want = std::max<int64_t>(1, kTargetBlocks / std::max<int64_t>(blocks_x, 1));
  int64_t max_chunks = std::max<int64_t>(1, ceil_div(rows, 4 * kLanesY));
  int64_t count = std::min<int64_t>(std::min<int64_t>(want, max_chunks), 65535);
  int64_t size = ceil_div(std::max<int64_t>(rows, 1), count);
  return {ceil_div(std::max<int64_t>(rows, 1), size), size};
}

bool aligned16(const void* p) {
  return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

template <int VEC>
struct Vec {
  float v[VEC];
};

template <int VEC>
__device__ __forceinline__ Vec<VEC> load_vec(const float* p) {
  Vec<VEC> r;
  if constexpr (VEC == 4) {
    float4 f = *reinterpret_cast<const float4*>(p);
    r.v[0] = f.x;
    r.v[1] = f.y;
    r.v[2] = f.z;
    r.v[3] = f.w;
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) r.v[j] = p[j];
  }
  return r;
}

template <int VEC>
__device__ __forceinline__ void store_vec(float* p, const Vec<VEC>& r) {
  if constexpr (VEC == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) p[j] = r.v[j];
  }
}

// Partial Welford statistics of one row chunk: part_mean / part_m2 [chunks, C].
template <int VEC>
__global__ void __launch_bounds__(kLanesX* kLanesY)
    batch_norm_nhwc_stats(const float* __restrict__ x, int64_t rows, int64_t C, int64_t chunk_size,
                          float* __restrict__ part_mean, float* __restrict__ part_m2) {
  __shared__ float s_mean[kLanesY][kLanesX * VEC];
  __shared__ float s_m2[kLanesY][kLanesX * VEC];
  __shared__ float s_n[kLanesY];
  const int64_t c0 = (int64_t(blockIdx.x) * kLanesX + threadIdx.x) * VEC;
  const int64_t r_begin = int64_t(blockIdx.y) * chunk_size;
  const int64_t r_end = min(rows, r_begin + chunk_size);
  float n = 0.f, mean[VEC], m2[VEC];
#pragma unroll
  for (int j = 0; j < VEC; ++j) mean[j] = m2[j] = 0.f;
  if (c0 < C) {
    for (int64_t r = r_begin + threadIdx.y; r < r_end; r += kLanesY) {
      Vec<VEC> v = load_vec<VEC>(x + r * C + c0);
      n += 1.f;
      const float inv_n = 1.f / n;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        float d = v.v[j] - mean[j];
        mean[j] += d * inv_n;
        m2[j] += d * (v.v[j] - mean[j]);
      }
    }
  } else {
    for (int64_t r = r_begin + threadIdx.y; r < r_end; r += kLanesY) n += 1.f;
  }
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    s_mean[threadIdx.y][threadIdx.x * VEC + j] = mean[j];
    s_m2[threadIdx.y][threadIdx.x * VEC + j] = m2[j];
  }
  if (threadIdx.x == 0) s_n[threadIdx.y] = n;
  __syncthreads();
  if (threadIdx.y != 0 || c0 >= C) return;
  float na = s_n[0];
  for (int ly = 1; ly < kLanesY; ++ly) {
    const float nb = s_n[ly];
    if (nb == 0.f) continue;
    const float nab = na + nb;
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const float mb = s_mean[ly][threadIdx.x * VEC + j];
      const float d = mb - mean[j];
      mean[j] += d * (nb / nab);
      m2[j] += s_m2[ly][threadIdx.x * VEC + j] + d * d * (na * nb / nab);
    }
    na = nab;
  }
  for (int j = 0; j < VEC && c0 + j < C; ++j) {
    part_mean[int64_t(blockIdx.y) * C + c0 + j] = mean[j];
    part_m2[int64_t(blockIdx.y) * C + c0 + j] = m2[j];
  }
}

// Per channel: merges the chunk partials (training) or reads the running buffers (eval), then
// writes the saved mean/invstd, the affine scale/shift and the running-buffer update.
__global__ void batch_norm_finalize_stats(
    const float* __restrict__ part_mean, const float* __restrict__ part_m2, int64_t chunks,
    int64_t chunk_size, int64_t rows, int64_t C, bool training, const float* __restrict__ weight,
    const float* __restrict__ bias, float* running_mean, float* running_var, double momentum,
    double eps, float* save_mean, float* save_invstd, float* scale, float* shift) {
  ENGINE_CUDA_LOOP(c, C) {
    double mean, var;
    if (training) {
      double n = 0.0, m = 0.0, m2 = 0.0;
      for (int64_t p = 0; p < chunks; ++p) {
        const double nb = double(min(rows, (p + 1) * chunk_size) - p * chunk_size);
        if (nb <= 0.0) continue;
        const double mb = part_mean[p * C + c];
        const double nab = n + nb;
        const double d = mb - m;
        m += d * (nb / nab);
        m2 += double(part_m2[p * C + c]) + d * d * (n * nb / nab);
        n = nab;
      }
      mean = m;
      var = fmax(0.0, m2 / double(rows));
      if (running_mean != nullptr) {
        running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
        running_var[c] = float((1.0 - momentum) * double(running_var[c]) +
                               momentum * var * double(rows) / double(rows - 1));
      }
    } else {
      mean = running_mean[c];
      var = running_var[c];
    }
    const double invstd = 1.0 / sqrt(var + eps);
    const double sc = (weight != nullptr ? double(weight[c]) : 1.0) * invstd;
    save_mean[c] = float(mean);
    save_invstd[c] = float(invstd);
    scale[c] = float(sc);
    shift[c] = float((bias != nullptr ? double(bias[c]) : 0.0) - mean * sc);
  }
}

// out = act(x * scale + shift + residual), VEC channels per thread.
template <int VEC>
__global__ void batch_norm_nhwc_forward_apply(const float* __restrict__ x,
                                              const float* __restrict__ residual, int64_t n_vec,
                                              int64_t C, const float* __restrict__ scale,
                                              const float* __restrict__ shift, bool relu,
                                              float* __restrict__ out) {
  ENGINE_CUDA_LOOP(i, n_vec) {
    const int64_t e = i * VEC;
    const int64_t c = e % C;
    Vec<VEC> v = load_vec<VEC>(x + e);
    Vec<VEC> r;
    if (residual != nullptr) r = load_vec<VEC>(residual + e);
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      float y = fmaf(v.v[j], __ldg(scale + c + j), __ldg(shift + c + j));
      if (residual != nullptr) y += r.v[j];
      v.v[j] = relu ? fmaxf(y, 0.f) : y;
    }
    store_vec<VEC>(out + e, v);
  }
}

// Partial sums of g and g * (x - mean) per (row chunk, channel), g = dy masked by y > 0.
template <int VEC>
__global__ void __launch_bounds__(kLanesX* kLanesY)
    batch_norm_nhwc_backward_reduce(const float* __restrict__ dy, const float* __restrict__ y,
                                    const float* __restrict__ x, int64_t rows, int64_t C,
                                    int64_t chunk_size, const float* __restrict__ mean,
                                    float* __restrict__ part_g, float* __restrict__ part_gx) {
  __shared__ float s_g[kLanesY][kLanesX * VEC];
  __shared__ float s_gx[kLanesY][kLanesX * VEC];
  const int64_t c0 = (int64_t(blockIdx.x) * kLanesX + threadIdx.x) * VEC;
  const int64_t r_begin = int64_t(blockIdx.y) * chunk_size;
  const int64_t r_end = min(rows, r_begin + chunk_size);
  float sg[VEC], sgx[VEC], m[VEC];
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    sg[j] = sgx[j] = 0.f;
    m[j] = c0 + j < C ? mean[c0 + j] : 0.f;
  }
  if (c0 < C) {
    for (int64_t r = r_begin + threadIdx.y; r < r_end; r += kLanesY) {
      Vec<VEC> g = load_vec<VEC>(dy + r * C + c0);
      Vec<VEC> xv = load_vec<VEC>(x + r * C + c0);
      if (y != nullptr) {
        Vec<VEC> yv = load_vec<VEC>(y + r * C + c0);
#pragma unroll
        for (int j = 0; j < VEC; ++j) g.v[j] = yv.v[j] > 0.f ? g.v[j] : 0.f;
      }
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        sg[j] += g.v[j];
        sgx[j] = fmaf(g.v[j], xv.v[j] - m[j], sgx[j]);
      }
    }
  }
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    s_g[threadIdx.y][threadIdx.x * VEC + j] = sg[j];
    s_gx[threadIdx.y][threadIdx.x * VEC + j] = sgx[j];
  }
  __syncthreads();
  if (threadIdx.y != 0 || c0 >= C) return;
  for (int ly = 1; ly < kLanesY; ++ly) {
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      sg[j] += s_g[ly][threadIdx.x * VEC + j];
      sgx[j] += s_gx[ly][threadIdx.x * VEC + j];
    }
  }
  for (int j = 0; j < VEC && c0 + j < C; ++j) {
    part_g[int64_t(blockIdx.y) * C + c0 + j] = sg[j];
    part_gx[int64_t(blockIdx.y) * C + c0 + j] = sgx[j];
  }
}

// Per channel: sums the partials in chunk order (double), writes dweight/dbias and the
// coefficients of dx = g * a + x * b + k.
__global__ void batch_norm_finalize_backward(const float* __restrict__ part_g,
                                             const float* __restrict__ part_gx, int64_t chunks,
                                             int64_t rows, int64_t C, const float* mean,
                                             const float* invstd, const float* weight,
                                             bool training, float* dweight, float* dbias,
                                             float* coef_a, float* coef_b, float* coef_k) {
  ENGINE_CUDA_LOOP(c, C) {
    double sg = 0.0, sgx = 0.0;
    for (int64_t p = 0; p < chunks; ++p) {
      sg += part_g[p * C + c];
      sgx += part_gx[p * C + c];
    }
    const double is = invstd[c];
    if (dweight != nullptr) dweight[c] = float(sgx * is);
    if (dbias != nullptr) dbias[c] = float(sg);
    const double a = (weight != nullptr ? double(weight[c]) : 1.0) * is;
    double b = 0.0, k = 0.0;
    if (training) {
      b = -a * is * is * sgx / double(rows);
      k = -a * sg / double(rows) - b * double(mean[c]);
    }
    coef_a[c] = float(a);
    coef_b[c] = float(b);
    coef_k[c] = float(k);
  }
}

template <int VEC>
__global__ void batch_norm_nhwc_backward_apply(
    const float* __restrict__ dy, const float* __restrict__ y, const float* __restrict__ x,
    int64_t n_vec, int64_t C, const float* __restrict__ a, const float* __restrict__ b,
    const float* __restrict__ k, float* __restrict__ dx, float* __restrict__ dres) {
  ENGINE_CUDA_LOOP(i, n_vec) {
    const int64_t e = i * VEC;
    const int64_t c = e % C;
    Vec<VEC> g = load_vec<VEC>(dy + e);
    if (y != nullptr) {
      Vec<VEC> yv = load_vec<VEC>(y + e);
#pragma unroll
      for (int j = 0; j < VEC; ++j) g.v[j] = yv.v[j] > 0.f ? g.v[j] : 0.f;
    }
    if (dres != nullptr) store_vec<VEC>(dres + e, g);
    if (dx != nullptr) {
      Vec<VEC> xv = load_vec<VEC>(x + e);
#pragma unroll
      for (int j = 0; j < VEC; ++j)
        xv.v[j] = fmaf(g.v[j], __ldg(a + c + j), fmaf(xv.v[j], __ldg(b + c + j), __ldg(k + c + j)));
      store_vec<VEC>(dx + e, xv);
    }
  }
}

int pick_vec(int64_t C, std::initializer_list<const void*> ptrs) {
  if (C % 4 != 0) return 1;
  for (const void* p : ptrs)
    if (!aligned16(p)) return 1;
  return 4;
}

}  // namespace

int64_t batch_norm_workspace_size(int64_t rows, int64_t channels) {
  // Fewer channel blocks (VEC = 4) allow more row chunks: size for the larger count.
  int64_t chunks =
      std::max(row_chunks(rows, channels, 1).count, row_chunks(rows, channels, 4).count);
  return 2 * chunks * channels + 3 * channels;
}

void batch_norm_parameters(const float* x, int64_t rows, int64_t channels, bool training,
                           const float* weight, const float* bias, float* running_mean,
                           float* running_var, double momentum, double eps, float* workspace,
                           float* save_mean, float* save_invstd, float* scale, float* shift) {
  const int64_t C = channels;
  if (C == 0) return;
  cudaStream_t stream = current_stream();
  RowChunks rc{1, 1};
  float* part_mean = workspace;
  if (training) {
    const int vec = pick_vec(C, {x});
    rc = row_chunks(rows, C, vec);
    float* part_m2 = workspace + rc.count * C;
    dim3 block(kLanesX, kLanesY);
    dim3 grid(unsigned(ceil_div(ceil_div(C, vec), kLanesX)), unsigned(rc.count));
    if (vec == 4)
      batch_norm_nhwc_stats<4><<<grid, block, 0, stream>>>(x, rows, C, rc.size, part_mean, part_m2);
    else
      batch_norm_nhwc_stats<1><<<grid, block, 0, stream>>>(x, rows, C, rc.size, part_mean, part_m2);
    ENGINE_CUDA_LAUNCH_CHECK();
  }
  batch_norm_finalize_stats<<<grid_for(C), kThreads, 0, stream>>>(
      part_mean, workspace + rc.count * C, rc.count, rc.size, rows, C, training, weight, bias,
      running_mean, running_var, momentum, eps, save_mean, save_invstd, scale, shift);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void batch_norm_forward_apply(const float* x, const float* residual, int64_t rows, int64_t channels,
                              const float* scale, const float* shift, bool relu, float* out) {
  const int64_t n = rows * channels;
  if (n == 0) return;
  cudaStream_t stream = current_stream();
  if (pick_vec(channels, {x, residual, out}) == 4) {
    batch_norm_nhwc_forward_apply<4><<<grid_for(n / 4), kThreads, 0, stream>>>(
        x, residual, n / 4, channels, scale, shift, relu, out);
  } else {
    batch_norm_nhwc_forward_apply<1>
        <<<grid_for(n), kThreads, 0, stream>>>(x, residual, n, channels, scale, shift, relu, out);
  }
  ENGINE_CUDA_LAUNCH_CHECK();
}

void batch_norm_backward(const float* dy, const float* y, const float* x, int64_t rows,
                         int64_t channels, const float* save_mean, const float* save_invstd,
                         const float* weight, bool training, float* workspace, float* dx,
                         float* dres, float* dweight, float* dbias) {
  const int64_t C = channels;
  if (C == 0) return;
  cudaStream_t stream = current_stream();
  const int vec = pick_vec(C, {dy, y, x, dx, dres});
  RowChunks rc = row_chunks(rows, C, vec);
  float* part_g = workspace;
  float* part_gx = workspace + rc.count * C;
  float* coef = workspace + 2 * rc.count * C;
  if (rows > 0) {
    dim3 block(kLanesX, kLanesY);
    dim3 grid(unsigned(ceil_div(ceil_div(C, vec), kLanesX)), unsigned(rc.count));
    if (vec == 4)
      batch_norm_nhwc_backward_reduce<4>
          <<<grid, block, 0, stream>>>(dy, y, x, rows, C, rc.size, save_mean, part_g, part_gx);
    else
      batch_norm_nhwc_backward_reduce<1>
          <<<grid, block, 0, stream>>>(dy, y, x, rows, C, rc.size, save_mean, part_g, part_gx);
    ENGINE_CUDA_LAUNCH_CHECK();
  }
  batch_norm_finalize_backward<<<grid_for(C), kThreads, 0, stream>>>(
      part_g, part_gx, rows > 0 ? rc.count : 0, rows, C, save_mean, save_invstd, weight, training,
      dweight, dbias, coef, coef + C, coef + 2 * C);
  ENGINE_CUDA_LAUNCH_CHECK();
  const int64_t n = rows * C;
  if (n == 0 || (dx == nullptr && dres == nullptr)) return;
  if (vec == 4)
    batch_norm_nhwc_backward_apply<4><<<grid_for(n / 4), kThreads, 0, stream>>>(
        dy, y, x, n / 4, C, coef, coef + C, coef + 2 * C, dx, dres);
  else
    batch_norm_nhwc_backward_apply<1><<<grid_for(n), kThreads, 0, stream>>>(
        dy, y, x, n, C, coef, coef + C, coef + 2 * C, dx, dres);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
