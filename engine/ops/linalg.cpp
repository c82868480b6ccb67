#include "engine/ops/linalg.h"

#include <optional>

#include "engine/kernels/linalg.h"
#include "engine/ops/common.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

// How BLAS can read a [rows, cols] matrix with element strides (s_row, s_col).
struct MatrixAccess {
  bool trans = false;
  int64_t ld = 1;
};

std::optional<MatrixAccess> blas_access(int64_t rows, int64_t cols, int64_t s_row, int64_t s_col) {
  // Strides of size-1 dims never matter; normalise them so degenerate views qualify.
  if (cols == 1) s_col = 1;
  if (rows == 1) s_row = std::max<int64_t>(cols, 1);
  if (s_col == 1 && s_row >= std::max<int64_t>(cols, 1)) return MatrixAccess{false, s_row};
  if (rows == 1 && cols == 1) return MatrixAccess{false, 1};
  if (s_row == 1 && s_col >= std::max<int64_t>(rows, 1)) return MatrixAccess{true, s_col};
  return std::nullopt;
}

// Batch-dim strides of `t` aligned to the broadcast batch shape `batch` (0 where broadcast).
Shape batch_strides(const Tensor& t, const Shape& batch) {
  Shape s(batch.size(), 0);
  int nb = t.dim() - 2;
  int off = int(batch.size()) - nb;
  for (int d = 0; d < nb; ++d)
    if (t.size(d) != 1) s[off + d] = t.stride(d);
  return s;
}

