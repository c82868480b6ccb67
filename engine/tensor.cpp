#include "engine/tensor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <optional>

#include "engine/autograd.h"
#include "engine/kernels/memory.h"
#include "engine/ops/reduce.h"

namespace engine {

namespace {

// Strides for viewing a tensor of (shape, strides) as new_shape without copying, or empty when
// impossible (the classic "split/merge dims that are contiguous with each other" rule).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides,
                                  const Shape& new_shape) {
  if (engine::numel(shape) == 0 || shape.empty()) return contiguous_strides(new_shape);
  Shape out(new_shape.size());
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Shape& shape, int64_t n, const char* op) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      ENGINE_CHECK(infer < 0, "{}: only one dim may be -1 in {}", op, shape_str(shape));
      infer = int(i);
    } else {
      ENGINE_CHECK(out[i] >= 0, "{}: negative size in {}", op, shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    ENGINE_CHECK(known != 0 && n % known == 0, "{}: cannot infer -1 in {} for {} elements", op,
                 shape_str(shape), n);
    out[infer] = n / known;
  }
  ENGINE_CHECK(engine::numel(out) == n, "{}: shape {} is invalid for {} elements", op,
               shape_str(shape), n);
  return out;
}

void check_inplace(const Tensor& t, const char* op) {
  ENGINE_CHECK(!(autograd::grad_mode_enabled() && t.requires_grad()),
               "{}: in-place write to a tensor that requires grad ({}) while grad mode is on; "
               "use NoGradGuard or detach()",
               op, t.desc());
}

}  // namespace

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

namespace {
std::shared_ptr<TensorImpl> new_impl(const Shape& shape, DType dtype, Device device, bool pinned) {
  for (int64_t s : shape)
    ENGINE_CHECK(s >= 0, "empty: negative size in shape {}", shape_str(shape));
  ENGINE_CHECK(shape.size() <= size_t(kMaxDims), "empty: {} dims exceed the maximum of {}",
               shape.size(), kMaxDims);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(size_t(engine::numel(shape)) * dtype_size(dtype), device, pinned);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(new_impl(shape, dtype, device, false));
}

Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) {
  return Tensor(new_impl(shape, dtype, Device::cpu(), true));
}

