// Op table rows: batch_norm in training (with and without gamma/beta) and eval mode, on NHWC,
// 2-d and 3-d inputs. Running buffers are made inside fn, so repeated calls see the same state.
#include "engine/ops/batch_norm.h"
#include "engine/ops/factory.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase train_case(const char* name, Shape x, bool affine) {
  int64_t C = x.back();
  OpCase c;
  c.name = name;
  c.inputs = {{x}};
  if (affine) c.inputs.push_back({{C}, Init::positive});
  if (affine) c.inputs.push_back({{C}});
  c.fn = [affine](const V& in) {
    int64_t ch = in[0].size(-1);
    Tensor rm = zeros({ch}, in[0].dtype()), rv = ones({ch}, in[0].dtype());
    return batch_norm(in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), rm, rv, true,
                      0.1, 1e-5);
  };
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase train = train_case("train_affine", {2, 7, 9, 3}, true);
  train.bench_inputs = {{{16, 128, 128, 64}}, {{64}, Init::positive}, {{64}}};
  out.push_back(train);
  out.push_back(train_case("train_plain", {3, 11, 5, 4}, false));
  out.push_back(train_case("train_2d", {9, 5}, true));
  out.push_back(train_case("train_3d", {4, 3, 5}, true));

  OpCase no_buffers;
  no_buffers.name = "train_no_running_stats";
  no_buffers.inputs = {{{2, 5, 3, 3}}, {{3}, Init::positive}};
  no_buffers.fn = [](const V& in) {
    return batch_norm(in[0], in[1], Tensor(), Tensor(), Tensor(), true, 3e-4, 1e-5);
  };
  out.push_back(no_buffers);

  OpCase eval;
  eval.name = "eval_affine";
  eval.inputs = {{{2, 7, 9, 3}},
                 {{3}, Init::positive},
                 {{3}},
                 {{3}, Init::normal, DType::f32, false},
                 {{3}, Init::positive, DType::f32, false}};
  eval.fn = [](const V& in) {
    return batch_norm(in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-5);
  };
  eval.bench_inputs = {{{16, 128, 128, 64}},
                       {{64}, Init::positive},
                       {{64}},
                       {{64}, Init::normal, DType::f32, false},
                       {{64}, Init::positive, DType::f32, false}};
  out.push_back(eval);
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(batch_norm, cases);
}  // namespace engine::testing
