#include "engine/ops/loss.h"

#include "engine/kernels/loss.h"
#include "engine/ops/common.h"

namespace engine {

namespace {

// Calls f(I{}) with I the target's index type.
template <typename F>
void dispatch_target(const Tensor& target, F&& f) {
  if (target.dtype() == DType::i32)
    f(int32_t{});
  else
    f(int64_t{});
}

void check_loss_args(const char* op, const char* score_arg, const Tensor& scores,
                     const Tensor& target) {
  ops::check_floating(op, score_arg, scores);
  ops::check_dtype(op, "target", target, {DType::i32, DType::i64});
  ops::check_same_device(op, score_arg, scores, "target", target);
  ENGINE_CHECK(scores.dim() >= 2, "{}: {} must be [N, C] or [N, H, W, C] (class last), got {}", op,
               score_arg, shape_str(scores.shape()));
  Shape expect(scores.shape().begin(), scores.shape().end() - 1);
  ENGINE_CHECK(target.shape() == expect,
               "{}: target {} does not match {} {}: the target must have the {}'s shape without "
               "the class dim, {}",
               op, shape_str(target.shape()), score_arg, shape_str(scores.shape()), score_arg,
               shape_str(expect));
  ENGINE_CHECK(scores.shape().back() > 0, "{}: {} {} has no classes", op, score_arg,
               shape_str(scores.shape()));
}

// Output of the loss from the per-row losses and the stats.
Tensor reduce_loss(const Tensor& row_loss, const Shape& target_shape, const LossStats& st,
                   Reduction reduction) {
  if (reduction == Reduction::none) return row_loss.reshape(target_shape);
  double v =
      reduction == Reduction::sum ? st.sum : (st.valid > 0 ? st.sum / double(st.valid) : 0.0);
  return Tensor::empty({}, row_loss.dtype(), row_loss.device()).fill_(v);
}

// Scale of every row's gradient for a scalar loss: g / valid (mean) or g (sum).
double loss_scale(const Tensor& g, int64_t valid, Reduction reduction) {
  if (reduction == Reduction::none) return 1.0;
  if (reduction == Reduction::mean) return valid > 0 ? g.item() / double(valid) : 0.0;
  return g.item();
}

// Reads the offending value through a host copy of that one element (target may be on a device).
[[noreturn]] void bad_target(const char* op, const Tensor& target, int64_t row, int64_t classes,
                             int64_t ignore_index) {
  int64_t value = int64_t(target.reshape({-1}).slice(0, row, row + 1).item());
  ENGINE_THROW(
      "{}: target value {} at flat position {} of target {} is outside [0, {}) and is "
      "not ignore_index {}",
      op, value, row, shape_str(target.shape()), classes, ignore_index);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                     Reduction reduction) {
  const char* op = "cross_entropy";
  check_loss_args(op, "logits", logits, target);
  Tensor x, t;
  {
    autograd::NoGradGuard ng;
    x = logits.contiguous();
    t = target.contiguous();
  }
  int64_t classes = logits.shape().back(), rows = t.numel();
  Tensor row_loss = Tensor::empty({rows}, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({rows}, logits.dtype(), logits.device());
  LossStats st;
  ops::dispatch_float(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_target(t, [&](auto itag) {
          using I = decltype(itag);
          st = cpu::cross_entropy_forward<T, I>(x.data<T>(), t.data<I>(), rows, classes,
                                                ignore_index, row_loss.data<T>(), lse.data<T>());
        });
      },
      [&](auto) {
        dispatch_target(t, [&](auto itag) {
          using I = decltype(itag);
          st = cuda::cross_entropy_forward<I>(x.data<float>(), t.data<I>(), rows, classes,
                                              ignore_index, row_loss.data<float>(),
                                              lse.data<float>());
        });
      });
  if (st.bad_row >= 0) bad_target(op, t, st.bad_row, classes, ignore_index);
  Tensor out = reduce_loss(row_loss, t.shape(), st, reduction);
  Tensor sx = autograd::save(x), st_t = t, slse = lse;
  Shape in_shape = logits.shape();
  int64_t valid = st.valid;
  autograd::record(op, {logits}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor dx = Tensor::empty(in_shape, sx.dtype(), sx.device());
    Tensor gr = reduction == Reduction::none ? g[0].contiguous() : Tensor();
    double scale = loss_scale(g[0], valid, reduction);
    ops::dispatch_float(
        op, sx,
        [&](auto tag) {
          using T = decltype(tag);
          dispatch_target(st_t, [&](auto itag) {
            using I = decltype(itag);
            cpu::cross_entropy_backward<T, I>(sx.data<T>(), st_t.data<I>(), slse.data<T>(),
                                              gr.defined() ? gr.data<T>() : nullptr, T(scale), rows,
                                              classes, ignore_index, dx.data<T>());
          });
        },
        [&](auto) {
          dispatch_target(st_t, [&](auto itag) {
            using I = decltype(itag);
            cuda::cross_entropy_backward<I>(sx.data<float>(), st_t.data<I>(), slse.data<float>(),
                                            gr.defined() ? gr.data<float>() : nullptr, float(scale),
                                            rows, classes, ignore_index, dx.data<float>());
          });
        });
    return std::vector<Tensor>{dx};
  });
  return out;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                Reduction reduction) {
  const char* op = "nll_loss";
  check_loss_args(op, "log_probs", log_probs, target);
  Tensor x, t;
  {
    autograd::NoGradGuard ng;
    x = log_probs.contiguous();
    t = target.contiguous();
  }
  int64_t classes = log_probs.shape().back(), rows = t.numel();
  Tensor row_loss = Tensor::empty({rows}, log_probs.dtype(), log_probs.device());
  LossStats st;
  ops::dispatch_float(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        dispatch_target(t, [&](auto itag) {
          using I = decltype(itag);
          st = cpu::nll_forward<T, I>(x.data<T>(), t.data<I>(), rows, classes, ignore_index,
                                      row_loss.data<T>());
        });
      },
      [&](auto) {
        dispatch_target(t, [&](auto itag) {
          using I = decltype(itag);
          st = cuda::nll_forward<I>(x.data<float>(), t.data<I>(), rows, classes, ignore_index,
                                    row_loss.data<float>());
        });
      });
  if (st.bad_row >= 0) bad_target(op, t, st.bad_row, classes, ignore_index);
  Tensor out = reduce_loss(row_loss, t.shape(), st, reduction);
  Tensor st_t = t;
  Shape in_shape = log_probs.shape();
  DType dt = log_probs.dtype();
  Device dev = log_probs.device();
  int64_t valid = st.valid;
  autograd::record(op, {log_probs}, {&out}, [=](const std::vector<Tensor>& g) {
    Tensor dx = Tensor::empty(in_shape, dt, dev);
    Tensor gr = reduction == Reduction::none ? g[0].contiguous() : Tensor();
    double scale = loss_scale(g[0], valid, reduction);
    ops::dispatch_float(
        op, dx,
        [&](auto tag) {
          using T = decltype(tag);
          dispatch_target(st_t, [&](auto itag) {
            using I = decltype(itag);
            cpu::nll_backward<T, I>(st_t.data<I>(), gr.defined() ? gr.data<T>() : nullptr, T(scale),
                                    rows, classes, ignore_index, dx.data<T>());
          });
        },
        [&](auto) {
          dispatch_target(st_t, [&](auto itag) {
            using I = decltype(itag);
            cuda::nll_backward<I>(st_t.data<I>(), gr.defined() ? gr.data<float>() : nullptr,
                                  float(scale), rows, classes, ignore_index, dx.data<float>());
          });
        });
    return std::vector<Tensor>{dx};
  });
  return out;
}

}  // namespace engine