bool Tensor::is_pinned() const {
  return defined() && impl_->storage && impl_->storage->pinned();
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  ENGINE_CHECK(int64_t(values.size()) == engine::numel(shape),
               "from_vector: {} values do not fill shape {}", values.size(), shape_str(shape));
  Tensor t = empty(shape, DTypeOf<T>::value);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

int64_t Tensor::size(int64_t d) const {
  return shape()[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
  return strides()[wrap_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

std::string Tensor::desc() const {
  if (!defined()) return "undefined";
  return fmt::format("{} {} {}", shape_str(shape()), dtype_name(dtype()), device().str());
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * int64_t(dtype_size(dtype()));
}

double Tensor::item() const {
  ENGINE_CHECK(numel() == 1, "item(): tensor {} has {} elements, expected 1", desc(), numel());
  return to_vector<double>()[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu());
  std::vector<T> out(size_t(host.numel()));
  if (!out.empty())
    cpu::strided_copy(host.raw_data(), host.dtype(), make_layout(host.shape(), host.strides()),
                      out.data(), DTypeOf<T>::value);
  return out;
}

// ---------------------------------------------------------------- views

Tensor Tensor::view(const Shape& new_shape) const {
  Shape s = infer_shape(new_shape, numel(), "view");
  auto st = view_strides(shape(), strides(), s);
  ENGINE_CHECK(st.has_value(),
               "view: tensor {} with strides {} cannot be viewed as {}; use reshape", desc(),
               shape_str(strides()), shape_str(s));
  Tensor out = make_view(*this, s, *st, offset());
  Shape in_shape = shape();
  autograd::record("view", {*this}, {&out}, [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0].reshape(in_shape)};
  });
  return out;
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape s = infer_shape(new_shape, numel(), "reshape");
  if (view_strides(shape(), strides(), s)) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  int a = wrap_dim(start, dim(), "flatten"), b = wrap_dim(end, dim(), "flatten");
  ENGINE_CHECK(a <= b, "flatten: start dim {} after end dim {}", start, end);
  Shape s(shape().begin(), shape().begin() + a);
  int64_t m = 1;
  for (int i = a; i <= b; ++i) m *= shape()[i];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + b + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::permute(const std::vector<int>& dims) const {
  ENGINE_CHECK(int(dims.size()) == dim(), "permute: {} dims given for tensor {}", dims.size(),
               desc());
  Shape s(dims.size()), st(dims.size());
  std::vector<int> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int d = wrap_dim(dims[i], dim(), "permute");
    ENGINE_CHECK(inverse[d] < 0, "permute: dim {} repeated in permutation", d);
    inverse[d] = int(i);
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  Tensor out = make_view(*this, s, st, offset());
  autograd::record("permute", {*this}, {&out}, [inverse](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0].permute(inverse)};
  });
  return out;
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int> p(static_cast<size_t>(dim()));
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[wrap_dim(a, dim(), "transpose")], p[wrap_dim(b, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  int dd = wrap_dim(d, dim(), "slice");
  int64_t n = shape()[dd];
  ENGINE_CHECK(step > 0, "slice: step must be positive, got {}", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[dd] = (end - start + step - 1) / step;
  st[dd] *= step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[dd]);
  Shape in_shape = shape();
  autograd::record("slice", {*this}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor gi = Tensor::empty(in_shape, g[0].dtype(), g[0].device()).zero_();
    gi.slice(dd, start, end, step).copy_(g[0]);
    return std::vector<Tensor>{gi};
  });
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  int dd = wrap_dim(d, dim(), "narrow");
  ENGINE_CHECK(start >= 0 && length >= 0 && start + length <= shape()[dd],
               "narrow: [{}, {}) out of range for dim {} of size {} in {}", start, start + length,
               dd, shape()[dd], desc());
  return slice(dd, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  int dd = wrap_dim(d, dim(), "select");
  int64_t n = shape()[dd];
  ENGINE_CHECK(index >= -n && index < n, "select: index {} out of range for dim {} of size {}",
               index, dd, n);
  if (index < 0) index += n;
  return narrow(dd, index, 1).squeeze(dd);
}

Tensor Tensor::expand(const Shape& target) const {
  ENGINE_CHECK(target.size() >= size_t(dim()), "expand: cannot expand {} to fewer dims {}", desc(),
               shape_str(target));
  size_t lead = target.size() - size_t(dim());
  Shape s(target.size()), st(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      ENGINE_CHECK(target[i] >= 0, "expand: size -1 not allowed for new leading dim {}", i);
      s[i] = target[i];
      st[i] = 0;
      continue;
    }
    int64_t cur = shape()[i - lead];
    int64_t want = target[i] == -1 ? cur : target[i];
    ENGINE_CHECK(cur == want || cur == 1, "expand: dim {} of {} cannot become {} (target {})",
                 i - lead, desc(), want, shape_str(target));
    s[i] = want;
    st[i] = cur == want ? strides()[i - lead] : 0;
  }
  Tensor out = make_view(*this, s, st, offset());
  Shape in_shape = shape();
  autograd::record("expand", {*this}, {&out}, [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{sum_to(g[0], in_shape)};
  });
  return out;
}

Tensor Tensor::squeeze(int64_t d) const {
  int dd = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape()[dd] != 1) return *this;
  Shape s = shape();
  s.erase(s.begin() + dd);
  return view(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int dd = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  int64_t new_stride = dd < dim() ? shape()[dd] * strides()[dd] : 1;
  s.insert(s.begin() + dd, 1);
  st.insert(st.begin() + dd, new_stride);
  Tensor out = make_view(*this, s, st, offset());
  autograd::record("unsqueeze", {*this}, {&out}, [dd](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0].squeeze(dd)};
  });
  return out;
}

// ---------------------------------------------------------------- copies

