#include "engine/ops/join.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels/join.h"
#include "engine/ops/common.h"
#include "engine/word_dispatch.h"

namespace engine {

using G = std::vector<Tensor>;

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  ENGINE_CHECK(!tensors.empty(), "concat: needs at least one tensor");
  for (size_t i = 0; i < tensors.size(); ++i)
    ENGINE_CHECK(tensors[i].defined(), "concat: tensor {} is undefined", i);
  const Tensor& t0 = tensors[0];
  ENGINE_CHECK(t0.dim() > 0, "concat: tensor 0 is 0-dim; concat needs at least 1 dim");
  const int d = wrap_dim(dim, t0.dim(), "concat");
  Shape shape = t0.shape();
  shape[size_t(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    ENGINE_CHECK(
        t.dtype() == t0.dtype(), "concat: tensor {} {} has dtype {} but tensor 0 {} has {}", i,
        shape_str(t.shape()), dtype_name(t.dtype()), shape_str(t0.shape()), dtype_name(t0.dtype()));
    ENGINE_CHECK(t.device() == t0.device(),
                 "concat: tensor {} {} is on {} but tensor 0 {} is on {}", i, shape_str(t.shape()),
                 t.device().str(), shape_str(t0.shape()), t0.device().str());
    bool match = t.dim() == t0.dim();
    for (int k = 0; match && k < t0.dim(); ++k)
      match = k == d || t.shape()[size_t(k)] == t0.shape()[size_t(k)];
    ENGINE_CHECK(match,
                 "concat: tensor {} has shape {} but tensor 0 has shape {}; all dims except dim {} "
                 "must match",
                 i, shape_str(t.shape()), shape_str(t0.shape()), d);
    shape[size_t(d)] += t.shape()[size_t(d)];
  }
  if (!t0.device().is_cpu() && !t0.device().is_cuda()) ops::no_kernel("concat", t0);

  Tensor out = Tensor::empty(shape, t0.dtype(), t0.device());
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= shape[size_t(k)];
  for (int k = d + 1; k < t0.dim(); ++k) inner *= shape[size_t(k)];
  const int64_t es = int64_t(dtype_size(t0.dtype()));
  std::vector<Tensor> dense;
  std::vector<const void*> srcs;
  std::vector<int64_t> row_bytes, sizes;
  for (const Tensor& t : tensors) {
    dense.push_back(t.contiguous());
    srcs.push_back(dense.back().raw_data());
    row_bytes.push_back(t.shape()[size_t(d)] * inner * es);
    sizes.push_back(t.shape()[size_t(d)]);
  }
  if (out.numel() > 0 && out.device().is_cuda()) {
#if ENGINE_WITH_CUDA
    cuda::concat_rows(srcs.data(), row_bytes.data(), int(srcs.size()), outer, out.raw_data(),
                      out.device().index);
#else
    ops::no_kernel("concat", t0);
#endif
  } else if (out.numel() > 0) {
    cpu::concat_rows(srcs.data(), row_bytes.data(), int(srcs.size()), outer, out.raw_data());
  }

  std::vector<bool> needs;
  for (const Tensor& t : tensors) needs.push_back(t.requires_grad());
  autograd::record("concat", tensors, {&out}, [=](const G& g) {
    G grads(sizes.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (needs[i]) grads[i] = g[0].narrow(d, start, sizes[i]).contiguous();
      start += sizes[i];
    }
    return grads;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  ENGINE_CHECK(!tensors.empty(), "stack: needs at least one tensor");
  for (size_t i = 0; i < tensors.size(); ++i) {
    ENGINE_CHECK(tensors[i].defined(), "stack: tensor {} is undefined", i);
    ENGINE_CHECK(tensors[i].shape() == tensors[0].shape(),
                 "stack: tensor {} has shape {} but tensor 0 has shape {}; all must be equal", i,
                 shape_str(tensors[i].shape()), shape_str(tensors[0].shape()));
  }
  const int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return concat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  ops::check_defined("split", "x", x);
  const int d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    ENGINE_CHECK(sizes[i] >= 0, "split: size {} of piece {} is negative (x is {})", sizes[i], i,
                 shape_str(x.shape()));
    total += sizes[i];
  }
  ENGINE_CHECK(total == x.size(d), "split: sizes {} sum to {} but dim {} of x {} has size {}",
               shape_str(sizes), total, d, shape_str(x.shape()), x.size(d));
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim) {
  ops::check_defined("chunk", "x", x);
  ENGINE_CHECK(n > 0, "chunk: number of chunks must be positive, got {} (x is {})", n,
               shape_str(x.shape()));
  const int d = wrap_dim(dim, x.dim(), "chunk");
  const int64_t size = x.size(d);
  if (size == 0) return split(x, std::vector<int64_t>(size_t(n), 0), d);
  const int64_t piece = (size + n - 1) / n;
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < size; start += piece)
    sizes.push_back(std::min(piece, size - start));
  return split(x, sizes, d);
}

namespace {

// Pads with non-negative amounts; backward slices the gradient.
Tensor pad_grow(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads,
                double value) {
  if (!x.device().is_cpu() && !x.device().is_cuda()) ops::no_kernel("pad", x);
  const int nd = std::max(x.dim(), 1);
  PadGeometry g;
  g.ndim = nd;
  Shape out_shape = x.shape();
  for (int k = 0; k < nd; ++k) {
    g.in_shape[k] = x.dim() == 0 ? 1 : x.shape()[size_t(k)];
    const auto p = size_t(k) < pads.size() ? pads[size_t(k)] : std::pair<int64_t, int64_t>{0, 0};
    g.before[k] = p.first;
    g.out_shape[k] = g.in_shape[k] + p.first + p.second;
    if (x.dim() > 0) out_shape[size_t(k)] = g.out_shape[k];
  }
  // Dims without padding merge into the dim before them, so rows get longer (NHWC pads on H, W
  // copy whole W*C rows).
  while (g.ndim > 1 && g.out_shape[g.ndim - 1] == g.in_shape[g.ndim - 1]) {
    const int l = g.ndim - 1;
    g.in_shape[l - 1] *= g.in_shape[l];
    g.out_shape[l - 1] *= g.out_shape[l];
    g.before[l - 1] *= g.in_shape[l];
    g.ndim = l;
  }
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() > 0) {
    Tensor v = Tensor::empty({}, x.dtype()).fill_(value);
    if (x.device().is_cuda()) {
#if ENGINE_WITH_CUDA
      cuda::pad_constant(xc.raw_data(), int(dtype_size(x.dtype())), g, v.raw_data(), out.raw_data(),
                         x.device().index);
#else
      ops::no_kernel("pad", x);
#endif
    } else {
      auto run = [&](auto tag) {
        using U = decltype(tag);
        U bits;
        std::memcpy(&bits, v.raw_data(), sizeof(U));
        cpu::pad_constant<U>(static_cast<const U*>(xc.raw_data()), g, bits,
                             static_cast<U*>(out.raw_data()));
      };
      dispatch_word(dtype_size(x.dtype()), "pad", run);
    }
  }
  const Shape in_shape = x.shape();
  autograd::record("pad", {x}, {&out}, [=](const G& grad) {
    Tensor gi = grad[0];
    for (size_t k = 0; k < in_shape.size() && k < pads.size(); ++k)
      gi = gi.narrow(int64_t(k), pads[k].first, in_shape[k]);
    return G{gi.contiguous()};
  });
  return out;
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, double value) {
  ops::check_defined("pad", "x", x);
  ENGINE_CHECK(pads.size() <= size_t(x.dim()),
               "pad: {} (before, after) pairs for x {} with {} dims", pads.size(),
               shape_str(x.shape()), x.dim());
  if (!is_floating(x.dtype()))
    ENGINE_CHECK(std::floor(value) == value, "pad: value {} is not an integer for x {} of dtype {}",
                 value, shape_str(x.shape()), dtype_name(x.dtype()));
  // Negative amounts crop first (a differentiable narrow), then the rest grows.
  Tensor cropped = x;
  std::vector<std::pair<int64_t, int64_t>> grow = pads;
  for (size_t k = 0; k < pads.size(); ++k) {
    const int64_t cut_before = std::max<int64_t>(-pads[k].first, 0);
    const int64_t cut_after = std::max<int64_t>(-pads[k].second, 0);
    const int64_t n = x.shape()[k];
    ENGINE_CHECK(cut_before + cut_after <= n,
                 "pad: cropping {} + {} elements from dim {} of size {} (x is {})", cut_before,
                 cut_after, k, n, shape_str(x.shape()));
    if (cut_before + cut_after > 0)
      cropped = cropped.narrow(int64_t(k), cut_before, n - cut_before - cut_after);
    grow[k] = {std::max<int64_t>(pads[k].first, 0), std::max<int64_t>(pads[k].second, 0)};
  }
  return pad_grow(cropped, grow, value);
}

}  // namespace engine
