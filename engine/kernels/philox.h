// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so CPU and CUDA produce identical streams from (seed, counter).
//
// Stream convention used by every random op: element i of a draw at generator offset `base`
// uses counter block (base + i / 4) and lane i % 4 of the four 32-bit outputs.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/hd.h"

namespace engine {

struct Philox4 {
  uint32_t v[4];
};

ENGINE_HD Philox4 philox4x32_10(uint64_t seed, uint64_t counter) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = uint32_t(p1);
    uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = uint32_t(p0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in (0, 1]: never 0, so log() is safe.
ENGINE_HD float uint_to_unit(uint32_t x) {
  return (float(x >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

ENGINE_HD float philox_uniform(uint64_t seed, uint64_t base, int64_t i) {
  Philox4 r = philox4x32_10(seed, base + uint64_t(i) / 4);
  return uint_to_unit(r.v[i % 4]);
}

// Standard normal by Box-Muller on lanes (0,1) and (2,3) of the element's block.
ENGINE_HD float philox_normal(uint64_t seed, uint64_t base, int64_t i) {
  Philox4 r = philox4x32_10(seed, base + uint64_t(i) / 4);
  int lane = int(i % 4);
  int pair = lane & 2;
  float u1 = uint_to_unit(r.v[pair]), u2 = uint_to_unit(r.v[pair + 1]);
  float radius = std::sqrt(-2.0f * std::log(u1));
  float angle = 6.28318530717958647692f * u2;
  return (lane & 1) ? radius * std::sin(angle) : radius * std::cos(angle);
}

}  // namespace engine
