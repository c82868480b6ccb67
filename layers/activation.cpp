#include "layers/activation.h"

#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"

namespace layers {

Tensor ReLU::forward(const Tensor& x) {
  return engine::relu(x);
}

Dropout::Dropout(double p, uint64_t seed) : Layer("Dropout"), p_(p), gen_(seed) {
  ENGINE_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& x) {
  return engine::dropout(x, p_, is_training(), gen_);
}

}  // namespace layers
