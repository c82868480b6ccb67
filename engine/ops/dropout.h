// Inverted dropout.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

namespace engine {

// training and 0 < p: each element is kept with probability 1 - p and scaled by 1 / (1 - p),
// zeroed otherwise (p = 1 zeroes everything). The mask comes from gen's Philox stream: the call
// reserves numel(x) values (base = gen.reserve(numel)) and element i (row-major) is kept when
// philox_uniform(gen.seed(), base, i) > p, the same on every device. The backward multiplies by
// the same mask and scale.
// Eval (training = false) or p = 0: returns x itself and draws nothing from gen.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace engine
