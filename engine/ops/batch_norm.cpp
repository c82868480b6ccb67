#include "engine/ops/batch_norm.h"

#include <cmath>
#include <memory>
#include <vector>

#include "engine/kernels/batch_norm.h"
#include "engine/ops/common.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

// One batch-norm call, plain or fused (residual defined: add before the ReLU).
struct BnCall {
  const char* op;
  Tensor x, residual, weight, bias, running_mean, running_var;
  bool training;
  double momentum, eps;
  bool relu;
  int64_t channels = 0, rows = 0;
};

void check_channel_vector(const BnCall& b, const char* arg, const Tensor& t) {
  if (!t.defined()) return;
  ops::check_floating(b.op, arg, t);
  ops::check_same_device(b.op, "x", b.x, arg, t);
  ENGINE_CHECK(t.dim() == 1 && t.size(0) == b.channels,
               "{}: {} {} expects [{}] (the channels of x {}, channels last)", b.op, arg,
               shape_str(t.shape()), b.channels, shape_str(b.x.shape()));
}

void check_call(BnCall& b) {
  const Tensor& x = b.x;
  ops::check_floating(b.op, "x", x);
  ENGINE_CHECK(x.dim() >= 2, "{}: x {} needs at least 2 dims ([..., C], channels last)", b.op,
               shape_str(x.shape()));
  b.channels = x.size(-1);
  b.rows = b.channels == 0 ? 0 : x.numel() / b.channels;
  check_channel_vector(b, "weight", b.weight);
  check_channel_vector(b, "bias", b.bias);
  check_channel_vector(b, "running_mean", b.running_mean);
  check_channel_vector(b, "running_var", b.running_var);
  if (b.weight.defined()) ops::check_same_dtype(b.op, "x", x, "weight", b.weight);
  if (b.bias.defined()) ops::check_same_dtype(b.op, "x", x, "bias", b.bias);
  if (b.residual.defined()) {
    ops::check_same_dtype(b.op, "x", x, "residual", b.residual);
    ops::check_same_device(b.op, "x", x, "residual", b.residual);
    ops::check_same_shape(b.op, "x", x, "residual", b.residual);
  }
  ENGINE_CHECK(b.running_mean.defined() == b.running_var.defined(),
               "{}: running_mean and running_var must be both defined or both undefined", b.op);
  ENGINE_CHECK(b.training || b.running_mean.defined(),
               "{}: eval mode (training = false) needs running_mean and running_var", b.op);
  ENGINE_CHECK(!b.training || b.rows > 1,
               "{}: training needs more than one value per channel, x is {}", b.op,
               shape_str(x.shape()));
  ENGINE_CHECK(b.momentum >= 0.0 && b.momentum <= 1.0, "{}: momentum {} outside [0, 1]", b.op,
               b.momentum);
  ENGINE_CHECK(b.eps > 0.0, "{}: eps {} must be positive", b.op, b.eps);
}

// Per-channel values of an optional [C] tensor, `fallback` where undefined.
std::vector<double> channel_values(const Tensor& t, int64_t C, double fallback) {
  if (!t.defined()) return std::vector<double>(size_t(C), fallback);
  return t.to_vector<double>();
}

Tensor channel_tensor(const std::vector<double>& v, DType dtype, Device device) {
  return Tensor::from_vector<double>(v, {int64_t(v.size())}).to(dtype).to(device);
}

bool wants_grad(const Tensor& t) {
  return t.defined() && t.requires_grad();
}

