// CUDA reductions over a dense [outer, reduced, inner] block (engine/kernels/reduce.h).
// inner == 1 (reducing the last dims, e.g. NHWC channels): a warp per row for short rows, a
// block per row for long ones, warp shuffles for the tree. inner > 1: threads own columns and
// walk the reduced dim with coalesced loads; when outer * inner is too small to fill the GPU the
// reduced dim is split into chunks whose partial results are combined in chunk order by a
// second kernel. No float atomics anywhere, so results are bit-identical run to run.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/launch.h"
#include "engine/kernels/reduce.h"

namespace engine::cuda {

namespace {

// --- inner == 1: rows -------------------------------------------------------------------------

// What a row reduction accumulates: plain sums, or squared deviations from a per-row mean.
struct SumTerm {
  __device__ double operator()(float x, int64_t) const { return double(x); }
};
struct SqDevTerm {
  const double* mean;  // per row (or per column for the column kernels)
  __device__ double operator()(float x, int64_t j) const {
    double d = double(x) - mean[j];
    return d * d;
  }
};

// acc[row] = sum_r term(x[row, r]); a warp per row. Double accumulation like the CPU kernels.
template <typename Term>
__global__ void reduce_rows_warp_sum(const float* x, int64_t rows, int64_t len, Term term,
                                     double* acc) {
  int lane = threadIdx.x % kWarp;
  int64_t warps = grid_threads() / kWarp;
  for (int64_t row = global_thread() / kWarp; row < rows; row += warps) {
    const float* p = x + row * len;
    double s = 0;
    for (int64_t r = lane; r < len; r += kWarp) s += term(__ldg(p + r), row);
    s = warp_sum(s);
    if (lane == 0) acc[row] = s;
  }
}

template <typename Term>
__global__ void reduce_rows_block_sum(const float* x, int64_t len, Term term, double* acc) {
  __shared__ double scratch[kWarp];
  int64_t row = blockIdx.x;
  const float* p = x + row * len;
  double s = 0;
  for (int64_t r = threadIdx.x; r < len; r += blockDim.x) s += term(__ldg(p + r), row);
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) acc[row] = s;
}

// --- inner > 1: columns -----------------------------------------------------------------------

constexpr int kColX = 32, kColY = 8;

// partial[chunk, o * inner + i] = sum over r in chunk of term(x[o, r, i]). Block (32, 8): x
// over columns, y over rows of the chunk, combined in shared memory in y order.
template <typename Term>
__global__ void reduce_columns_partial_sum(const float* x, int64_t outer, int64_t reduced,
                                           int64_t inner, int64_t chunk_len, Term term,
                                           double* partial) {
  __shared__ double tile[kColY][kColX + 1];
  int64_t tiles = (inner + kColX - 1) / kColX;
  int64_t o = blockIdx.x / tiles;
  int64_t i = (blockIdx.x % tiles) * kColX + threadIdx.x;
  int64_t r0 = int64_t(blockIdx.y) * chunk_len, r1 = min(reduced, r0 + chunk_len);
  double s = 0;
  if (i < inner) {
    const float* base = x + o * reduced * inner + i;
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColY)
      s += term(__ldg(base + r * inner), o * inner + i);
  }
  tile[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && i < inner) {
    double t = 0;
    for (int y = 0; y < kColY; ++y) t += tile[y][threadIdx.x];
    partial[int64_t(blockIdx.y) * outer * inner + o * inner + i] = t;
  }
}

// acc[j] = sum over chunks, in chunk order.
__global__ void reduce_columns_finish_sum(const double* partial, int64_t chunks, int64_t cols,
                                          double* acc) {
  for (int64_t j = global_thread(); j < cols; j += grid_threads()) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[c * cols + j];
    acc[j] = s;
  }
}

// out[j] = acc[j] * scale, to f32 and/or f64.
__global__ void reduce_scale_store(const double* acc, int64_t n, double scale, float* out_f,
                                   double* out_d) {
  for (int64_t j = global_thread(); j < n; j += grid_threads()) {
    double v = acc[j] * scale;
    if (out_f) out_f[j] = float(v);
    if (out_d) out_d[j] = v;
  }
}

// Chunks of the reduced dim so that the column kernels have about 4 blocks per SM.
int64_t column_chunks(int64_t outer, int64_t reduced, int64_t inner) {
  int64_t blocks = outer * ((inner + kColX - 1) / kColX);
  int64_t want = std::max<int64_t>(1, (132 * 4) / std::max<int64_t>(blocks, 1));
  int64_t max_chunks = std::max<int64_t>(1, reduced / (kColY * 16));  // >= 128 rows a chunk
  return std::min<int64_t>({want, max_chunks, 65535});
}

