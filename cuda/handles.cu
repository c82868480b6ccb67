// Per (device, thread) library handles (cuda/handles.h).
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/handles.h"
#include "cuda/runtime.h"

namespace engine::cuda {

namespace {

struct Handles {
  cublasHandle_t cublas = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  cudnnHandle_t cudnn = nullptr;
};

// Handles released by ended threads, per device; never destroyed.
struct HandlePool {
  std::mutex mutex;
  std::unordered_map<int, std::vector<Handles>> free;
};

HandlePool& handle_pool() {
  static HandlePool* p = new HandlePool();
  return *p;
}

// The calling thread's handles per device; returned to the pool when the thread ends.
struct ThreadHandles {
  std::unordered_map<int, Handles> by_device;
  ~ThreadHandles() {
    HandlePool& pool = handle_pool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    for (auto& [device, h] : by_device) pool.free[device].push_back(h);
  }
};

Handles& handles_of_current_device() {
  thread_local ThreadHandles mine;
  const int device = current_device();
  auto it = mine.by_device.find(device);
  if (it != mine.by_device.end()) return it->second;
  Handles h;
  {
    HandlePool& pool = handle_pool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    auto& spare = pool.free[device];
    if (!spare.empty()) {
      h = spare.back();
      spare.pop_back();
    }
  }
  if (h.cublas == nullptr) {
    CUBLAS_CHECK(cublasCreate(&h.cublas));
    CUBLAS_CHECK(cublasLtCreate(&h.cublaslt));
    CUDNN_CHECK(cudnnCreate(&h.cudnn));
  }
  // Engine code never changes a handle's stream, so binding once per thread is enough.
  cudaStream_t s = compute_stream(device);
  CUBLAS_CHECK(cublasSetStream(h.cublas, s));
  CUDNN_CHECK(cudnnSetStream(h.cudnn, s));
  return mine.by_device.emplace(device, h).first->second;
}

}  // namespace

cublasHandle_t cublas_handle() {
  return handles_of_current_device().cublas;
}

cublasLtHandle_t cublaslt_handle() {
  return handles_of_current_device().cublaslt;
}

cudnnHandle_t cudnn_handle() {
  return handles_of_current_device().cudnn;
}

}  // namespace engine::cuda
