// Device memory for Storage: allocation through the caching allocator, host<->device copies,
// strided copies with dtype conversion and fills, all on the device's compute stream.
#include <cuda_runtime.h>

#include <type_traits>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/runtime.h"
#include "engine/dtype.h"
#include "engine/kernels/memory.h"
#include "engine/word_dispatch.h"

namespace engine::cuda {

namespace {

template <typename S, typename D>
__global__ void strided_convert_copy(const S* src, Layout l, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = convert_element<S, D>(src[l.offset_of(i)]);
  }
}

template <typename U>
__global__ void strided_scatter_words(const U* src, Layout l, U* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[l.offset_of(i)] = src[i];
  }
}

template <typename T>
__global__ void fill_value(T* dst, T v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = v;
}

}  // namespace

int device_count() {
  int n = 0;
  // No driver or no device: report zero devices instead of failing.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void* alloc(size_t nbytes, int device) {
  return allocator_alloc(nbytes, device);
}

void free(void* p, int device) {
  allocator_free(p, device);
}

void copy_h2d(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  const bool other_device = current_device() != device;
  DeviceGuard guard(device);
  cudaStream_t s = compute_stream(device);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s));
  // free_pinned marks a pinned source reusable once the *current* device's compute stream has
  // passed the free; a copy queued on another device's stream is not covered by that mark, so
  // it completes here.
  if (other_device) CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_d2h(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  DeviceGuard guard(device);
  cudaStream_t s = compute_stream(device);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_d2d(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  DeviceGuard guard(device);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, compute_stream(device)));
}

void strided_copy(const void* src, DType src_dtype, const Layout& l, void* dst, DType dst_dtype,
                  int device) {
  DeviceGuard guard(device);
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  if (n == 0) return;
  dispatch_dtype(src_dtype, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_dtype(dst_dtype, [&](auto d_tag) {
      using D = decltype(d_tag);
      strided_convert_copy<S, D><<<grid_for(n), kBlock, 0, compute_stream(device)>>>(
          static_cast<const S*>(src), l, static_cast<D*>(dst), n);
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void strided_scatter(const void* src, int elem_size, void* dst, const Layout& l, int device) {
  DeviceGuard guard(device);
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  if (n == 0) return;
  auto run = [&](auto tag) {
    using U = decltype(tag);
    strided_scatter_words<U><<<grid_for(n), kBlock, 0, compute_stream(device)>>>(
        static_cast<const U*>(src), l, static_cast<U*>(dst), n);
  };
  dispatch_word(size_t(elem_size), "strided_scatter", run);
  CUDA_CHECK(cudaGetLastError());
}

void fill(void* dst, DType dtype, int64_t n, double value, int device) {
  DeviceGuard guard(device);
  if (n == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T v = from_double<T>(value);
    fill_value<T><<<grid_for(n), kBlock, 0, compute_stream(device)>>>(static_cast<T*>(dst), v, n);
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace engine::cuda
