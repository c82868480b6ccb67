// 2-d pooling over NHWC activations: x [N, H, W, C] -> [N, OH, OW, C], channels pooled
// independently. Window geometry follows PyTorch: output size
//   OH = floor_or_ceil((H + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1,
// where ceil_mode drops a last window that would start inside the right padding; padding must
// be at most half the kernel.
#pragma once

#include "engine/tensor.h"

namespace engine {

// A (height, width) pair; one integer means the same for both.
struct PoolSize2 {
  int64_t h, w;
  PoolSize2(int64_t v) : h(v), w(v) {}  // NOLINT(google-explicit-constructor): 3 means {3, 3}
  PoolSize2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

// Max over each window; padding counts as -inf. The gradient goes to the first maximum of each
// window (windows are scanned row by row). ResNet's stem: max_pool2d(x, 3, 2, 1).
Tensor max_pool2d(const Tensor& x, PoolSize2 kernel, PoolSize2 stride, PoolSize2 padding = 0,
                  PoolSize2 dilation = 1, bool ceil_mode = false);

struct MaxPoolResult {
  Tensor out;      // [N, OH, OW, C], differentiable as max_pool2d
  Tensor indices;  // [N, OH, OW, C] i64: ih * W + iw of each maximum (PyTorch's convention)
};
MaxPoolResult max_pool2d_with_indices(const Tensor& x, PoolSize2 kernel, PoolSize2 stride,
                                      PoolSize2 padding = 0, PoolSize2 dilation = 1,
                                      bool ceil_mode = false);

// Mean over each window. count_include_pad: the divisor counts padded positions (not those of
// a ceil_mode window past the padding); otherwise only input pixels.
Tensor avg_pool2d(const Tensor& x, PoolSize2 kernel, PoolSize2 stride, PoolSize2 padding = 0,
                  bool count_include_pad = true, bool ceil_mode = false);

// Mean over PyTorch's adaptive bins: output row i covers input rows
// [floor(i * H / out_h), ceil((i + 1) * H / out_h)), likewise for columns; any H, W >= 1 and
// any out_h, out_w >= 1 (bins overlap when the sizes do not divide).
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace engine
