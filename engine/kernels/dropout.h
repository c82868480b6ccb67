// Dropout mask from the Philox stream convention (engine/kernels/philox.h): element i of a call
// that reserved counter `base` is kept when philox_uniform(seed, base, i) > p, so a CUDA kernel
// given the same (seed, base) draws the same mask.
#pragma once

#include <cstdint>

#include "engine/hd.h"
#include "engine/kernels/philox.h"

namespace engine {

ENGINE_HD bool dropout_keep(uint64_t seed, uint64_t base, int64_t i, float p) {
  return philox_uniform(seed, base, i) > p;
}

}  // namespace engine

namespace engine::cpu {

// out[i] = keep(i) ? x[i] * scale : 0 and mask[i] = keep(i) for dense x of n elements.
template <typename T>
void dropout(const T* x, int64_t n, float p, T scale, uint64_t seed, uint64_t base, T* out,
             uint8_t* mask);

}  // namespace engine::cpu

namespace engine::cuda {
// The same contract on f32 device pointers: one thread per Philox block (four elements).
void dropout(const float* x, int64_t n, float p, float scale, uint64_t seed, uint64_t base,
             float* out, uint8_t* mask);
}  // namespace engine::cuda
