// Op table rows: dropout in training (a fresh Generator per call, so the mask repeats) and eval.
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase train;
  train.name = "train_p0.3";
  train.inputs = {{{2, 7, 9, 3}}};
  train.fn = [](const V& x) {
    Generator gen(42, 5);
    return dropout(x[0], 0.3, true, gen);
  };
  train.bench_inputs = {{{16, 128, 128, 64}}};
  out.push_back(train);
  OpCase half;
  half.name = "train_p0.5";
  half.inputs = {{{3, 11, 5, 4}}};
  half.fn = [](const V& x) {
    Generator gen(7);
    return dropout(x[0], 0.5, true, gen);
  };
  out.push_back(half);
  OpCase eval;
  eval.name = "eval";
  eval.inputs = {{{3, 5, 7}}};
  eval.fn = [](const V& x) {
    Generator gen(7);
    return dropout(x[0], 0.5, false, gen) * 2.0;
  };
  out.push_back(eval);
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(dropout, cases);
}  // namespace engine::testing
