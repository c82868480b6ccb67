// Device memory for Storage: allocation, host<->device copies, strided copies with dtype
// conversion and fills. Plain cudaMalloc for now; the caching allocator replaces alloc/free in
// the CUDA backend issue.
#include <cuda_runtime.h>

#include <type_traits>

#include "cuda/check.h"
#include "engine/dtype.h"
#include "engine/kernels/memory.h"

namespace engine::cuda {

namespace {

template <typename S, typename D>
__global__ void strided_convert_copy(const S* src, Layout l, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = convert_element<S, D>(src[l.offset_of(i)]);
  }
}

template <typename T>
__global__ void fill_value(T* dst, T v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = v;
}

int grid_for(int64_t n, int block) {
  int64_t g = (n + block - 1) / block;
  return int(g < 65535 * 8 ? (g > 0 ? g : 1) : 65535 * 8);
}

struct DeviceScope {
  explicit DeviceScope(int device) {
    CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() { cudaSetDevice(prev_); }
  int prev_ = 0;
};

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
  DeviceScope scope(device);
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, nbytes == 0 ? 1 : nbytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    ENGINE_THROW("CUDA out of memory on cuda:{}: requested {} bytes, {} free of {} ({})", device,
                 nbytes, free_b, total_b, cudaGetErrorString(err));
  }
  return p;
}

void free(void* p, int device) {
  DeviceScope scope(device);
  cudaFree(p);
}

void copy_h2d(void* dst, const void* src, size_t nbytes, int device) {
  DeviceScope scope(device);
  CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}

void copy_d2h(void* dst, const void* src, size_t nbytes, int device) {
  DeviceScope scope(device);
  CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}

void copy_d2d(void* dst, const void* src, size_t nbytes, int device) {
  DeviceScope scope(device);
  CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
}

void strided_copy(const void* src, DType src_dtype, const Layout& l, void* dst, DType dst_dtype,
                  int device) {
  DeviceScope scope(device);
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  if (n == 0) return;
  dispatch_dtype(src_dtype, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_dtype(dst_dtype, [&](auto d_tag) {
      using D = decltype(d_tag);
      strided_convert_copy<S, D>
          <<<grid_for(n, 256), 256>>>(static_cast<const S*>(src), l, static_cast<D*>(dst), n);
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void fill(void* dst, DType dtype, int64_t n, double value, int device) {
  DeviceScope scope(device);
  if (n == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T v = from_double<T>(value);
    fill_value<T><<<grid_for(n, 256), 256>>>(static_cast<T*>(dst), v, n);
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace engine::cuda
