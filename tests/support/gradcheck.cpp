#include "support/gradcheck.h"

#include <fmt/format.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"

namespace engine::testing {

namespace {
double weighted_loss(const OpFn& fn, const std::vector<Tensor>& inputs, const Tensor& w) {
  autograd::NoGradGuard ng;
  return sum(mul(fn(inputs), w)).item();
}
}  // namespace

GradCheckResult gradcheck(const OpFn& fn, const std::vector<Tensor>& inputs, double eps,
                          double atol, double rtol, uint64_t seed) {
  GradCheckResult res;
  for (const Tensor& t : inputs) {
    ENGINE_CHECK(!is_floating(t.dtype()) || t.dtype() == DType::f64,
                 "gradcheck needs f64 floating inputs, got {}", t.desc());
    if (t.requires_grad()) const_cast<Tensor&>(t).zero_grad();
  }
  Tensor y = fn(inputs);
  ENGINE_CHECK(y.dtype() == DType::f64, "gradcheck: op returned {}, expected f64", y.desc());
  Generator gen(seed);
  Tensor w = randn(y.shape(), gen, 0.0, 1.0, DType::f64);
  Tensor loss = sum(mul(y, w));
  if (!loss.requires_grad()) {
    res.ok = false;
    res.message = "output does not require grad";
    return res;
  }
  loss.backward();
  double worst_excess = 0.0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    std::vector<double> analytic =
        g.defined() ? g.to_vector<double>() : std::vector<double>(size_t(x.numel()), 0.0);
    // Perturb the data in place (contiguous f64 leaves) with recording off.
    ENGINE_CHECK(x.is_contiguous(), "gradcheck: input {} must be contiguous", k);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double orig = p[i];
      p[i] = orig + eps;
      double lp = weighted_loss(fn, inputs, w);
      p[i] = orig - eps;
      double lm = weighted_loss(fn, inputs, w);
      p[i] = orig;
      double numeric = (lp - lm) / (2 * eps);
      double a = analytic[size_t(i)];
      double err = std::abs(a - numeric);
      double excess = err - (atol + rtol * std::abs(numeric));
      res.max_abs_err = std::max(res.max_abs_err, err);
      if (excess > worst_excess) {
        worst_excess = excess;
        res.ok = false;
        res.message =
            fmt::format("input {} element {}: analytic {:.10g} vs numeric {:.10g} (err {:.3g})", k,
                        i, a, numeric, err);
      }
    }
  }
  return res;
}

}  // namespace engine::testing
