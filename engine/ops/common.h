// What every op needs before it computes: argument checks with messages that name the op, the
// argument and the shapes; dtype and device dispatch; Layout construction.
#pragma once

#include <initializer_list>
#include <vector>

#include "engine/autograd.h"
#include "engine/kernels/layout.h"
#include "engine/kernels/runtime.h"
#include "engine/tensor.h"

namespace engine::ops {

inline Layout layout_of(const Tensor& t) {
  return make_layout(t.shape(), t.strides());
}
// Layout of `t` broadcast (strides 0) to `shape`.
Layout broadcast_layout(const Tensor& t, const Shape& shape);

// The permutation that moves dim `d` last (for ops whose kernels work on the last dim), and
// the inverse of a permutation.
std::vector<int> dim_last_perm(int ndim, int d);
std::vector<int> inverse_perm(const std::vector<int>& p);
// t with dim `d` moved last, dense (no copy for the last dim of a dense tensor); from_rows
// undoes it on a dense result of the same rank. Differentiable (views and copies).
Tensor to_rows(const Tensor& t, int d);
Tensor from_rows(const Tensor& t, int d);

void check_defined(const char* op, const char* arg, const Tensor& t);
// f32 or f64 (CPU compute types); names op, argument and the dtype found.
void check_floating(const char* op, const char* arg, const Tensor& t);
void check_dtype(const char* op, const char* arg, const Tensor& t,
                 std::initializer_list<DType> allowed);
void check_dim(const char* op, const char* arg, const Tensor& t, int ndim);
void check_same_dtype(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                      const Tensor& b);
void check_same_device(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                       const Tensor& b);
void check_same_shape(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                      const Tensor& b);
// Raised for a tensor on a device whose kernel for `op` is not part of this build.
[[noreturn]] void no_kernel(const char* op, const Tensor& t);

// Runs f(T{}) with T = float or double for a CPU floating tensor; errors otherwise (CUDA
// tensors: the CUDA kernels are dispatched by the caller before this).
template <typename F>
decltype(auto) dispatch_cpu_float(const char* op, const Tensor& t, F&& f) {
  if (!t.device().is_cpu()) no_kernel(op, t);
  if (t.dtype() == DType::f64) return f(double{});
  check_floating(op, "input", t);
  return f(float{});
}

// Runs cpu(T{}) with T = float or double for a CPU floating tensor, or cuda(float{}) for an f32
// tensor on a CUDA device, with that device made current and an NVTX range named `op`. Both
// callables must be generic lambdas (`[&](auto tag) {...}`): the CUDA one is then never
// instantiated in a build without CUDA, where a CUDA tensor raises no_kernel instead.
template <typename Cpu, typename Cuda>
decltype(auto) dispatch_float(const char* op, const Tensor& t, Cpu&& cpu, Cuda&& cuda) {
  if (t.device().is_cuda()) {
#if ENGINE_WITH_CUDA
    check_dtype(op, "input", t, {DType::f32});
    engine::cuda::DeviceGuard guard(t.device().index);
    engine::cuda::NvtxRange range(op);
    return cuda(float{});
#else
    no_kernel(op, t);
#endif
  }
  return dispatch_cpu_float(op, t, std::forward<Cpu>(cpu));
}

// The shape of a row-wise op (softmax, l2_normalize and their backwards): moves dim `d` of every
// input last (dense), allocates an output shaped like the first, runs
// kernel(T{}, rows_inputs, out, num_rows, row_length) for f32/f64 on CPU, and moves dim `d`
// back (CPU only in this form). Not recorded by autograd: callers record their own backward.
// With a second generic callable `cuda_kernel`, f32 CUDA tensors run it the same way (through
// dispatch_float: device made current, NVTX range).
template <typename F, typename G>
Tensor for_rows(const char* op, std::initializer_list<Tensor> inputs, int d, F&& kernel,
                G&& cuda_kernel) {
  autograd::NoGradGuard ng;
  std::vector<Tensor> rows;
  for (const Tensor& t : inputs) rows.push_back(to_rows(t, d));
  Tensor out = Tensor::empty(rows[0].shape(), rows[0].dtype(), rows[0].device());
  int64_t cols = rows[0].dim() == 0 ? 1 : rows[0].shape().back();
  if (out.numel() > 0)
    dispatch_float(
        op, rows[0], [&](auto tag) { kernel(tag, rows, out, out.numel() / cols, cols); },
        [&](auto tag) { cuda_kernel(tag, rows, out, out.numel() / cols, cols); });
  return from_rows(out, d);
}
template <typename F>
Tensor for_rows(const char* op, std::initializer_list<Tensor> inputs, int d, F&& kernel) {
  return for_rows(op, inputs, d, std::forward<F>(kernel),
                  [&](auto, const std::vector<Tensor>& rows, Tensor&, int64_t, int64_t) {
                    no_kernel(op, rows[0]);
                  });
}

}  // namespace engine::ops
