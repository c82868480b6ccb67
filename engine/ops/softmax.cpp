#include "engine/ops/softmax.h"

#include "engine/kernels/softmax.h"
#include "engine/ops/common.h"

namespace engine {

using ops::from_rows;
using ops::to_rows;

namespace {

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  ops::check_floating(op, "x", x);
  int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), op);
  int nd = x.dim();
  int64_t cols = nd == 0 ? 1 : x.shape()[size_t(d)];
  Tensor out;
  {
    autograd::NoGradGuard ng;
    Tensor src = to_rows(x, d);
    Tensor y = Tensor::empty(src.shape(), x.dtype(), x.device());
    if (y.numel() > 0) {
      ops::dispatch_cpu_float(op, x, [&](auto tag) {
        using T = decltype(tag);
        cpu::softmax_rows<T>(src.data<T>(), src.numel() / cols, cols, log, y.data<T>());
      });
    }
    out = from_rows(y, d);
  }
  Tensor so = autograd::save(out);
  autograd::record(op, {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor yr = to_rows(so, d), gr = to_rows(g[0], d);
    Tensor dx = Tensor::empty(yr.shape(), yr.dtype(), yr.device());
    if (dx.numel() > 0) {
      ops::dispatch_cpu_float(op, yr, [&](auto tag) {
        using T = decltype(tag);
        cpu::softmax_backward_rows<T>(yr.data<T>(), gr.data<T>(), yr.numel() / cols, cols, log,
                                      dx.data<T>());
      });
    }
    return std::vector<Tensor>{from_rows(dx, d)};
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  return softmax_impl(x, dim, false);
}
Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_impl(x, dim, true);
}

}  // namespace engine
