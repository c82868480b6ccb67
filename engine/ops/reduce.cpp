#include "engine/ops/reduce.h"

#include <algorithm>

#include "engine/kernels/reduce.h"
#include "engine/ops/common.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"

namespace engine {

namespace {

// Normalized, sorted, unique dims; all dims when `dims` is empty.
std::vector<int> reduce_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<int> out;
  if (dims.empty()) {
    for (int d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, x.dim(), op));
  std::sort(out.begin(), out.end());
  ENGINE_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "{}: repeated dim in {}",
               op, shape_str(Shape(dims.begin(), dims.end())));
  return out;
}

Shape reduced_shape(const Shape& in, const std::vector<int>& rd, bool keepdim) {
  Shape out;
  for (int d = 0; d < int(in.size()); ++d) {
    bool r = std::binary_search(rd.begin(), rd.end(), d);
    if (!r)
      out.push_back(in[size_t(d)]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

// x as a dense [outer, reduced, inner] block. Reduced dims that are already adjacent in a dense
// tensor are used in place; other patterns first move the reduced dims last (inner = 1).
struct Blocked {
  Tensor src;
  int64_t outer = 1, red = 1, inner = 1;
};

Blocked blocked(const Tensor& x, const std::vector<int>& rd) {
  Blocked b;
  b.src = x;
  bool block = !rd.empty() && rd.back() - rd.front() + 1 == int(rd.size());
  if (block && x.is_contiguous()) {
    for (int d = 0; d < rd.front(); ++d) b.outer *= x.shape()[size_t(d)];
    for (int d : rd) b.red *= x.shape()[size_t(d)];
    for (int d = rd.back() + 1; d < x.dim(); ++d) b.inner *= x.shape()[size_t(d)];
    return b;
  }
  std::vector<int> perm;
  for (int d = 0; d < x.dim(); ++d)
    if (!std::binary_search(rd.begin(), rd.end(), d)) perm.push_back(d);
  for (int d : perm) b.outer *= x.shape()[size_t(d)];
  for (int d : rd) {
    perm.push_back(d);
    b.red *= x.shape()[size_t(d)];
  }
  autograd::NoGradGuard ng;
  b.src = x.permute(perm).contiguous();
  return b;
}

// Sum without autograd.
Tensor sum_forward(const Tensor& x, const std::vector<int>& rd, bool keepdim) {
  ops::check_floating("sum", "x", x);
  Shape out_shape = reduced_shape(x.shape(), rd, keepdim);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Blocked b = blocked(x, rd);
  if (b.red == 0) return out.zero_();
  ops::dispatch_float(
      "sum", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::sum_axis<T>(b.src.data<T>(), b.outer, b.red, b.inner, out.data<T>());
      },
      [&](auto) {
        cuda::sum_axis(b.src.data<float>(), b.outer, b.red, b.inner, out.data<float>());
      });
  return out;
}

// Max or min over `rd` without autograd; indices (i64, position within the flattened reduced
// block) when `want_indices`.
ValuesIndices extreme_forward(const Tensor& x, const std::vector<int>& rd, bool keepdim,
                              bool is_max, bool want_indices, const char* op) {
  ops::check_floating(op, "x", x);
  Shape out_shape = reduced_shape(x.shape(), rd, keepdim);
  int64_t count = 1;
  for (int d : rd) count *= x.shape()[size_t(d)];
  ENGINE_CHECK(count > 0, "{}: reducing {} over an empty dim", op, x.desc());
  ValuesIndices r;
  r.values = Tensor::empty(out_shape, x.dtype(), x.device());
  if (want_indices) r.indices = Tensor::empty(out_shape, DType::i64, x.device());
  if (r.values.numel() == 0) return r;
  Blocked b = blocked(x, rd);
  int64_t* indices = want_indices ? r.indices.data<int64_t>() : nullptr;
  ops::dispatch_float(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::arg_reduce_axis<T>(b.src.data<T>(), b.outer, b.red, b.inner, is_max,
                                r.values.data<T>(), indices);
      },
      [&](auto) {
        cuda::arg_reduce_axis(b.src.data<float>(), b.outer, b.red, b.inner, is_max,
                              r.values.data<float>(), indices);
      });
  return r;
}

// Gradient of a reduction: g (reduced shape) broadcast back to the input shape.
Tensor expand_back(const Tensor& g, const Shape& in_shape, const std::vector<int>& rd,
                   bool keepdim) {
  Tensor gk = g;
  if (!keepdim) {
    Shape ks = in_shape;
    for (int d : rd) ks[size_t(d)] = 1;
    gk = g.reshape(ks);
  }
  return gk.expand(in_shape).contiguous();
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int> rd = reduce_dims(x, dims, "sum");
  Tensor out = sum_forward(x, rd, keepdim);
  Shape in_shape = x.shape();
  autograd::record("sum", {x}, {&out}, [=](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{expand_back(g[0], in_shape, rd, keepdim)};
  });
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int> rd = reduce_dims(x, dims, "mean");
  int64_t count = 1;
  for (int d : rd) count *= x.shape()[size_t(d)];
  ENGINE_CHECK(count > 0, "mean: reducing {} over an empty dim", x.desc());
  return div(sum(x, dims, keepdim), double(count));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  ENGINE_CHECK(shape.size() <= size_t(x.dim()), "sum_to: cannot sum {} to {}", x.desc(),
               shape_str(shape));
  size_t lead = size_t(x.dim()) - shape.size();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < size_t(x.dim()); ++d) {
    if (d < lead) {
      dims.push_back(int64_t(d));
    } else if (shape[d - lead] == 1 && x.shape()[d] != 1) {
      dims.push_back(int64_t(d));
    } else {
      ENGINE_CHECK(shape[d - lead] == x.shape()[d], "sum_to: cannot sum {} to {}", x.desc(),
                   shape_str(shape));
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

namespace {

ValuesIndices max_min_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  ops::check_floating(op, "x", x);
  int d = wrap_dim(dim, x.dim(), op);
  std::vector<int> rd;
  if (x.dim() > 0) rd.push_back(d);
  ValuesIndices r = extreme_forward(x, rd, keepdim, is_max, true, op);
  Shape in_shape = x.shape();
  int64_t extent = x.dim() > 0 ? in_shape[size_t(d)] : 1;
  Tensor idx = r.indices;
  autograd::record(op, {x}, {&r.values}, [=](const std::vector<Tensor>& g) {
    // One-hot along `dim` at the saved index: positions 0..extent-1 compared with the index.
    Shape ks = in_shape, pos_shape(in_shape.size(), 1);
    if (!ks.empty()) {
      ks[size_t(d)] = 1;
      pos_shape[size_t(d)] = extent;
    }
    Tensor pos = arange(extent, DType::i64, idx.device()).reshape(pos_shape);
    Tensor hit = eq(pos, idx.reshape(ks));
    Tensor gk = g[0].reshape(ks);
    Tensor grad = where(hit, gk, scalar_like(0.0, gk));
    return std::vector<Tensor>{grad.shape() == in_shape ? grad
                                                        : grad.expand(in_shape).contiguous()};
  });
  return r;
}

Tensor extreme_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max,
                    const char* op) {
  ops::check_floating(op, "x", x);
  std::vector<int> rd = reduce_dims(x, dims, op);
  Tensor out = extreme_forward(x, rd, keepdim, is_max, false, op).values;
  Shape in_shape = x.shape();
  Tensor sx = autograd::save(x), so = autograd::save(out);
  autograd::record(op, {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Shape ks = in_shape;
    for (int d : rd) ks[size_t(d)] = 1;
    Tensor hit = eq(sx, so.reshape(ks));
    std::vector<int64_t> dims64(rd.begin(), rd.end());
    Tensor ties = sum(hit.to(sx.dtype()), dims64, true);
    Tensor share = div(g[0].reshape(ks), ties);
    return std::vector<Tensor>{where(hit, share, scalar_like(0.0, share))};
  });
  return out;
}

Tensor arg_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  ops::check_floating(op, "x", x);
  int d = wrap_dim(dim, x.dim(), op);
  std::vector<int> rd;
  if (x.dim() > 0) rd.push_back(d);
  autograd::NoGradGuard ng;
  return extreme_forward(x, rd, keepdim, is_max, true, op).indices;
}

}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min_dim(x, dim, keepdim, true);
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min_dim(x, dim, keepdim, false);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_dim(x, dim, keepdim, true);
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_dim(x, dim, keepdim, false);
}
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_dims(x, dims, keepdim, true, "amax");
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_dims(x, dims, keepdim, false, "amin");
}
Tensor max(const Tensor& x) {
  return extreme_dims(x, {}, false, true, "max");
}
Tensor min(const Tensor& x) {
  return extreme_dims(x, {}, false, false, "min");
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  ops::check_floating("var", "x", x);
  std::vector<int> rd = reduce_dims(x, dims, "var");
  int64_t count = 1;
  for (int d : rd) count *= x.shape()[size_t(d)];
  int64_t correction = unbiased ? 1 : 0;
  ENGINE_CHECK(count - correction > 0,
               "var: reducing {} element(s) of {}; the {} variance needs at least {}", count,
               x.desc(), unbiased ? "unbiased" : "biased", correction + 1);
  Tensor out = Tensor::empty(reduced_shape(x.shape(), rd, keepdim), x.dtype(), x.device());
  if (out.numel() > 0) {
    Blocked b = blocked(x, rd);
    ops::dispatch_float(
        "var", x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::var_axis<T>(b.src.data<T>(), b.outer, b.red, b.inner, correction, out.data<T>());
        },
        [&](auto) {
          cuda::var_axis(b.src.data<float>(), b.outer, b.red, b.inner, correction,
                         out.data<float>());
        });
  }
  Shape in_shape = x.shape();
  Tensor sx = autograd::save(x);
  double scale = 2.0 / double(count - correction);
  autograd::record("var", {x}, {&out}, [=](const std::vector<Tensor>& g) {
    Shape ks = in_shape;
    for (int d : rd) ks[size_t(d)] = 1;
    std::vector<int64_t> dims64(rd.begin(), rd.end());
    Tensor centered = sub(sx, mean(sx, dims64, true));
    return std::vector<Tensor>{mul(centered, mul(g[0].reshape(ks), scale))};
  });
  return out;
}

}  // namespace engine
