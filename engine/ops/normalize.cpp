#include "engine/ops/normalize.h"

#include "engine/kernels/normalize.h"
#include "engine/ops/common.h"

namespace engine {

using ops::from_rows;
using ops::to_rows;

Tensor l2_normalize(const Tensor& x, int64_t dim, double eps) {
  const char* op = "l2_normalize";
  ops::check_floating(op, "x", x);
  ENGINE_CHECK(x.dim() >= 1, "l2_normalize: x must have at least one dim, got {}", x.desc());
  ENGINE_CHECK(eps > 0, "l2_normalize: eps must be > 0, got {}", eps);
  int d = wrap_dim(dim, x.dim(), op);
  int64_t cols = x.shape()[size_t(d)];
  Tensor out;
  {
    autograd::NoGradGuard ng;
    Tensor src = to_rows(x, d);
    Tensor y = Tensor::empty(src.shape(), x.dtype(), x.device());
    if (y.numel() > 0) {
      ops::dispatch_cpu_float(op, x, [&](auto tag) {
        using T = decltype(tag);
        cpu::l2_normalize_rows<T>(src.data<T>(), src.numel() / cols, cols, eps, y.data<T>());
      });
    }
    out = from_rows(y, d);
  }
  Tensor sx = autograd::save(x);
  autograd::record(op, {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor xr = to_rows(sx, d), gr = to_rows(g[0], d);
    Tensor dx = Tensor::empty(xr.shape(), xr.dtype(), xr.device());
    if (dx.numel() > 0) {
      ops::dispatch_cpu_float(op, xr, [&](auto tag) {
        using T = decltype(tag);
        cpu::l2_normalize_backward_rows<T>(xr.data<T>(), gr.data<T>(), xr.numel() / cols, cols, eps,
                                           dx.data<T>());
      });
    }
    return std::vector<Tensor>{from_rows(dx, d)};
  });
  return out;
}

}  // namespace engine
