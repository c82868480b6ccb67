#include "engine/ops/index.h"

#include "engine/kernels/index.h"
#include "engine/ops/common.h"
#include "engine/ops/factory.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

// Runs f(I{}) with I = int32_t or int64_t for an index tensor; errors on other dtypes.
template <typename F>
decltype(auto) dispatch_index(const char* op, const char* arg, const Tensor& index, F&& f) {
  ops::check_dtype(op, arg, index, {DType::i32, DType::i64});
  if (index.dtype() == DType::i32) return f(int32_t{});
  return f(int64_t{});
}

// Position of the first value of `index` (contiguous; u8, i32 or i64) outside [0, size) that is
// not the ignore value, or -1; the value goes to `value`. CUDA indices are checked on the device
// (cuda::find_bad_index: one small copy back and a compute-stream sync per call), so a bad index
// raises the same error on both backends before any kernel reads it.
int64_t first_bad_index(const Tensor& index, int64_t size, std::optional<int64_t> ignore,
                        int64_t& value) {
  auto run = [&](auto tag) -> int64_t {
    using I = decltype(tag);
    const I* p = index.data<I>();
    const int64_t n = index.numel();
    if (index.device().is_cuda()) {
#if ENGINE_WITH_CUDA
      cuda::DeviceGuard guard(index.device().index);
      return cuda::find_bad_index<I>(p, n, size, ignore.has_value(), ignore.value_or(-1), &value);
#else
      ops::no_kernel("index check", index);
#endif
    }
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = int64_t(p[i]);
      if ((v >= 0 && v < size) || (ignore && v == *ignore)) continue;
      value = v;
      return i;
    }
    return -1;
  };
  if (index.dtype() == DType::u8) return run(uint8_t{});
  if (index.dtype() == DType::i32) return run(int32_t{});
  return run(int64_t{});
}

// Every value of `index` (contiguous, i32/i64) must lie in [0, size), size = target.size(dim).
void check_index_values(const char* op, const Tensor& index, int dim, const char* target_arg,
                        const Tensor& target) {
  const int64_t size = target.size(dim);
  ops::check_dtype(op, "index", index, {DType::i32, DType::i64});
  int64_t v = 0;
  ENGINE_CHECK(first_bad_index(index, size, std::nullopt, v) < 0,
               "{}: index value {} out of range for dim {} of size {} in {} {}", op, v, dim, size,
               target_arg, shape_str(target.shape()));
}

// Common argument checks of index ops.
void check_index_args(const char* op, const char* target_arg, const Tensor& target,
                      const Tensor& index) {
  ops::check_floating(op, target_arg, target);
  ops::check_defined(op, "index", index);
  ops::check_dtype(op, "index", index, {DType::i32, DType::i64});
  ops::check_same_device(op, target_arg, target, "index", index);
  ENGINE_CHECK(target.dim() >= 1, "{}: {} must have at least 1 dim, got {}", op, target_arg,
               target.desc());
}

// `t` as lines along `dim` over the coordinates of `line_shape` (the index's shape).
LineGeometry lines_of(const Tensor& t, const Shape& line_shape, int dim) {
  Shape shape, strides;
  for (int d = 0; d < int(line_shape.size()); ++d) {
    if (d == dim) continue;
    shape.push_back(line_shape[size_t(d)]);
    strides.push_back(t.strides()[size_t(d)]);
  }
  return {make_layout(shape, strides), t.strides()[size_t(dim)]};
}

// gather/scatter_add: index has x's rank and fits inside `target` in every dim but `dim`.
void check_index_fits(const char* op, const char* target_arg, const Tensor& target,
                      const Tensor& index, int dim) {
  ENGINE_CHECK(index.dim() == target.dim(), "{}: index {} must have as many dims as {} {}", op,
               shape_str(index.shape()), target_arg, shape_str(target.shape()));
  for (int d = 0; d < target.dim(); ++d) {
    if (d == dim) continue;
    ENGINE_CHECK(index.size(d) <= target.size(d),
                 "{}: index {} is larger than {} {} in dim {} ({} > {})", op,
                 shape_str(index.shape()), target_arg, shape_str(target.shape()), d, index.size(d),
                 target.size(d));
  }
}

