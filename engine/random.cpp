#include "engine/random.h"

#include "engine/error.h"
#include "engine/kernels/philox.h"

namespace engine {

double Generator::next_double() {
  Philox4 r = philox4x32_10(seed_, reserve(4));
  uint64_t bits = (uint64_t(r.v[0]) << 21) ^ uint64_t(r.v[1] >> 11);
  return double(bits & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

uint64_t Generator::next_below(uint64_t n) {
  ENGINE_CHECK(n > 0, "Generator::next_below(0)");
  // Rejection sampling keeps the result unbiased.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  while (true) {
    Philox4 r = philox4x32_10(seed_, reserve(4));
    uint64_t x = (uint64_t(r.v[0]) << 32) | r.v[1];
    if (x < limit) return x % n;
  }
}

}  // namespace engine
