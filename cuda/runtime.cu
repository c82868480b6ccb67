// Device selection, one compute stream per device, events, math flags, NVTX ranges and the
// profiler capture range (engine/kernels/runtime.h, cuda/runtime.h).
#include <cuda_profiler_api.h>
#include <nvtx3/nvToolsExt.h>

#include <mutex>
#include <vector>

#include "cuda/check.h"
#include "cuda/runtime.h"
#include "engine/kernels/memory.h"

namespace engine::cuda {

DeviceGuard::DeviceGuard(int device) {
  CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    int n = device_count();
    ENGINE_CHECK(device >= 0 && device < n, "cuda:{} does not exist ({} CUDA devices)", device, n);
    CUDA_CHECK(cudaSetDevice(device));
  }
}

DeviceGuard::~DeviceGuard() {
  int now = previous_;
  // A destructor must not throw: a failure here was already reported by the guarded code.
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
}

int current_device() {
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

namespace {

// Streams live until process exit: destroying them from a static destructor would race the CUDA
// runtime's own teardown.
struct StreamTable {
  std::mutex mutex;
  std::vector<cudaStream_t> streams;
};

StreamTable& stream_table() {
  static StreamTable* table = new StreamTable();
  return *table;
}

}  // namespace

cudaStream_t compute_stream(int device) {
  StreamTable& t = stream_table();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.streams.empty()) {
    int n = device_count();
    ENGINE_CHECK(n > 0, "CUDA: no device is available (no driver, or no GPU visible)");
    t.streams.assign(size_t(n), nullptr);
  }
  ENGINE_CHECK(device >= 0 && size_t(device) < t.streams.size(),
               "cuda:{} does not exist ({} CUDA devices)", device, t.streams.size());
  cudaStream_t& s = t.streams[size_t(device)];
  if (s == nullptr) {
    int prev = 0;
    CUDA_CHECK(cudaGetDevice(&prev));
    CUDA_CHECK(cudaSetDevice(device));
    cudaError_t err = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaSetDevice(prev);
    CUDA_CHECK(err);
  }
  return s;
}

cudaStream_t current_stream() {
  return compute_stream(current_device());
}

void synchronize() {
  CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

Event::Event(bool timing) {
  device_ = current_device();
  CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

Event::~Event() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

void Event::record(cudaStream_t stream) {
  CUDA_CHECK(cudaEventRecord(event_, stream != nullptr ? stream : compute_stream(device_)));
}

void Event::block(cudaStream_t stream) const {
  CUDA_CHECK(cudaStreamWaitEvent(stream != nullptr ? stream : current_stream(), event_, 0));
}

bool Event::query() const {
  cudaError_t err = cudaEventQuery(event_);
  if (err == cudaErrorNotReady) {
    cudaGetLastError();  // a status, not a failure: keep it out of later error checks
    return false;
  }
  CUDA_CHECK(err);
  return true;
}

void Event::synchronize() const {
  CUDA_CHECK(cudaEventSynchronize(event_));
}

float Event::elapsed_ms(const Event& start) const {
  float ms = 0.f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

namespace {
std::mutex& flags_mutex() {
  static std::mutex m;
  return m;
}
MathFlags& flags_storage() {
  static MathFlags f;
  return f;
}
}  // namespace

MathFlags math_flags() {
  std::lock_guard<std::mutex> lock(flags_mutex());
  return flags_storage();
}

void set_math_flags(const MathFlags& flags) {
  std::lock_guard<std::mutex> lock(flags_mutex());
  flags_storage() = flags;
}

NvtxRange::NvtxRange(const char* name) {
  nvtxRangePushA(name);
}

NvtxRange::~NvtxRange() {
  nvtxRangePop();
}

void profiler_start() {
  CUDA_CHECK(cudaProfilerStart());
}

void profiler_stop() {
  CUDA_CHECK(cudaProfilerStop());
}

}  // namespace engine::cuda
