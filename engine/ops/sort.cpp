#include "engine/ops/sort.h"

#include "engine/kernels/sort.h"
#include "engine/ops/common.h"
#include "engine/ops/factory.h"
#include "engine/ops/index.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

void split_at(const Shape& s, int dim, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < dim; ++d) outer *= s[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < s.size(); ++d) inner *= s[d];
}

int check_sort_args(const char* op, const Tensor& x, int64_t dim) {
  ops::check_floating(op, "x", x);
  ENGINE_CHECK(x.dim() >= 1, "{}: x must have at least 1 dim, got {}", op, x.desc());
  return wrap_dim(dim, x.dim(), op);
}

// The values' gradient goes back to the positions named by indices (a permutation for sort,
// k distinct positions per line for topk), i.e. a scatter into zeros shaped like x.
void record_values(const char* op, const Tensor& x, SortResult& r, int d) {
  Shape xs = x.shape();
  Tensor si = autograd::save(r.indices);
  autograd::record(op, {x}, {&r.values}, [=](const G& g) {
    return G{scatter_add(zeros(xs, g[0].dtype(), g[0].device()), d, si, g[0])};
  });
}

}  // namespace

SortResult sort(const Tensor& x, int64_t dim, bool descending) {
  const int d = check_sort_args("sort", x, dim);
  Tensor xc = x.detach().contiguous();
  SortResult r{Tensor::empty(x.shape(), x.dtype(), x.device()),
               Tensor::empty(x.shape(), DType::i64, x.device())};
  int64_t outer, inner;
  split_at(x.shape(), d, outer, inner);
  ops::dispatch_float(
      "sort", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::sort<T>(xc.data<T>(), outer, x.size(d), inner, descending, r.values.data<T>(),
                     r.indices.data<int64_t>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::sort(xc.data<T>(), outer, x.size(d), inner, descending, r.values.data<T>(),
                   r.indices.data<int64_t>());
      });
  record_values("sort", x, r, d);
  return r;
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
  autograd::NoGradGuard no_grad;
  return sort(x, dim, descending).indices;
}

SortResult topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  const int d = check_sort_args("topk", x, dim);
  ENGINE_CHECK(k >= 0 && k <= x.size(d), "topk: k {} out of range for dim {} of size {} in x {}", k,
               d, x.size(d), shape_str(x.shape()));
  Tensor xc = x.detach().contiguous();
  Shape os = x.shape();
  os[size_t(d)] = k;
  SortResult r{Tensor::empty(os, x.dtype(), x.device()), Tensor::empty(os, DType::i64, x.device())};
  int64_t outer, inner;
  split_at(x.shape(), d, outer, inner);
  ops::dispatch_float(
      "topk", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::topk<T>(xc.data<T>(), outer, x.size(d), inner, k, largest, sorted, r.values.data<T>(),
                     r.indices.data<int64_t>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::topk(xc.data<T>(), outer, x.size(d), inner, k, largest, sorted, r.values.data<T>(),
                   r.indices.data<int64_t>());
      });
  record_values("topk", x, r, d);
  return r;
}

}  // namespace engine
