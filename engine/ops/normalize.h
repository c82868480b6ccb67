// L2 normalization along one dim (negative dims count from the end): x / max(||x||_2, eps).
// The hot case is pixel embeddings [N, H, W, D] normalized over the last dim D (each pixel's
// embedding is a contiguous row); other dims are moved last, computed, and moved back.
// f32 or f64; norms accumulate in double. The backward is a fused kernel (differentiable once).
#pragma once

#include "engine/tensor.h"

namespace engine {

// Rows with norm <= eps are divided by eps (so zero vectors stay zero, with gradient g / eps).
Tensor l2_normalize(const Tensor& x, int64_t dim = -1, double eps = 1e-12);

}  // namespace engine