// [outer, size(dim), inner] of a shape.
void split_at(const Shape& s, int dim, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < dim; ++d) outer *= s[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < s.size(); ++d) inner *= s[d];
}

// Forward of scatter_add without autograd (also the backward of gather).
Tensor scatter_add_forward(const Tensor& base, int dim, const Tensor& idx, const Tensor& src) {
  Tensor out = base.detach().clone();
  if (idx.numel() == 0) return out;
  const int64_t n = idx.size(dim), num_lines = idx.numel() / n;
  const LineGeometry go = lines_of(out, idx.shape(), dim), gi = lines_of(idx, idx.shape(), dim),
                     gs = lines_of(src, idx.shape(), dim);
  ops::dispatch_float(
      "scatter_add", out,
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_index("scatter_add", "index", idx, [&](auto itag) {
          using I = decltype(itag);
          cpu::scatter_add<T, I>(out.data<T>(), go, idx.data<I>(), gi, src.data<T>(), gs, num_lines,
                                 n);
        });
      },
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_index("scatter_add", "index", idx, [&](auto itag) {
          using I = decltype(itag);
          cuda::scatter_add<I>(out.data<T>(), go, idx.data<I>(), gi, src.data<T>(), gs, num_lines,
                               n);
        });
      });
  return out;
}

