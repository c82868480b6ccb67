// Matrix products (f32 / f64, CPU through BLAS). Differentiable in both operands.
#pragma once

#include "engine/tensor.h"

namespace engine {

// a [..., M, K] x b [..., K, N] -> [..., M, N]. Both operands have at least 2 dims; their batch
// dims (all but the last two) broadcast NumPy-style, so [B, M, K] x [K, N] applies one matrix to
// every batch. Transposed views (x.transpose(-2, -1)) and row-strided views are passed to BLAS
// as they are; other layouts are copied to contiguous first.
Tensor matmul(const Tensor& a, const Tensor& b);

// Fully connected layer over the last dim (torch.nn.Linear layout): x [..., I], weight [O, I],
// bias [O] or undefined -> [..., O] = x * weight^T + bias.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace engine
