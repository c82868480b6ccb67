// Parameter-free element-wise layers: ReLU and Dropout.
#pragma once

#include <cstdint>

#include "engine/random.h"
#include "layers/module.h"

namespace layers {

// max(x, 0), any shape.
class ReLU : public Layer {
 public:
  ReLU() : Layer("ReLU") {}
  Tensor forward(const Tensor& x) override;
};

// Inverted element-wise dropout (torch.nn.Dropout), any shape: in training mode each element is
// zeroed with probability p and the rest scaled by 1 / (1 - p); identity in eval mode. The mask
// comes from the layer's own Philox generator (seeded here; checkpoints save generator()).
class Dropout : public Layer {
 public:
  Dropout(double p, uint64_t seed);
  Tensor forward(const Tensor& x) override;
  double p() const { return p_; }
  engine::Generator& generator() { return gen_; }

 private:
  double p_;
  engine::Generator gen_;
};

}  // namespace layers
