// CPU dropout: one Philox block gives the uniforms of four consecutive elements, so the loop
// runs over blocks (the same values dropout_keep computes one element at a time).
#include "engine/kernels/dropout.h"

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
}  // namespace

template <typename T>
void dropout(const T* x, int64_t n, float p, T scale, uint64_t seed, uint64_t base, T* out,
             uint8_t* mask) {
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    Philox4 r = philox4x32_10(seed, base + uint64_t(b));
    for (int64_t lane = 0; lane < 4; ++lane) {
      int64_t i = b * 4 + lane;
      if (i >= n) break;
      bool keep = uint_to_unit(r.v[lane]) > p;
      mask[i] = keep ? 1 : 0;
      out[i] = keep ? x[i] * scale : T(0);
    }
  }
}

template void dropout<float>(const float*, int64_t, float, float, uint64_t, uint64_t, float*,
                             uint8_t*);
template void dropout<double>(const double*, int64_t, float, double, uint64_t, uint64_t, double*,
                              uint8_t*);

}  // namespace engine::cpu
