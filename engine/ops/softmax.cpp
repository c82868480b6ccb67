#include "engine/ops/softmax.h"

#include "engine/kernels/softmax.h"
#include "engine/ops/common.h"

namespace engine {

namespace {

// Permutation that moves `d` last, and its inverse.
std::vector<int> dim_last_perm(int ndim, int d) {
  std::vector<int> p;
  for (int i = 0; i < ndim; ++i)
    if (i != d) p.push_back(i);
  p.push_back(d);
  return p;
}

std::vector<int> inverse_perm(const std::vector<int>& p) {
  std::vector<int> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[size_t(p[i])] = int(i);
  return inv;
}

// t with dim `d` moved last, dense (no copy for the last dim of a dense tensor).
Tensor rows_view(const Tensor& t, int d) {
  if (d == t.dim() - 1 || t.dim() == 0) return t.contiguous();
  return t.permute(dim_last_perm(t.dim(), d)).contiguous();
}

// Undoes rows_view on a dense result.
Tensor from_rows(const Tensor& t, int d, int ndim) {
  if (d == ndim - 1 || ndim == 0) return t;
  return t.permute(inverse_perm(dim_last_perm(ndim, d))).contiguous();
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  ops::check_floating(op, "x", x);
  int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), op);
  int nd = x.dim();
  int64_t cols = nd == 0 ? 1 : x.shape()[size_t(d)];
  Tensor out;
  {
    autograd::NoGradGuard ng;
    Tensor src = rows_view(x, d);
    Tensor y = Tensor::empty(src.shape(), x.dtype(), x.device());
    if (y.numel() > 0) {
      ops::dispatch_cpu_float(op, x, [&](auto tag) {
        using T = decltype(tag);
        cpu::softmax_rows<T>(src.data<T>(), src.numel() / cols, cols, log, y.data<T>());
      });
    }
    out = from_rows(y, d, nd);
  }
  Tensor so = autograd::save(out);
  autograd::record(op, {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor yr = rows_view(so, d), gr = rows_view(g[0], d);
    Tensor dx = Tensor::empty(yr.shape(), yr.dtype(), yr.device());
    if (dx.numel() > 0) {
      ops::dispatch_cpu_float(op, yr, [&](auto tag) {
        using T = decltype(tag);
        cpu::softmax_backward_rows<T>(yr.data<T>(), gr.data<T>(), yr.numel() / cols, cols, log,
                                      dx.data<T>());
      });
    }
    return std::vector<Tensor>{from_rows(dx, d, nd)};
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
