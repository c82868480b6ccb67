#include "engine/ops/normalize.h"

#include "engine/kernels/normalize.h"
#include "engine/ops/common.h"

namespace engine {

using Rows = std::vector<Tensor>;

Tensor l2_normalize(const Tensor& x, int64_t dim, double eps) {
  const char* op = "l2_normalize";
  ops::check_floating(op, "x", x);
  ENGINE_CHECK(x.dim() >= 1, "l2_normalize: x must have at least one dim, got {}", x.desc());
  ENGINE_CHECK(eps > 0, "l2_normalize: eps must be > 0, got {}", eps);
  int d = wrap_dim(dim, x.dim(), op);
  Tensor out = ops::for_rows(
      op, {x}, d,
      [&](auto tag, const Rows& r, Tensor& y, int64_t n, int64_t c) {
        using T = decltype(tag);
        cpu::l2_normalize_rows<T>(r[0].data<T>(), n, c, eps, y.data<T>());
      },
      [&](auto, const Rows& r, Tensor& y, int64_t n, int64_t c) {
        cuda::l2_normalize_rows(r[0].data<float>(), n, c, eps, y.data<float>());
      });
  Tensor sx = autograd::save(x);
  autograd::record(op, {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor dx = ops::for_rows(
        op, {sx, g[0]}, d,
        [&](auto tag, const Rows& r, Tensor& o, int64_t n, int64_t c) {
          using T = decltype(tag);
          cpu::l2_normalize_backward_rows<T>(r[0].data<T>(), r[1].data<T>(), n, c, eps,
                                             o.data<T>());
        },
        [&](auto, const Rows& r, Tensor& o, int64_t n, int64_t c) {
          cuda::l2_normalize_backward_rows(r[0].data<float>(), r[1].data<float>(), n, c, eps,
                                           o.data<float>());
        });
    return std::vector<Tensor>{dx};
  });
  return out;
}

}  // namespace engine
