// CUDA classification losses on dense [rows, classes] f32 scores with i32/i64 targets: the fused
// softmax-cross-entropy (forward keeps only the per-row log-sum-exp; backward recomputes the
// probabilities from the logits) and the negative log-likelihood. The statistics the forward
// returns (loss sum, valid rows, first bad row) are reduced on the device in a fixed order and
// copied back once.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/launch.h"
#include "engine/kernels/loss.h"

namespace engine::cuda {

namespace {

template <typename I>
__device__ __forceinline__ bool target_ok(I t, int64_t classes, int64_t ignore_index) {
  return int64_t(t) != ignore_index && int64_t(t) >= 0 && int64_t(t) < classes;
}

template <int lanes, typename I>
__global__ void cross_entropy_rows_forward(const float* logits, const I* target, int64_t rows,
                                           int64_t classes, int64_t ignore_index, float* loss,
                                           float* lse) {
  for_each_row_segment<lanes>(rows, [&](int64_t row, int lane, bool valid) {
    const float* xr = logits + row * classes;
    float v[kRowRegs], m, s;
    row_max_sumexp<lanes>(xr, classes, lane, valid, v, m, s);
    if (!valid || lane != 0) return;
    float l = m + logf(s);
    lse[row] = l;
    I t = target[row];
    loss[row] = target_ok(t, classes, ignore_index) ? l - __ldg(xr + int64_t(t)) : 0.0f;
  });
}

template <typename I>
__global__ void cross_entropy_rows_forward_block(const float* logits, const I* target,
                                                 int64_t classes, int64_t ignore_index, float* loss,
                                                 float* lse) {
  __shared__ float scratch[kWarp];
  int64_t row = blockIdx.x;
  const float* xr = logits + row * classes;
  float mb, s;
  block_row_max_sumexp(xr, classes, scratch, mb, s);
  if (threadIdx.x != 0) return;
  float l = mb + logf(s);
  lse[row] = l;
  I t = target[row];
  loss[row] = target_ok(t, classes, ignore_index) ? l - __ldg(xr + int64_t(t)) : 0.0f;
}

template <typename I>
__global__ void nll_rows_forward(const float* log_probs, const I* target, int64_t rows,
                                 int64_t classes, int64_t ignore_index, float* loss) {
  for (int64_t r = global_thread(); r < rows; r += grid_threads()) {
    I t = target[r];
    loss[r] =
        target_ok(t, classes, ignore_index) ? -__ldg(log_probs + r * classes + int64_t(t)) : 0.0f;
  }
}

// Per-row gradient scale: 0 for ignored rows.
template <typename I>
__device__ __forceinline__ float row_factor(I t, int64_t ignore_index, const float* row_scale,
                                            float scale, int64_t r) {
  if (int64_t(t) == ignore_index) return 0.0f;
  return row_scale ? scale * row_scale[r] : scale;
}

// dlogits = s_r * (softmax(logits) - onehot(target)), softmax recomputed from the saved lse.
template <typename Idx, typename I>
__global__ void cross_entropy_backward_elements(const float* logits, const I* target,
                                                const float* lse, const float* row_scale,
                                                float scale, int64_t n, int64_t classes,
                                                int64_t ignore_index, float* dlogits) {
  for (Idx i = Idx(global_thread()); i < Idx(n); i += Idx(grid_threads())) {
    Idx r = i / Idx(classes), c = i - r * Idx(classes);
    I t = target[r];
    float s = row_factor(t, ignore_index, row_scale, scale, r);
    float d = 0.0f;
    if (s != 0.0f)
      d = s * (expf(__ldg(logits + i) - lse[r]) - (int64_t(c) == int64_t(t) ? 1.0f : 0.0f));
    dlogits[i] = d;
  }
}

template <typename Idx, typename I>
__global__ void nll_backward_elements(const I* target, const float* row_scale, float scale,
                                      int64_t n, int64_t classes, int64_t ignore_index,
                                      float* dlog_probs) {
  for (Idx i = Idx(global_thread()); i < Idx(n); i += Idx(grid_threads())) {
    Idx r = i / Idx(classes), c = i - r * Idx(classes);
    I t = target[r];
    dlog_probs[i] =
        int64_t(c) == int64_t(t) ? -row_factor(t, ignore_index, row_scale, scale, r) : 0.0f;
  }
}

struct DeviceStats {
  double sum;
  double valid;
  long long bad;
};

__device__ __forceinline__ long long warp_min(long long v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) {
    long long w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w < v ? w : v;
  }
  return v;
}

// Block b reduces rows [b * per_block, (b + 1) * per_block); the partition depends only on the
// sizes, so the sum is the same on every run.
template <typename I>
__global__ void loss_stats_partial(const I* target, const float* loss, int64_t rows,
                                   int64_t classes, int64_t ignore_index, int64_t per_block,
                                   DeviceStats* partial) {
  __shared__ double dscratch[kWarp];
  __shared__ long long bscratch[kWarp];
  int64_t r0 = int64_t(blockIdx.x) * per_block, r1 = min(rows, r0 + per_block);
  double sum = 0, valid = 0;
  long long bad = LLONG_MAX;
  for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) {
    sum += double(loss[r]);
    I t = target[r];
    if (int64_t(t) == ignore_index) continue;
    if (int64_t(t) >= 0 && int64_t(t) < classes)
      valid += 1;
    else if (r < bad)
      bad = r;
  }
  sum = block_sum(sum, dscratch);
  valid = block_sum(valid, dscratch);
  int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  bad = warp_min(bad);
  if (lane == 0) bscratch[warp] = bad;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < int(blockDim.x / kWarp); ++w) bad = bscratch[w] < bad ? bscratch[w] : bad;
    partial[blockIdx.x] = DeviceStats{sum, valid, bad};
  }
}