template <typename T>
Tensor forward_cpu(const BnCall& b) {
  const int64_t C = b.channels, rows = b.rows;
  const bool training = b.training;
  Tensor xc = b.x.contiguous().detach();
  Tensor rc = b.residual.defined() ? b.residual.contiguous().detach() : Tensor();
  std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  if (training) {
    cpu::batch_norm_stats<T>(xc.data<T>(), rows, C, mean.data(), var.data());
    if (b.running_mean.defined()) {
      std::vector<double> rm = b.running_mean.to_vector<double>();
      std::vector<double> rv = b.running_var.to_vector<double>();
      const double unbias = double(rows) / double(rows - 1);
      for (size_t c = 0; c < size_t(C); ++c) {
        rm[c] = (1.0 - b.momentum) * rm[c] + b.momentum * mean[c];
        rv[c] = (1.0 - b.momentum) * rv[c] + b.momentum * var[c] * unbias;
      }
      autograd::NoGradGuard no_grad;
      b.running_mean.detach().copy_(Tensor::from_vector<double>(rm, {C}));
      b.running_var.detach().copy_(Tensor::from_vector<double>(rv, {C}));
    }
  } else {
    mean = b.running_mean.to_vector<double>();
    var = b.running_var.to_vector<double>();
  }

  std::vector<double> gamma = channel_values(b.weight, C, 1.0);
  std::vector<double> beta = channel_values(b.bias, C, 0.0);
  std::vector<double> invstd(static_cast<size_t>(C)), scale(static_cast<size_t>(C)),
      shift(static_cast<size_t>(C));
  for (size_t c = 0; c < size_t(C); ++c) {
    invstd[c] = 1.0 / std::sqrt(var[c] + b.eps);
    scale[c] = gamma[c] * invstd[c];
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  Tensor out = Tensor::empty(b.x.shape(), b.x.dtype(), b.x.device());
  cpu::batch_norm_affine<T>(xc.data<T>(), rc.defined() ? rc.data<T>() : nullptr, rows, C,
                            scale.data(), shift.data(), b.relu, out.data<T>());

  if (!autograd::needs_grad({&b.x, &b.residual, &b.weight, &b.bias})) return out;
  const bool gx = b.x.requires_grad(), gr = wants_grad(b.residual), gw = wants_grad(b.weight),
             gb = wants_grad(b.bias);
  struct Saved {
    std::vector<double> mean, invstd, gamma;
  };
  auto saved = std::make_shared<const Saved>(Saved{mean, invstd, gamma});
  Tensor sx = autograd::save(xc);
  Tensor sy = b.relu ? autograd::save(out) : Tensor();
  DType dtype = b.x.dtype();
  Device device = b.x.device();
  autograd::record(b.op, {b.x, b.residual, b.weight, b.bias}, {&out}, [=](const G& grads) {
    Tensor dy = grads[0].contiguous();
    const T* yp = sy.defined() ? sy.data<T>() : nullptr;
    const Saved& s = *saved;
    std::vector<double> sum_dy(size_t(C), 0.0), sum_dy_xc(size_t(C), 0.0);
    if (gx || gw || gb)
      cpu::batch_norm_backward_reduce<T>(dy.data<T>(), yp, sx.data<T>(), rows, C, s.mean.data(),
                                         sum_dy.data(), sum_dy_xc.data());
    Tensor dx, dres, dw, db;
    if (gx || gr) {
      std::vector<double> a(static_cast<size_t>(C)), bb(size_t(C), 0.0), k(size_t(C), 0.0);
      for (size_t c = 0; c < size_t(C); ++c) {
        a[c] = s.gamma[c] * s.invstd[c];
        if (training) {
          // dx = a * (g - mean(g) - (x - mean) * invstd^2 * mean(g * (x - mean)))
          bb[c] = -a[c] * s.invstd[c] * s.invstd[c] * sum_dy_xc[c] / double(rows);
          k[c] = -a[c] * sum_dy[c] / double(rows) - bb[c] * s.mean[c];
        }
      }
      if (gx) dx = Tensor::empty(sx.shape(), dtype, device);
      if (gr) dres = Tensor::empty(sx.shape(), dtype, device);
      cpu::batch_norm_backward_apply<T>(dy.data<T>(), yp, sx.data<T>(), rows, C, a.data(),
                                        bb.data(), k.data(), gx ? dx.data<T>() : nullptr,
                                        gr ? dres.data<T>() : nullptr);
    }
    if (gw) {
      std::vector<double> v(static_cast<size_t>(C));
      for (size_t c = 0; c < size_t(C); ++c) v[c] = sum_dy_xc[c] * s.invstd[c];
      dw = channel_tensor(v, dtype, device);
    }
    if (gb) db = channel_tensor(sum_dy, dtype, device);
    return G{dx, dres, dw, db};
  });
  return out;
}

#if ENGINE_WITH_CUDA
// A [C] tensor as the CUDA kernels read it: dense f32 (a copy only when it is not already).
Tensor dense_f32(const BnCall& b, const char* arg, const Tensor& t) {
  if (!t.defined()) return Tensor();
  ops::check_dtype(b.op, arg, t, {DType::f32});
  return t.contiguous().detach();
}

// T is float (the only CUDA compute type); a template so that only the CUDA branch of
// dispatch_float instantiates it.
template <typename T>
Tensor forward_cuda(const BnCall& b) {
  const int64_t C = b.channels, rows = b.rows;
  const bool training = b.training;
  const Device device = b.x.device();
  Tensor xc = b.x.contiguous().detach();
  Tensor rc = b.residual.defined() ? b.residual.contiguous().detach() : Tensor();
  Tensor wc = dense_f32(b, "weight", b.weight), bc = dense_f32(b, "bias", b.bias);
  Tensor rm, rv;
  if (b.running_mean.defined()) {
    ops::check_dtype(b.op, "running_mean", b.running_mean, {DType::f32});
    ops::check_dtype(b.op, "running_var", b.running_var, {DType::f32});
    // Training updates the buffers in place, so they must be the dense tensors themselves.
    ENGINE_CHECK(!training || (b.running_mean.is_contiguous() && b.running_var.is_contiguous()),
                 "{}: on CUDA, running_mean and running_var must be contiguous (updated in place)",
                 b.op);
    rm = training ? b.running_mean.detach() : b.running_mean.contiguous().detach();
    rv = training ? b.running_var.detach() : b.running_var.contiguous().detach();
  }
  auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
  Tensor ws = Tensor::empty({cuda::batch_norm_workspace_size(rows, C)}, DType::f32, device);
  Tensor mean = Tensor::empty({C}, DType::f32, device),
         invstd = Tensor::empty({C}, DType::f32, device);
  Tensor scale = Tensor::empty({C}, DType::f32, device),
         shift = Tensor::empty({C}, DType::f32, device);
  cuda::batch_norm_parameters(ptr(xc), rows, C, training, ptr(wc), ptr(bc), ptr(rm), ptr(rv),
                              b.momentum, b.eps, ptr(ws), ptr(mean), ptr(invstd), ptr(scale),
                              ptr(shift));
  Tensor out = Tensor::empty(b.x.shape(), DType::f32, device);
  cuda::batch_norm_forward_apply(ptr(xc), ptr(rc), rows, C, ptr(scale), ptr(shift), b.relu,
                                 ptr(out));

  if (!autograd::needs_grad({&b.x, &b.residual, &b.weight, &b.bias})) return out;
  const bool gx = b.x.requires_grad(), gr = wants_grad(b.residual), gw = wants_grad(b.weight),
             gb = wants_grad(b.bias);
  Tensor sx = autograd::save(xc), sy = b.relu ? autograd::save(out) : Tensor();
  Tensor sw = autograd::save(wc);
  autograd::record(b.op, {b.x, b.residual, b.weight, b.bias}, {&out}, [=](const G& grads) {
    auto p = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
    Tensor dy = grads[0].contiguous();
    Tensor work = Tensor::empty({cuda::batch_norm_workspace_size(rows, C)}, DType::f32, device);
    Tensor dx, dres, dw, db;
    if (gx) dx = Tensor::empty(sx.shape(), DType::f32, device);
    if (gr) dres = Tensor::empty(sx.shape(), DType::f32, device);
    if (gw) dw = Tensor::empty({C}, DType::f32, device);
    if (gb) db = Tensor::empty({C}, DType::f32, device);
    cuda::batch_norm_backward(p(dy), p(sy), p(sx), rows, C, p(mean), p(invstd), p(sw), training,
                              p(work), p(dx), p(dres), p(dw), p(db));
    return G{dx, dres, dw, db};
  });
  return out;
}
#endif

Tensor run(BnCall b) {
  check_call(b);
  return ops::dispatch_float(
      b.op, b.x, [&](auto tag) { return forward_cpu<decltype(tag)>(b); },
      [&](auto tag) {
#if ENGINE_WITH_CUDA
        return forward_cuda<decltype(tag)>(b);
#else
        return Tensor();
#endif
      });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  return run({"batch_norm", x, Tensor(), weight, bias, running_mean, running_var, training,
              momentum, eps, false});
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum, double eps) {
  return run({"batch_norm_relu", x, Tensor(), weight, bias, running_mean, running_var, training,
              momentum, eps, true});
}

Tensor batch_norm_add_relu(const Tensor& x, const Tensor& residual, const Tensor& weight,
                           const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, double momentum, double eps) {
  ops::check_defined("batch_norm_add_relu", "residual", residual);
  return run({"batch_norm_add_relu", x, residual, weight, bias, running_mean, running_var, training,
              momentum, eps, true});
}

}  // namespace engine