// acc[outer * inner] (double) = sum over the reduced dim of term(x).
template <typename Term>
void accumulate(const float* x, int64_t outer, int64_t reduced, int64_t inner, Term term,
                double* acc) {
  if (inner == 1) {
    if (reduced <= 1024) {
      reduce_rows_warp_sum<<<grid_for(outer * kWarp), kBlock, 0, stream()>>>(x, outer, reduced,
                                                                             term, acc);
    } else {
      reduce_rows_block_sum<<<unsigned(outer), 512, 0, stream()>>>(x, reduced, term, acc);
    }
    ENGINE_CUDA_LAUNCH_CHECK();
    return;
  }
  int64_t chunks = column_chunks(outer, reduced, inner);
  int64_t chunk_len = (reduced + chunks - 1) / chunks;
  chunks = (reduced + chunk_len - 1) / chunk_len;
  int64_t cols = outer * inner;
  Scratch partial(size_t(chunks * cols) * sizeof(double));
  dim3 grid(unsigned(outer * ((inner + kColX - 1) / kColX)), unsigned(chunks));
  reduce_columns_partial_sum<<<grid, dim3(kColX, kColY), 0, stream()>>>(
      x, outer, reduced, inner, chunk_len, term, partial.as<double>());
  ENGINE_CUDA_LAUNCH_CHECK();
  reduce_columns_finish_sum<<<grid_for(cols), kBlock, 0, stream()>>>(partial.as<double>(), chunks,
                                                                     cols, acc);
  ENGINE_CUDA_LAUNCH_CHECK();
}

// --- arg reductions ---------------------------------------------------------------------------

// (value, index) pairs: strictly better values win; equal values keep the smaller index (the
// first one, as on the CPU).
__device__ __forceinline__ bool takes(bool is_max, float v, int64_t i, float bv, int64_t bi) {
  return (is_max ? v > bv : v < bv) || (v == bv && i < bi);
}

__device__ __forceinline__ void warp_arg(bool is_max, float& v, int64_t& i) {
  for (int o = kWarp / 2; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, v, o);
    int64_t oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (takes(is_max, ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
}

// The CPU scans from position 0 with strict comparisons: a NaN at position 0 is the result, a
// NaN anywhere else never wins. Here each thread starts its own scan at a later position, and a
// NaN taken as that first value would hide the thread's other positions, so NaNs past position 0
// are skipped (a thread left with none keeps bi == INT64_MAX, "empty").
__device__ __forceinline__ bool skip_nan(float v, int64_t r) {
  return r != 0 && isnan(v);
}

// One warp per row; lanes scan strided positions in increasing order.
__global__ void arg_reduce_rows_warp(const float* x, int64_t rows, int64_t len, bool is_max,
                                     float* values, int64_t* indices) {
  int lane = threadIdx.x % kWarp;
  int64_t warps = grid_threads() / kWarp;
  for (int64_t row = global_thread() / kWarp; row < rows; row += warps) {
    const float* p = x + row * len;
    float bv = is_max ? -INFINITY : INFINITY;
    int64_t bi = INT64_MAX;
    for (int64_t r = lane; r < len; r += kWarp) {
      float v = __ldg(p + r);
      if (skip_nan(v, r)) continue;
      if (bi == INT64_MAX || (is_max ? v > bv : v < bv)) {
        bv = v;
        bi = r;
      }
    }
    warp_arg(is_max, bv, bi);
    if (lane == 0) {
      values[row] = bv;
      if (indices) indices[row] = bi;
    }
  }
}

// Partial (value, index) per column and chunk; block (32, 8) as in the sums.
__global__ void arg_reduce_columns_partial(const float* x, int64_t outer, int64_t reduced,
                                           int64_t inner, int64_t chunk_len, bool is_max, float* pv,
                                           int64_t* pi) {
  __shared__ float tv[kColY][kColX + 1];
  __shared__ int64_t ti[kColY][kColX + 1];
  int64_t tiles = (inner + kColX - 1) / kColX;
  int64_t o = blockIdx.x / tiles;
  int64_t i = (blockIdx.x % tiles) * kColX + threadIdx.x;
  int64_t r0 = int64_t(blockIdx.y) * chunk_len, r1 = min(reduced, r0 + chunk_len);
  float bv = is_max ? -INFINITY : INFINITY;
  int64_t bi = INT64_MAX;
  if (i < inner) {
    const float* base = x + o * reduced * inner + i;
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColY) {
      float v = __ldg(base + r * inner);
      if (skip_nan(v, r)) continue;
      if (bi == INT64_MAX || (is_max ? v > bv : v < bv)) {
        bv = v;
        bi = r;
      }
    }
  }
  tv[threadIdx.y][threadIdx.x] = bv;
  ti[threadIdx.y][threadIdx.x] = bi;
  __syncthreads();
  if (threadIdx.y == 0 && i < inner) {
    for (int y = 1; y < kColY; ++y) {
      if (ti[y][threadIdx.x] != INT64_MAX &&
          (bi == INT64_MAX || takes(is_max, tv[y][threadIdx.x], ti[y][threadIdx.x], bv, bi))) {
        bv = tv[y][threadIdx.x];
        bi = ti[y][threadIdx.x];
      }
    }
    int64_t j = int64_t(blockIdx.y) * outer * inner + o * inner + i;
    pv[j] = bv;
    pi[j] = bi;
  }
}

__global__ void arg_reduce_columns_finish(const float* pv, const int64_t* pi, int64_t chunks,
                                          int64_t cols, bool is_max, float* values,
                                          int64_t* indices) {
  for (int64_t j = global_thread(); j < cols; j += grid_threads()) {
    float bv = pv[j];
    int64_t bi = pi[j];
    for (int64_t c = 1; c < chunks; ++c) {
      float v = pv[c * cols + j];
      int64_t i = pi[c * cols + j];
      if (i != INT64_MAX && (bi == INT64_MAX || takes(is_max, v, i, bv, bi))) {
        bv = v;
        bi = i;
      }
    }
    values[j] = bv;
    if (indices) indices[j] = bi;
  }
}

}  // namespace

