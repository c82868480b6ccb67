#include "engine/ops/batch_norm.h"

#include <cmath>
#include <memory>
#include <vector>

#include "engine/kernels/batch_norm.h"
#include "engine/ops/common.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

constexpr const char* kOp = "batch_norm";

void check_channel_vector(const char* arg, const Tensor& t, const Tensor& x, int64_t C) {
  if (!t.defined()) return;
  ops::check_floating(kOp, arg, t);
  ops::check_same_device(kOp, "x", x, arg, t);
  ENGINE_CHECK(t.dim() == 1 && t.size(0) == C,
               "batch_norm: {} {} expects [{}] (the channels of x {}, channels last)", arg,
               shape_str(t.shape()), C, shape_str(x.shape()));
}

// Per-channel values of an optional [C] tensor, `fallback` where undefined.
std::vector<double> channel_values(const Tensor& t, int64_t C, double fallback) {
  if (!t.defined()) return std::vector<double>(size_t(C), fallback);
  return t.to_vector<double>();
}

Tensor channel_tensor(const std::vector<double>& v, DType dtype, Device device) {
  return Tensor::from_vector<double>(v, {int64_t(v.size())}).to(dtype).to(device);
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  ops::check_floating(kOp, "x", x);
  ENGINE_CHECK(x.dim() >= 2, "batch_norm: x {} needs at least 2 dims ([..., C], channels last)",
               shape_str(x.shape()));
  const int64_t C = x.size(-1);
  const int64_t rows = C == 0 ? 0 : x.numel() / C;
  check_channel_vector("weight", weight, x, C);
  check_channel_vector("bias", bias, x, C);
  check_channel_vector("running_mean", running_mean, x, C);
  check_channel_vector("running_var", running_var, x, C);
  if (weight.defined()) ops::check_same_dtype(kOp, "x", x, "weight", weight);
  if (bias.defined()) ops::check_same_dtype(kOp, "x", x, "bias", bias);
  ENGINE_CHECK(running_mean.defined() == running_var.defined(),
               "batch_norm: running_mean and running_var must be both defined or both undefined");
  ENGINE_CHECK(training || running_mean.defined(),
               "batch_norm: eval mode (training = false) needs running_mean and running_var");
  ENGINE_CHECK(!training || rows > 1,
               "batch_norm: training needs more than one value per channel, x is {}",
               shape_str(x.shape()));
  ENGINE_CHECK(momentum >= 0.0 && momentum <= 1.0, "batch_norm: momentum {} outside [0, 1]",
               momentum);
  ENGINE_CHECK(eps > 0.0, "batch_norm: eps {} must be positive", eps);
  if (!x.device().is_cpu()) ops::no_kernel(kOp, x);

  Tensor xc = x.contiguous().detach();
  std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  if (training) {
    ops::dispatch_cpu_float(kOp, xc, [&](auto tag) {
      using T = decltype(tag);
      cpu::batch_norm_stats<T>(xc.data<T>(), rows, C, mean.data(), var.data());
    });
    if (running_mean.defined()) {
      std::vector<double> rm = running_mean.to_vector<double>();
      std::vector<double> rv = running_var.to_vector<double>();
      const double unbias = double(rows) / double(rows - 1);
      for (size_t c = 0; c < size_t(C); ++c) {
        rm[c] = (1.0 - momentum) * rm[c] + momentum * mean[c];
        rv[c] = (1.0 - momentum) * rv[c] + momentum * var[c] * unbias;
      }
      autograd::NoGradGuard no_grad;
      running_mean.detach().copy_(Tensor::from_vector<double>(rm, {C}));
      running_var.detach().copy_(Tensor::from_vector<double>(rv, {C}));
    }
  } else {
    mean = running_mean.to_vector<double>();
    var = running_var.to_vector<double>();
  }

  std::vector<double> gamma = channel_values(weight, C, 1.0);
  std::vector<double> beta = channel_values(bias, C, 0.0);
  std::vector<double> invstd(static_cast<size_t>(C)), scale(static_cast<size_t>(C)),
      shift(static_cast<size_t>(C));
  for (size_t c = 0; c < size_t(C); ++c) {
    invstd[c] = 1.0 / std::sqrt(var[c] + eps);
    scale[c] = gamma[c] * invstd[c];
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  ops::dispatch_cpu_float(kOp, xc, [&](auto tag) {
    using T = decltype(tag);
    cpu::batch_norm_affine<T>(xc.data<T>(), rows, C, scale.data(), shift.data(), out.data<T>());
  });

  if (!autograd::needs_grad({&x, &weight, &bias})) return out;
  bool gx = x.requires_grad(), gw = weight.defined() && weight.requires_grad(),
       gb = bias.defined() && bias.requires_grad();
  struct Saved {
    std::vector<double> mean, invstd, gamma;
  };
  auto saved = std::make_shared<const Saved>(Saved{mean, invstd, gamma});
  Tensor sx = autograd::save(xc);
  DType dtype = x.dtype();
  Device device = x.device();
  autograd::record(kOp, {x, weight, bias}, {&out}, [=](const G& grads) {
    Tensor dy = grads[0].contiguous();
    const Saved& s = *saved;
    std::vector<double> sum_dy(static_cast<size_t>(C)), sum_dy_xc(static_cast<size_t>(C));
    ops::dispatch_cpu_float(kOp, dy, [&](auto tag) {
      using T = decltype(tag);
      cpu::batch_norm_backward_reduce<T>(dy.data<T>(), sx.data<T>(), rows, C, s.mean.data(),
                                         sum_dy.data(), sum_dy_xc.data());
    });
    Tensor dx, dw, db;
    if (gx) {
      std::vector<double> a(static_cast<size_t>(C)), b(size_t(C), 0.0), k(size_t(C), 0.0);
      for (size_t c = 0; c < size_t(C); ++c) {
        a[c] = s.gamma[c] * s.invstd[c];
        if (training) {
          // dx = a * (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean)))
          b[c] = -a[c] * s.invstd[c] * s.invstd[c] * sum_dy_xc[c] / double(rows);
          k[c] = -a[c] * sum_dy[c] / double(rows) - b[c] * s.mean[c];
        }
      }
      dx = Tensor::empty(sx.shape(), dtype, device);
      ops::dispatch_cpu_float(kOp, dy, [&](auto tag) {
        using T = decltype(tag);
        cpu::batch_norm_backward_apply<T>(dy.data<T>(), sx.data<T>(), rows, C, a.data(), b.data(),
                                          k.data(), dx.data<T>());
      });
    }
    if (gw) {
      std::vector<double> v(static_cast<size_t>(C));
      for (size_t c = 0; c < size_t(C); ++c) v[c] = sum_dy_xc[c] * s.invstd[c];
      dw = channel_tensor(v, dtype, device);
    }
    if (gb) db = channel_tensor(sum_dy, dtype, device);
    return G{dx, dw, db};
  });
  return out;
}

}  // namespace engine