namespace {
// Dense copy of `src` into a new tensor of dtype `dt` on src's device (no autograd).
Tensor dense_copy(const Tensor& src, DType dt) {
  Tensor out = Tensor::empty(src.shape(), dt, src.device());
  if (src.numel() == 0) return out;
  Layout l = make_layout(src.shape(), src.strides());
  if (src.device().is_cpu()) {
    cpu::strided_copy(src.raw_data(), src.dtype(), l, out.raw_data(), dt);
  } else {
#ifdef ENGINE_WITH_CUDA
    cuda::strided_copy(src.raw_data(), src.dtype(), l, out.raw_data(), dt, src.device().index);
#else
    ENGINE_THROW("copy on {}: the engine was built without CUDA", src.device().str());
#endif
  }
  return out;
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = dense_copy(*this, dtype());
  autograd::record("clone", {*this}, {&out},
                   [](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0]}; });
  return out;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype()) return *this;
  Tensor out = dense_copy(*this, dt);
  if (is_floating(dtype()) && is_floating(dt)) {
    DType in_dt = dtype();
    autograd::record("to_dtype", {*this}, {&out}, [in_dt](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{g[0].to(in_dt)};
    });
  }
  return out;
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor src = contiguous();
  Tensor out = Tensor::empty(shape(), dtype(), dev);
#ifdef ENGINE_WITH_CUDA
  size_t n = nbytes();
  if (n > 0) {
    if (dev.is_cuda() && src.device().is_cpu()) {
      cuda::copy_h2d(out.raw_data(), src.raw_data(), n, dev.index);
    } else if (dev.is_cpu() && src.device().is_cuda()) {
      cuda::copy_d2h(out.raw_data(), src.raw_data(), n, src.device().index);
    } else {
      Tensor host = src.to(Device::cpu());
      cuda::copy_h2d(out.raw_data(), host.raw_data(), n, dev.index);
    }
  }
#else
  ENGINE_THROW("to({}): the engine was built without CUDA", dev.str());
#endif
  Device in_dev = device();
  autograd::record("to_device", {*this}, {&out}, [in_dev](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0].to(in_dev)};
  });
  return out;
}

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  if (is_contiguous()) {
    if (device().is_cpu()) {
      cpu::fill(raw_data(), dtype(), numel(), value);
    } else {
#ifdef ENGINE_WITH_CUDA
      cuda::fill(raw_data(), dtype(), numel(), value, device().index);
#endif
    }
    return *this;
  }
  Tensor tmp = Tensor::empty(shape(), dtype(), device());
  tmp.fill_(value);
  return copy_(tmp);
}

Tensor& Tensor::copy_(const Tensor& src_in) {
  check_inplace(*this, "copy_");
  autograd::NoGradGuard guard;
  Tensor src = src_in.expand(shape()).to(device());
  // Write through this tensor's strides: copy into a dense temporary when the destination is
  // not dense, then scattering it element by element (on the host, or on the device).
  if (is_contiguous()) {
    Layout l = make_layout(src.shape(), src.strides());
    if (device().is_cpu()) {
      cpu::strided_copy(src.raw_data(), src.dtype(), l, raw_data(), dtype());
    } else {
#ifdef ENGINE_WITH_CUDA
      cuda::strided_copy(src.raw_data(), src.dtype(), l, raw_data(), dtype(), device().index);
#endif
    }
    return *this;
  }
  Tensor dense = dense_copy(src, dtype());
  Layout dst = make_layout(shape(), strides());
  if (!device().is_cpu()) {
    // On a device the scatter runs there: slice's backward (narrow, select, split, pad's crop)
    // and fill_ of a view write through non-contiguous device tensors.
#ifdef ENGINE_WITH_CUDA
    cuda::strided_scatter(dense.raw_data(), int(dtype_size(dtype())), raw_data(), dst,
                          device().index);
#else
    ENGINE_THROW("copy_ on {}: the engine was built without CUDA", device().str());
#endif
    return *this;
  }
  // Scatter the dense values through our layout: for each row of the innermost dim.
  size_t es = dtype_size(dtype());
  const char* s = static_cast<const char*>(dense.raw_data());
  char* d = static_cast<char*>(raw_data());
  int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) std::memcpy(d + dst.offset_of(i) * es, s + i * es, es);
  return *this;
}

// ---------------------------------------------------------------- autograd accessors

