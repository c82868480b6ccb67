// Internal to the CUDA backend (cuda/*.cu): the compute stream of each device and an RAII CUDA
// event. Every kernel, copy, cuBLAS and cuDNN call of the engine runs on the current device's
// compute stream, so work on one device is ordered without further synchronization and the
// caching allocator can hand a freed block to the next request at once.
#pragma once

#include <cuda_runtime.h>

#include "engine/kernels/runtime.h"

namespace engine::cuda {

// The compute stream of `device`: created once (non-blocking, so it never serializes with the
// legacy default stream), kept until process exit.
cudaStream_t compute_stream(int device);
// compute_stream(current_device()).
cudaStream_t current_stream();

// A CUDA event (timing disabled unless asked for), destroyed with the object.
class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Records the event on `stream` (default: the current device's compute stream).
  void record(cudaStream_t stream = nullptr);
  // Makes `stream` (default: the compute stream) wait for the recorded work; the host does not.
  void block(cudaStream_t stream = nullptr) const;
  // True when the work recorded has finished (or nothing was recorded).
  bool query() const;
  void synchronize() const;
  // Milliseconds from `start` to this event; both must be timing events, recorded and finished.
  float elapsed_ms(const Event& start) const;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
  int device_ = 0;
};

// Threads per block and a grid that covers n elements with grid-stride loops (capped so that a
// huge n does not create more blocks than useful).
constexpr int kBlock = 256;
inline unsigned grid_for(int64_t n, int block = kBlock) {
  int64_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > 65535LL * 32) g = 65535LL * 32;
  return unsigned(g);
}

}  // namespace engine::cuda
