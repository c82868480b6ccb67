#include "engine/ops/resize.h"

#include "engine/kernels/resize.h"
#include "engine/ops/common.h"
#include "engine/word_dispatch.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

ResizeDims resize_dims(const char* op, const Tensor& x, int64_t out_h, int64_t out_w) {
  ops::check_defined(op, "x", x);
  ENGINE_CHECK(x.dim() == 4, "{}: x must be NHWC [N, H, W, C], got shape {}", op,
               shape_str(x.shape()));
  ENGINE_CHECK(out_h > 0 && out_w > 0, "{}: output size {}x{} must be positive (x is {})", op,
               out_h, out_w, shape_str(x.shape()));
  ENGINE_CHECK(x.size(1) > 0 && x.size(2) > 0, "{}: x {} has an empty spatial dim", op,
               shape_str(x.shape()));
  return {x.size(0), x.size(1), x.size(2), x.size(3), out_h, out_w};
}

// The two linear maps below are each other's adjoints, so each one's backward is the other.
Tensor bilinear_apply(const Tensor& x, const ResizeDims& d, bool align_corners);
Tensor bilinear_adjoint(const Tensor& g, const ResizeDims& d, bool align_corners);

Tensor bilinear_apply(const Tensor& x, const ResizeDims& d, bool align_corners) {
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty({d.n, d.out_h, d.out_w, d.c}, x.dtype(), x.device());
  ops::dispatch_float(
      "resize_bilinear", x,
      [&](auto tag) {
        using T = decltype(tag);
        if (out.numel() > 0) cpu::resize_bilinear<T>(xc.data<T>(), d, align_corners, out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::resize_bilinear(xc.data<T>(), d, align_corners, out.data<T>());
      });
  autograd::record("resize_bilinear", {x}, {&out},
                   [=](const G& g) { return G{bilinear_adjoint(g[0], d, align_corners)}; });
  return out;
}

Tensor bilinear_adjoint(const Tensor& g, const ResizeDims& d, bool align_corners) {
  Tensor gc = g.contiguous();
  Tensor out = Tensor::empty({d.n, d.in_h, d.in_w, d.c}, g.dtype(), g.device());
  ops::dispatch_float(
      "resize_bilinear_backward", g,
      [&](auto tag) {
        using T = decltype(tag);
        if (out.numel() > 0)
          cpu::resize_bilinear_backward<T>(gc.data<T>(), d, align_corners, out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::resize_bilinear_backward(gc.data<T>(), d, align_corners, out.data<T>());
      });
  autograd::record("resize_bilinear_backward", {g}, {&out},
                   [=](const G& gg) { return G{bilinear_apply(gg[0], d, align_corners)}; });
  return out;
}

Tensor nearest_apply(const Tensor& x, const ResizeDims& d);
Tensor nearest_adjoint(const Tensor& g, const ResizeDims& d);

Tensor nearest_apply(const Tensor& x, const ResizeDims& d) {
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty({d.n, d.out_h, d.out_w, d.c}, x.dtype(), x.device());
  if (x.device().is_cuda()) {
#if ENGINE_WITH_CUDA
    // A bit copy: every dtype (labels included) takes the same kernel.
    cuda::DeviceGuard guard(x.device().index);
    cuda::resize_nearest(xc.raw_data(), int(dtype_size(x.dtype())), d, out.raw_data());
#else
    ops::no_kernel("resize_nearest", x);
#endif
  } else if (!x.device().is_cpu()) {
    ops::no_kernel("resize_nearest", x);
  } else if (out.numel() > 0) {
    dispatch_word(dtype_size(x.dtype()), "resize_nearest", [&](auto tag) {
      using U = decltype(tag);
      cpu::resize_nearest(static_cast<const U*>(xc.raw_data()), d, static_cast<U*>(out.raw_data()));
    });
  }
  autograd::record("resize_nearest", {x}, {&out},
                   [=](const G& g) { return G{nearest_adjoint(g[0], d)}; });
  return out;
}

Tensor nearest_adjoint(const Tensor& g, const ResizeDims& d) {
  Tensor gc = g.contiguous();
  Tensor out = Tensor::empty({d.n, d.in_h, d.in_w, d.c}, g.dtype(), g.device());
  ops::dispatch_float(
      "resize_nearest_backward", g,
      [&](auto tag) {
        using T = decltype(tag);
        if (out.numel() > 0) cpu::resize_nearest_backward<T>(gc.data<T>(), d, out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::resize_nearest_backward(gc.data<T>(), d, out.data<T>());
      });
  autograd::record("resize_nearest_backward", {g}, {&out},
                   [=](const G& gg) { return G{nearest_apply(gg[0], d)}; });
  return out;
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  ResizeDims d = resize_dims("resize_bilinear", x, out_h, out_w);
  ops::check_floating("resize_bilinear", "x", x);
  return bilinear_apply(x, d, align_corners);
}

Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  ResizeDims d = resize_dims("resize_nearest", x, out_h, out_w);
  return nearest_apply(x, d);
}

Tensor resize_nearest_labels(const Tensor& labels, int64_t out_h, int64_t out_w) {
  ops::check_defined("resize_nearest_labels", "labels", labels);
  ENGINE_CHECK(labels.dim() == 3, "resize_nearest_labels: labels must be [N, H, W], got shape {}",
               shape_str(labels.shape()));
  return resize_nearest(labels.unsqueeze(3), out_h, out_w).squeeze(3);
}

}  // namespace engine