void sum_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, float* out) {
  int64_t cols = outer * inner;
  if (cols == 0) return;
  Scratch acc(size_t(cols) * sizeof(double));
  accumulate(x, outer, reduced, inner, SumTerm{}, acc.as<double>());
  reduce_scale_store<<<grid_for(cols), kBlock, 0, stream()>>>(acc.as<double>(), cols, 1.0, out,
                                                              nullptr);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void var_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, int64_t correction,
              float* out) {
  int64_t cols = outer * inner;
  if (cols == 0) return;
  Scratch acc(size_t(cols) * sizeof(double)), mean(size_t(cols) * sizeof(double));
  accumulate(x, outer, reduced, inner, SumTerm{}, acc.as<double>());
  reduce_scale_store<<<grid_for(cols), kBlock, 0, stream()>>>(
      acc.as<double>(), cols, 1.0 / double(reduced), nullptr, mean.as<double>());
  ENGINE_CUDA_LAUNCH_CHECK();
  accumulate(x, outer, reduced, inner, SqDevTerm{mean.as<double>()}, acc.as<double>());
  reduce_scale_store<<<grid_for(cols), kBlock, 0, stream()>>>(
      acc.as<double>(), cols, 1.0 / double(reduced - correction), out, nullptr);
  ENGINE_CUDA_LAUNCH_CHECK();
}

void arg_reduce_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, bool is_max,
                     float* values, int64_t* indices) {
  int64_t cols = outer * inner;
  if (cols == 0 || reduced == 0) return;
  if (inner == 1) {
    arg_reduce_rows_warp<<<grid_for(outer * kWarp), kBlock, 0, stream()>>>(x, outer, reduced,
                                                                           is_max, values, indices);
    ENGINE_CUDA_LAUNCH_CHECK();
    return;
  }
  int64_t chunks = column_chunks(outer, reduced, inner);
  int64_t chunk_len = (reduced + chunks - 1) / chunks;
  chunks = (reduced + chunk_len - 1) / chunk_len;
  Scratch pv(size_t(chunks * cols) * sizeof(float)), pi(size_t(chunks * cols) * sizeof(int64_t));
  dim3 grid(unsigned(outer * ((inner + kColX - 1) / kColX)), unsigned(chunks));
  arg_reduce_columns_partial<<<grid, dim3(kColX, kColY), 0, stream()>>>(
      x, outer, reduced, inner, chunk_len, is_max, pv.as<float>(), pi.as<int64_t>());
  ENGINE_CUDA_LAUNCH_CHECK();
  arg_reduce_columns_finish<<<grid_for(cols), kBlock, 0, stream()>>>(
      pv.as<float>(), pi.as<int64_t>(), chunks, cols, is_max, values, indices);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