bool Tensor::requires_grad() const {
  return impl().autograd && impl().autograd->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool value) {
  auto& m = impl().autograd;
  ENGINE_CHECK(!(m && m->grad_fn), "set_requires_grad on a non-leaf tensor {} (made by '{}')",
               desc(), m ? m->grad_fn->name() : "");
  ENGINE_CHECK(!value || is_floating(dtype()),
               "set_requires_grad: only floating tensors can require grad, got {}", desc());
  if (!m) m = std::make_shared<autograd::Meta>();
  m->requires_grad = value;
  return *this;
}

Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), offset());
}

bool Tensor::is_leaf() const {
  return !impl().autograd || !impl().autograd->grad_fn;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> none;
  return impl().autograd ? impl().autograd->grad_fn : none;
}

int Tensor::output_nr() const {
  return impl().autograd ? impl().autograd->output_nr : 0;
}

Tensor Tensor::grad() const {
  if (!impl().autograd || !impl().autograd->grad) return Tensor();
  return Tensor(impl().autograd->grad);
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    ENGINE_CHECK(g.shape() == shape(), "set_grad: gradient {} does not match tensor {}", g.desc(),
                 desc());
  if (!impl().autograd) impl().autograd = std::make_shared<autograd::Meta>();
  impl().autograd->grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::zero_grad() {
  if (impl().autograd) impl().autograd->grad = nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  ENGINE_CHECK(requires_grad(), "backward on a tensor that does not require grad ({})", desc());
  Tensor g = gradient;
  if (!g.defined()) {
    ENGINE_CHECK(numel() == 1,
                 "backward without a gradient needs a one-element tensor, got {}; pass the "
                 "gradient explicitly",
                 desc());
    g = Tensor::empty(shape(), dtype(), device()).fill_(1.0);
  }
  ENGINE_CHECK(g.shape() == shape(), "backward: gradient {} does not match tensor {}", g.desc(),
               desc());
  // A gradient on another device would otherwise reach a leaf's .grad() unchecked.
  ENGINE_CHECK(g.device() == device(), "backward: gradient {} is not on the tensor's device ({})",
               g.desc(), desc());
  autograd::run_backward({*this}, {g}, retain_graph);
}

// ---------------------------------------------------------------- printing

std::string Tensor::str(int64_t max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  std::string out = fmt::format("Tensor({}{})\n", desc(), requires_grad() ? ", requires_grad" : "");
  Tensor host = to(Device::cpu());
  std::vector<double> v = host.to_vector<double>();
  Shape shp = shape();
  Shape st = contiguous_strides(shp);
  bool integral = is_integral(dtype());
  // Recursive printer that elides the middle of long dims with "...".
  std::function<void(int, int64_t, int)> rec = [&](int d, int64_t base, int indent) {
    if (d == int(shp.size())) {
      out += integral ? fmt::format("{}", int64_t(v[size_t(base)]))
                      : fmt::format("{:.6g}", v[size_t(base)]);
      return;
    }
    out += "[";
    int64_t n = shp[size_t(d)];
    for (int64_t i = 0; i < n; ++i) {
      if (n > max_per_dim && i == max_per_dim / 2) {
        out += d + 1 == int(shp.size()) ? "..., " : "...,\n" + std::string(size_t(indent + 1), ' ');
        i = n - max_per_dim / 2 - 1;
        continue;
      }
      rec(d + 1, base + i * st[size_t(d)], indent + 1);
      if (i + 1 < n)
        out += d + 1 == int(shp.size()) ? ", " : ",\n" + std::string(size_t(indent + 1), ' ');
    }
    out += "]";
  };
  rec(0, 0, 0);
  return out;
}

#define ENGINE_INSTANTIATE(T)                                                  \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&); \
  template std::vector<T> Tensor::to_vector<T>() const;
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
ENGINE_INSTANTIATE(int32_t)
ENGINE_INSTANTIATE(int64_t)
ENGINE_INSTANTIATE(uint8_t)
#undef ENGINE_INSTANTIATE
template Tensor Tensor::from_vector<bool>(const std::vector<bool>&, const Shape&);

}  // namespace engine
