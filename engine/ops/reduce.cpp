#include "engine/ops/reduce.h"

#include <algorithm>

#include "engine/kernels/reduce.h"
#include "engine/ops/common.h"
#include "engine/ops/elementwise.h"

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

// Sum without autograd. Reduced dims that form one block of a dense tensor are summed in place
// ([outer, reduced, inner]); other patterns first move the reduced dims last.
Tensor sum_forward(const Tensor& x, const std::vector<int>& rd, bool keepdim) {
  ops::check_floating("sum", "x", x);
  Shape out_shape = reduced_shape(x.shape(), rd, keepdim);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  bool block = !rd.empty() && rd.back() - rd.front() + 1 == int(rd.size());
  Tensor src = x;
  int64_t outer = 1, red = 1, inner = 1;
  if (block && x.is_contiguous()) {
    for (int d = 0; d < rd.front(); ++d) outer *= x.shape()[size_t(d)];
    for (int d : rd) red *= x.shape()[size_t(d)];
    for (int d = rd.back() + 1; d < x.dim(); ++d) inner *= x.shape()[size_t(d)];
  } else {
    std::vector<int> perm;
    for (int d = 0; d < x.dim(); ++d)
      if (!std::binary_search(rd.begin(), rd.end(), d)) perm.push_back(d);
    for (int d : perm) outer *= x.shape()[size_t(d)];
    for (int d : rd) {
      perm.push_back(d);
      red *= x.shape()[size_t(d)];
    }
    autograd::NoGradGuard ng;
    src = x.permute(perm).contiguous();
  }
  ops::dispatch_cpu_float("sum", x, [&](auto tag) {
    using T = decltype(tag);
    if (red == 0) {
      out.zero_();
      return;
    }
    cpu::sum_axis<T>(src.data<T>(), outer, red, inner, out.data<T>());
  });
  return out;
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

}  // namespace engine