// Forward of index_add without autograd (also the backward of index_select and segment_sum).
Tensor index_add_forward(const Tensor& base, int dim, const Tensor& idx, const Tensor& src) {
  Tensor out = base.detach().clone();
  Tensor s = src.detach().contiguous();
  int64_t outer, inner;
  split_at(out.shape(), dim, outer, inner);
  ops::dispatch_float(
      "index_add", out,
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_index("index_add", "index", idx, [&](auto itag) {
          using I = decltype(itag);
          cpu::index_add<T, I>(out.data<T>(), outer, out.size(dim), inner, idx.data<I>(),
                               idx.numel(), s.data<T>());
        });
      },
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_index("index_add", "index", idx, [&](auto itag) {
          using I = decltype(itag);
          cuda::index_add<I>(out.data<T>(), outer, out.size(dim), inner, idx.data<I>(), idx.numel(),
                             s.data<T>());
        });
      });
  return out;
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_args("gather", "x", x, index);
  const int d = wrap_dim(dim, x.dim(), "gather");
  check_index_fits("gather", "x", x, index, d);
  Tensor idx = index.contiguous();
  check_index_values("gather", idx, d, "x", x);
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  if (idx.numel() > 0) {
    const int64_t n = idx.size(d), num_lines = idx.numel() / n;
    const LineGeometry gx = lines_of(x, idx.shape(), d), gi = lines_of(idx, idx.shape(), d),
                       go = lines_of(out, idx.shape(), d);
    ops::dispatch_float(
        "gather", x,
        [&](auto tag) {
          using T = decltype(tag);
          dispatch_index("gather", "index", idx, [&](auto itag) {
            using I = decltype(itag);
            cpu::gather<T, I>(x.data<T>(), gx, idx.data<I>(), gi, out.data<T>(), go, num_lines, n);
          });
        },
        [&](auto tag) {
          using T = decltype(tag);
          dispatch_index("gather", "index", idx, [&](auto itag) {
            using I = decltype(itag);
            cuda::gather<I>(x.data<T>(), gx, idx.data<I>(), gi, out.data<T>(), go, num_lines, n);
          });
        });
  }
  Shape xs = x.shape();
  Tensor si = autograd::save(idx);
  autograd::record("gather", {x}, {&out}, [=](const G& g) {
    return G{scatter_add(zeros(xs, g[0].dtype(), g[0].device()), d, si, g[0])};
  });
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_args("scatter_add", "base", base, index);
  ops::check_floating("scatter_add", "src", src);
  ops::check_same_dtype("scatter_add", "base", base, "src", src);
  ops::check_same_device("scatter_add", "base", base, "src", src);
  const int d = wrap_dim(dim, base.dim(), "scatter_add");
  check_index_fits("scatter_add", "base", base, index, d);
  ENGINE_CHECK(src.shape() == index.shape(), "scatter_add: src {} must have index's shape {}",
               shape_str(src.shape()), shape_str(index.shape()));
  Tensor idx = index.contiguous();
  check_index_values("scatter_add", idx, d, "base", base);
  Tensor out = scatter_add_forward(base, d, idx, src);
  bool gb = base.requires_grad(), gs = src.requires_grad();
  Tensor si = autograd::save(idx);
  autograd::record("scatter_add", {base, src}, {&out}, [=](const G& g) {
    return G{gb ? g[0] : Tensor(), gs ? gather(g[0], d, si) : Tensor()};
  });
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_args("index_select", "x", x, index);
  const int d = wrap_dim(dim, x.dim(), "index_select");
  ENGINE_CHECK(index.dim() == 1, "index_select: index must be 1-D, got {}",
               shape_str(index.shape()));
  Tensor idx = index.contiguous();
  check_index_values("index_select", idx, d, "x", x);
  Tensor xc = x.detach().contiguous();
  Shape os = x.shape();
  os[size_t(d)] = idx.numel();
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  int64_t outer, inner;
  split_at(x.shape(), d, outer, inner);
  ops::dispatch_float(
      "index_select", x,
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_index("index_select", "index", idx, [&](auto itag) {
          using I = decltype(itag);
          cpu::index_select<T, I>(xc.data<T>(), outer, x.size(d), inner, idx.data<I>(), idx.numel(),
                                  out.data<T>());
        });
      },
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_index("index_select", "index", idx, [&](auto itag) {
          using I = decltype(itag);
          cuda::index_select<I>(xc.data<T>(), outer, x.size(d), inner, idx.data<I>(), idx.numel(),
                                out.data<T>());
        });
      });
  Shape xs = x.shape();
  Tensor si = autograd::save(idx);
  autograd::record("index_select", {x}, {&out}, [=](const G& g) {
    return G{index_add(zeros(xs, g[0].dtype(), g[0].device()), d, si, g[0])};
  });
  return out;
}

Tensor index_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_args("index_add", "base", base, index);
  ops::check_floating("index_add", "src", src);
  ops::check_same_dtype("index_add", "base", base, "src", src);
  ops::check_same_device("index_add", "base", base, "src", src);
  const int d = wrap_dim(dim, base.dim(), "index_add");
  ENGINE_CHECK(index.dim() == 1, "index_add: index must be 1-D, got {}", shape_str(index.shape()));
  Shape expect = base.shape();
  expect[size_t(d)] = index.numel();
  ENGINE_CHECK(src.shape() == expect,
               "index_add: src {} must be base {} with size {} (index length) at dim {}",
               shape_str(src.shape()), shape_str(base.shape()), index.numel(), d);
  Tensor idx = index.contiguous();
  check_index_values("index_add", idx, d, "base", base);
  Tensor out = index_add_forward(base, d, idx, src);
  bool gb = base.requires_grad(), gs = src.requires_grad();
  Tensor si = autograd::save(idx);
  autograd::record("index_add", {base, src}, {&out}, [=](const G& g) {
    return G{gb ? g[0] : Tensor(), gs ? index_select(g[0], d, si) : Tensor()};
  });
  return out;
}

