#include "engine/ops/common.h"

#include <fmt/format.h>

namespace engine::ops {

Layout broadcast_layout(const Tensor& t, const Shape& shape) {
  ENGINE_CHECK(shape.size() >= size_t(t.dim()), "broadcast of {} to {}: too few dims", t.desc(),
               shape_str(shape));
  size_t lead = shape.size() - size_t(t.dim());
  Shape st(shape.size(), 0);
  for (size_t i = lead; i < shape.size(); ++i)
    st[i] = t.shape()[i - lead] == shape[i] ? t.strides()[i - lead] : 0;
  return make_layout(shape, st);
}

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

Tensor to_rows(const Tensor& t, int d) {
  if (t.dim() == 0 || d == t.dim() - 1) return t.contiguous();
  return t.permute(dim_last_perm(t.dim(), d)).contiguous();
}

Tensor from_rows(const Tensor& t, int d) {
  if (t.dim() == 0 || d == t.dim() - 1) return t;
  return t.permute(inverse_perm(dim_last_perm(t.dim(), d))).contiguous();
}

void check_defined(const char* op, const char* arg, const Tensor& t) {
  ENGINE_CHECK(t.defined(), "{}: argument '{}' is an undefined tensor", op, arg);
}

void check_floating(const char* op, const char* arg, const Tensor& t) {
  check_defined(op, arg, t);
  ENGINE_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64,
               "{}: argument '{}' must be f32 or f64, got {} (convert bf16/f16 with to(f32))", op,
               arg, t.desc());
}

void check_dtype(const char* op, const char* arg, const Tensor& t,
                 std::initializer_list<DType> allowed) {
  check_defined(op, arg, t);
  for (DType d : allowed)
    if (t.dtype() == d) return;
  std::string names;
  for (DType d : allowed) names += fmt::format("{}{}", names.empty() ? "" : ", ", dtype_name(d));
  ENGINE_THROW("{}: argument '{}' must have dtype in {{{}}}, got {}", op, arg, names, t.desc());
}

void check_dim(const char* op, const char* arg, const Tensor& t, int ndim) {
  check_defined(op, arg, t);
  ENGINE_CHECK(t.dim() == ndim, "{}: argument '{}' must have {} dims, got shape {}", op, arg, ndim,
               shape_str(t.shape()));
}

void check_same_dtype(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                      const Tensor& b) {
  ENGINE_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: '{}' is {} but '{}' is {}", op, arg_a,
               a.desc(), arg_b, b.desc());
}

void check_same_device(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                       const Tensor& b) {
  ENGINE_CHECK(a.device() == b.device(), "{}: device mismatch: '{}' is {} but '{}' is {}", op,
               arg_a, a.desc(), arg_b, b.desc());
}

void check_same_shape(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                      const Tensor& b) {
  ENGINE_CHECK(a.shape() == b.shape(), "{}: shape mismatch: '{}' is {} but '{}' is {}", op, arg_a,
               shape_str(a.shape()), arg_b, shape_str(b.shape()));
}

void no_kernel(const char* op, const Tensor& t) {
  ENGINE_THROW("{}: no kernel for a tensor on {} in this build ({})", op, t.device().str(),
               t.desc());
}

}  // namespace engine::ops