// True when the batch offsets of `l` are i * stride for one stride (0 when broadcast), as
// strided-batched GEMM needs.
bool uniform_batch_stride(const Layout& l, int64_t nbatch, int64_t* stride) {
  *stride = nbatch > 1 ? l.offset_of(1) - l.offset_of(0) : 0;
  for (int64_t i = 2; i < nbatch; ++i)
    if (l.offset_of(i) != i * *stride) return false;
  return l.offset_of(0) == 0;
}

Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
  const char* op = "matmul";
  ops::check_floating(op, "a", a_in);
  ops::check_floating(op, "b", b_in);
  ops::check_same_dtype(op, "a", a_in, "b", b_in);
  ops::check_same_device(op, "a", a_in, "b", b_in);
  ENGINE_CHECK(a_in.dim() >= 2 && b_in.dim() >= 2,
               "matmul: operands need at least 2 dims, got a {} and b {}", shape_str(a_in.shape()),
               shape_str(b_in.shape()));
  int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  ENGINE_CHECK(b_in.size(-2) == k,
               "matmul: inner dims differ: a {} has {} columns, b {} has {} rows",
               shape_str(a_in.shape()), k, shape_str(b_in.shape()), b_in.size(-2));
  Shape ba(a_in.shape().begin(), a_in.shape().end() - 2);
  Shape bb(b_in.shape().begin(), b_in.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul (batch dims)");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape, a_in.dtype(), a_in.device());

  Tensor a = a_in, b = b_in;
  auto acc_a = blas_access(m, k, a.stride(-2), a.stride(-1));
  if (!acc_a) {
    a = a.contiguous();
    acc_a = blas_access(m, k, a.stride(-2), a.stride(-1));
  }
  auto acc_b = blas_access(k, n, b.stride(-2), b.stride(-1));
  if (!acc_b) {
    b = b.contiguous();
    acc_b = blas_access(k, n, b.stride(-2), b.stride(-1));
  }
  Layout la = make_layout(batch, batch_strides(a, batch));
  Layout lb = make_layout(batch, batch_strides(b, batch));
  int64_t nbatch = numel(batch);
  bool b_shared = true;
  for (int d = 0; d < lb.ndim; ++d) b_shared = b_shared && lb.strides[d] == 0;
  auto cpu_kernel = [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    if (nbatch > 1 && b_shared && a.is_contiguous() && ba == batch) {
      // One matrix applied to a dense stack: the stack is a single [batch*M, K] matrix.
      cpu::gemm<T>(false, acc_b->trans, nbatch * m, n, k, T(1), pa, k, pb, acc_b->ld, T(0), pc, n);
      return;
    }
    // Many small products: one per thread (BLAS then runs single-threaded inside the region);
    // large ones: one after the other, each threaded by BLAS.
    const bool per_thread = nbatch > 1 && 2.0 * double(m) * double(n) * double(k) < 4e6;
#pragma omp parallel for schedule(static) if (per_thread)
    for (int64_t i = 0; i < nbatch; ++i) {
      cpu::gemm<T>(acc_a->trans, acc_b->trans, m, n, k, T(1), pa + la.offset_of(i), acc_a->ld,
                   pb + lb.offset_of(i), acc_b->ld, T(0), pc + i * m * n, n);
    }
  };
  auto cuda_kernel = [&](auto tag) {
    using T = decltype(tag);
    // An empty batch has nothing to compute (and Layout::offset_of would divide by its 0 dim).
    if (nbatch == 0) return;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    if (nbatch > 1 && b_shared && a.is_contiguous() && ba == batch) {
      cuda::gemm(false, acc_b->trans, nbatch * m, n, k, T(1), pa, k, pb, acc_b->ld, T(0), pc, n);
      return;
    }
    int64_t sa = 0, sb = 0;
    if (uniform_batch_stride(la, nbatch, &sa) && uniform_batch_stride(lb, nbatch, &sb)) {
      cuda::gemm_strided_batched(acc_a->trans, acc_b->trans, m, n, k, T(1), pa, acc_a->ld, sa, pb,
                                 acc_b->ld, sb, T(0), pc, n, m * n, nbatch);
      return;
    }
    // Broadcast batch dims whose offsets are not one stride apart: one product per matrix.
    for (int64_t i = 0; i < nbatch; ++i) {
      cuda::gemm(acc_a->trans, acc_b->trans, m, n, k, T(1), pa + la.offset_of(i), acc_a->ld,
                 pb + lb.offset_of(i), acc_b->ld, T(0), pc + i * m * n, n);
    }
  };
  ops::dispatch_float(op, a, cpu_kernel, cuda_kernel);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = matmul_forward(a, b);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Shape sa = a.shape(), sb = b.shape();
  Tensor sva = gb ? autograd::save(a) : Tensor();
  Tensor svb = ga ? autograd::save(b) : Tensor();
  autograd::record("matmul", {a, b}, {&out}, [=](const G& g) {
    // The transposes are views that BLAS reads through its trans flags (no copies).
    Tensor da = ga ? sum_to(matmul(g[0], svb.transpose(-2, -1)), sa) : Tensor();
    Tensor db = gb ? sum_to(matmul(sva.transpose(-2, -1), g[0]), sb) : Tensor();
    return G{da, db};
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear";
  ops::check_floating(op, "x", x);
  ops::check_floating(op, "weight", weight);
  ops::check_dim(op, "weight", weight, 2);
  ENGINE_CHECK(x.dim() >= 1, "linear: x must have at least 1 dim, got {}", shape_str(x.shape()));
  ENGINE_CHECK(x.size(-1) == weight.size(1),
               "linear: weight {} expects {} input features, x {} has {}",
               shape_str(weight.shape()), weight.size(1), shape_str(x.shape()), x.size(-1));
  if (bias.defined()) {
    ops::check_dim(op, "bias", bias, 1);
    ENGINE_CHECK(bias.size(0) == weight.size(0),
                 "linear: bias {} must have {} elements (weight {})", shape_str(bias.shape()),
                 weight.size(0), shape_str(weight.shape()));
  }
  // Flattening the leading dims turns the batched product into one large GEMM.
  Shape out_shape = x.shape();
  out_shape.back() = weight.size(0);
  Tensor x2 = x.reshape({-1, x.size(-1)});
  Tensor y = matmul(x2, weight.transpose(0, 1));
  if (bias.defined()) y = add(y, bias);
  return y.reshape(out_shape);
}

}  // namespace engine