Tensor segment_sum(const Tensor& x, const Tensor& ids, int64_t num_segments) {
  ops::check_floating("segment_sum", "x", x);
  ops::check_defined("segment_sum", "ids", ids);
  ops::check_dtype("segment_sum", "ids", ids, {DType::i32, DType::i64});
  ops::check_same_device("segment_sum", "x", x, "ids", ids);
  ENGINE_CHECK(x.dim() == 2, "segment_sum: x must be [P, D], got {}", shape_str(x.shape()));
  ENGINE_CHECK(ids.dim() == 1 && ids.size(0) == x.size(0),
               "segment_sum: ids {} must be [P] with P = {} (x {})", shape_str(ids.shape()),
               x.size(0), shape_str(x.shape()));
  ENGINE_CHECK(num_segments >= 0, "segment_sum: num_segments {} must be >= 0", num_segments);
  Tensor idx = ids.contiguous();
  int64_t bad_value = 0;
  const int64_t bad_at = first_bad_index(idx, num_segments, std::nullopt, bad_value);
  ENGINE_CHECK(bad_at < 0,
               "segment_sum: segment id {} at pixel {} out of range for num_segments {} (x {})",
               bad_value, bad_at, num_segments, shape_str(x.shape()));
  Tensor out =
      index_add_forward(zeros({num_segments, x.size(1)}, x.dtype(), x.device()), 0, idx, x);
  Tensor si = autograd::save(idx);
  autograd::record("segment_sum", {x}, {&out},
                   [=](const G& g) { return G{index_select(g[0], 0, si)}; });
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype,
               std::optional<int64_t> ignore_index) {
  ops::check_defined("one_hot", "labels", labels);
  ops::check_dtype("one_hot", "labels", labels, {DType::u8, DType::i32, DType::i64});
  ENGINE_CHECK(dtype == DType::f32 || dtype == DType::f64,
               "one_hot: dtype must be f32 or f64, got {}", dtype_name(dtype));
  ENGINE_CHECK(num_classes > 0, "one_hot: num_classes {} must be > 0", num_classes);
  Tensor lab = labels.contiguous();
  Shape os = labels.shape();
  os.push_back(num_classes);
  const bool on_cuda = labels.device().is_cuda();
  if (on_cuda)
    ENGINE_CHECK(dtype == DType::f32, "one_hot: CUDA output must be f32, got {} (labels {})",
                 dtype_name(dtype), labels.desc());
  int64_t bad_value = 0;
  ENGINE_CHECK(first_bad_index(lab, num_classes, ignore_index, bad_value) < 0,
               "one_hot: label value {} out of range for num_classes {} (labels {}, {})", bad_value,
               num_classes, shape_str(labels.shape()),
               ignore_index ? fmt::format("ignore_index {}", *ignore_index)
                            : std::string("no ignore_index"));
  Tensor out = Tensor::empty(os, dtype, labels.device());
  const int64_t n = lab.numel();
  auto run = [&](auto tag) {
    using L = decltype(tag);
    const L* p = lab.data<L>();
    const bool has_ignore = ignore_index.has_value();
    const int64_t ignore = ignore_index.value_or(-1);
    if (on_cuda) {
#if ENGINE_WITH_CUDA
      cuda::DeviceGuard guard(labels.device().index);
      cuda::NvtxRange range("one_hot");
      cuda::one_hot<L>(p, n, num_classes, has_ignore, ignore, out.data<float>());
#else
      ops::no_kernel("one_hot", labels);
#endif
    } else if (dtype == DType::f64)
      cpu::one_hot<double, L>(p, n, num_classes, has_ignore, ignore, out.data<double>());
    else
      cpu::one_hot<float, L>(p, n, num_classes, has_ignore, ignore, out.data<float>());
  };
  if (lab.dtype() == DType::u8)
    run(uint8_t{});
  else if (lab.dtype() == DType::i32)
    run(int32_t{});
  else
    run(int64_t{});
  return out;
}

}  // namespace engine
