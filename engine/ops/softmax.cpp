#include "engine/ops/softmax.h"

#include "engine/kernels/softmax.h"
#include "engine/ops/common.h"

namespace engine {

using Rows = std::vector<Tensor>;

namespace {

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  ops::check_floating(op, "x", x);
  int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), op);
  Tensor out = ops::for_rows(
      op, {x}, d,
      [&](auto tag, const Rows& r, Tensor& y, int64_t n, int64_t c) {
        using T = decltype(tag);
        cpu::softmax_rows<T>(r[0].data<T>(), n, c, log, y.data<T>());
      },
      [&](auto, const Rows& r, Tensor& y, int64_t n, int64_t c) {
        cuda::softmax_rows(r[0].data<float>(), n, c, log, y.data<float>());
      });
  Tensor so = autograd::save(out);
  autograd::record(op, {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor dx = ops::for_rows(
        op, {so, g[0]}, d,
        [&](auto tag, const Rows& r, Tensor& o, int64_t n, int64_t c) {
          using T = decltype(tag);
          cpu::softmax_backward_rows<T>(r[0].data<T>(), r[1].data<T>(), n, c, log, o.data<T>());
        },
        [&](auto, const Rows& r, Tensor& o, int64_t n, int64_t c) {
          cuda::softmax_backward_rows(r[0].data<float>(), r[1].data<float>(), n, c, log,
                                      o.data<float>());
        });
    return std::vector<Tensor>{dx};
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
