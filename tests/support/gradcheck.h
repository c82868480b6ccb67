// Finite-difference gradient checks in double precision (STYLE.md, after Caffe).
//
// For f(inputs) -> y, the check compares d(sum(w * y))/dx from autograd with central
// differences (L(x + eps) - L(x - eps)) / (2 eps), for every element of every input that
// requires grad. w is a fixed random tensor, so every output element matters with a different
// weight. Inputs must be f64 and small.
#pragma once

#include <string>
#include <vector>

#include "support/op_table.h"

namespace engine::testing {

struct GradCheckResult {
  bool ok = true;
  double max_abs_err = 0.0;
  std::string message;  // the worst element: input, index, analytic, numeric
};

GradCheckResult gradcheck(const OpFn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-6, double rtol = 1e-5, uint64_t seed = 7);

}  // namespace engine::testing
