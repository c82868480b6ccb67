#include "engine/ops/normalize.h"

#include "engine/kernels/normalize.h"
#include "engine/ops/common.h"

namespace engine {

namespace {

std::vector<int> dim_last_perm(int ndim, int d) {
  std::vector<int> p;
  for (int i = 0; i < ndim; ++i)
    if (i != d) p.push_back(i);
  p.push_back(d);
  return p;
}

// t with dim `d` moved last, dense (no copy for the last dim of a dense tensor).
Tensor rows_view(const Tensor& t, int d) {
  if (d == t.dim() - 1) return t.contiguous();
  return t.permute(dim_last_perm(t.dim(), d)).contiguous();
}

// Undoes rows_view on a dense result.
Tensor from_rows(const Tensor& t, int d) {
  int nd = t.dim();
  if (d == nd - 1) return t;
  std::vector<int> p = dim_last_perm(nd, d), inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[size_t(p[i])] = int(i);
  return t.permute(inv).contiguous();
}

}  // namespace

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
    Tensor src = rows_view(x, d);
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
    Tensor xr = rows_view(sx, d), gr = rows_view(g[0], d);
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