__global__ void loss_stats_finish(const DeviceStats* partial, int blocks, DeviceStats* out) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  DeviceStats st{0.0, 0.0, LLONG_MAX};
  for (int b = 0; b < blocks; ++b) {
    st.sum += partial[b].sum;
    st.valid += partial[b].valid;
    st.bad = partial[b].bad < st.bad ? partial[b].bad : st.bad;
  }
  *out = st;
}

template <typename I>
LossStats finish_stats(const I* target, const float* loss, int64_t rows, int64_t classes,
                       int64_t ignore_index) {
  LossStats st;
  if (rows == 0) return st;
  constexpr int kStatBlock = 512;
  int64_t blocks = std::min<int64_t>(256, (rows + 4095) / 4096);
  int64_t per_block = (rows + blocks - 1) / blocks;
  Scratch partial(size_t(blocks + 1) * sizeof(DeviceStats));
  DeviceStats* p = partial.as<DeviceStats>();
  loss_stats_partial<I><<<unsigned(blocks), kStatBlock, 0, stream()>>>(target, loss, rows, classes,
                                                                       ignore_index, per_block, p);
  ENGINE_CUDA_LAUNCH_CHECK();
  loss_stats_finish<<<1, 32, 0, stream()>>>(p, int(blocks), p + blocks);
  ENGINE_CUDA_LAUNCH_CHECK();
  DeviceStats host{};
  CUDA_CHECK(cudaMemcpyAsync(&host, p + blocks, sizeof(host), cudaMemcpyDeviceToHost, stream()));
  CUDA_CHECK(cudaStreamSynchronize(stream()));
  st.sum = host.sum;
  st.valid = int64_t(host.valid);
  st.bad_row = host.bad == LLONG_MAX ? -1 : int64_t(host.bad);
  return st;
}

// 32-bit element indices when a grid-stride step past n cannot overflow them either. The step is
// the launch's thread count, grid_for(n) * kBlock: up to 65535 * 32 * 256 (~2^29), not 2^24.
bool index_fits_int32(int64_t n) {
  return n + int64_t(grid_for(n)) * kBlock <= int64_t(INT32_MAX);
}

}  // namespace

template <typename I>
LossStats cross_entropy_forward(const float* logits, const I* target, int64_t rows, int64_t classes,
                                int64_t ignore_index, float* loss, float* lse) {
  if (rows == 0) return LossStats{};
  int lanes = row_lanes(classes);
  if (lanes == 0) {
    cross_entropy_rows_forward_block<I>
        <<<unsigned(rows), 512, 0, stream()>>>(logits, target, classes, ignore_index, loss, lse);
  } else {
    dispatch_lanes(lanes, [&](auto l) {
      cross_entropy_rows_forward<l.value, I><<<row_grid(rows, l.value), kBlock, 0, stream()>>>(
          logits, target, rows, classes, ignore_index, loss, lse);
    });
  }
  ENGINE_CUDA_LAUNCH_CHECK();
  return finish_stats(target, loss, rows, classes, ignore_index);
}

template <typename I>
void cross_entropy_backward(const float* logits, const I* target, const float* lse,
                            const float* row_scale, float scale, int64_t rows, int64_t classes,
                            int64_t ignore_index, float* dlogits) {
  int64_t n = rows * classes;
  if (n == 0) return;
  if (index_fits_int32(n))
    cross_entropy_backward_elements<int32_t, I><<<grid_for(n), kBlock, 0, stream()>>>(
        logits, target, lse, row_scale, scale, n, classes, ignore_index, dlogits);
  else
    cross_entropy_backward_elements<int64_t, I><<<grid_for(n), kBlock, 0, stream()>>>(
        logits, target, lse, row_scale, scale, n, classes, ignore_index, dlogits);
  ENGINE_CUDA_LAUNCH_CHECK();
}

template <typename I>
LossStats nll_forward(const float* log_probs, const I* target, int64_t rows, int64_t classes,
                      int64_t ignore_index, float* loss) {
  if (rows == 0) return LossStats{};
  nll_rows_forward<I><<<grid_for(rows), kBlock, 0, stream()>>>(log_probs, target, rows, classes,
                                                               ignore_index, loss);
  ENGINE_CUDA_LAUNCH_CHECK();
  return finish_stats(target, loss, rows, classes, ignore_index);
}

template <typename I>
void nll_backward(const I* target, const float* row_scale, float scale, int64_t rows,
                  int64_t classes, int64_t ignore_index, float* dlog_probs) {
  int64_t n = rows * classes;
  if (n == 0) return;
  if (index_fits_int32(n))
    nll_backward_elements<int32_t, I><<<grid_for(n), kBlock, 0, stream()>>>(
        target, row_scale, scale, n, classes, ignore_index, dlog_probs);
  else
    nll_backward_elements<int64_t, I><<<grid_for(n), kBlock, 0, stream()>>>(
        target, row_scale, scale, n, classes, ignore_index, dlog_probs);
  ENGINE_CUDA_LAUNCH_CHECK();
}

#define ENGINE_INSTANTIATE(I)                                                                    \
  template LossStats cross_entropy_forward<I>(const float*, const I*, int64_t, int64_t, int64_t, \
                                              float*, float*);                                   \
  template void cross_entropy_backward<I>(const float*, const I*, const float*, const float*,    \
                                          float, int64_t, int64_t, int64_t, float*);             \
  template LossStats nll_forward<I>(const float*, const I*, int64_t, int64_t, int64_t, float*);  \
  template void nll_backward<I>(const I*, const float*, float, int64_t, int64_t, int64_t, float*);
ENGINE_INSTANTIATE(int32_t)
ENGINE_INSTANTIATE(int64_t)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cuda
