// Op table rows: batch_norm in training (with and without gamma/beta) and eval mode, on NHWC,
// 2-d and 3-d inputs, and the fused batch_norm_relu / batch_norm_add_relu. Running buffers are
// made inside fn (on the input's device), so repeated calls see the same state. The fused rows
// use a positive bias of about 0.3 (plus a residual away from zero) so that no output sits
// within the finite-difference step of the ReLU kink.
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
    Tensor rm = zeros({ch}, in[0].dtype(), in[0].device());
    Tensor rv = ones({ch}, in[0].dtype(), in[0].device());
    return batch_norm(in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), rm, rv, true,
                      0.1, 1e-5);
  };
  return c;
}

// relu(bn(x)) or relu(bn(x) + residual); inputs: x, [residual], weight, bias, and for eval
// running_mean, running_var.
OpCase fused_case(const char* name, Shape x, bool residual, bool training) {
  int64_t C = x.back();
  OpCase c;
  c.name = name;
  c.inputs = {{x, Init::distinct}};
  if (residual) c.inputs.push_back({x, Init::away_from_zero});
  c.inputs.push_back({{C}, Init::positive});
  c.inputs.push_back({{C}, Init::uniform, DType::f32, true, 0.2, 0.4});
  if (!training) {
    c.inputs.push_back({{C}, Init::normal, DType::f32, false});
    c.inputs.push_back({{C}, Init::positive, DType::f32, false});
  }
  c.fn = [residual, training](const V& in) {
    size_t p = residual ? 2 : 1;
    const Tensor& x = in[0];
    int64_t ch = x.size(-1);
    Tensor rm = training ? zeros({ch}, x.dtype(), x.device()) : in[p + 2];
    Tensor rv = training ? ones({ch}, x.dtype(), x.device()) : in[p + 3];
    if (residual)
      return batch_norm_add_relu(x, in[1], in[p], in[p + 1], rm, rv, training, 0.1, 1e-5);
    return batch_norm_relu(x, in[p], in[p + 1], rm, rv, training, 0.1, 1e-5);
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

  OpCase relu_train = fused_case("relu_train", {2, 5, 3, 3}, false, true);
  relu_train.bench_inputs = {{{16, 128, 128, 64}}, {{64}, Init::positive}, {{64}}};
  out.push_back(relu_train);
  out.push_back(fused_case("relu_eval", {3, 3, 5, 5}, false, false));
  out.push_back(fused_case("relu_train_2d", {7, 5}, false, true));
  OpCase add_relu_train = fused_case("add_relu_train", {2, 3, 5, 3}, true, true);
  add_relu_train.bench_inputs = {
      {{16, 128, 128, 64}}, {{16, 128, 128, 64}}, {{64}, Init::positive}, {{64}}};
  out.push_back(add_relu_train);
  out.push_back(fused_case("add_relu_eval", {3, 5, 3, 5}, true, false));
  out.push_back(fused_case("add_relu_train_vec4", {3, 3, 3, 8}, true, true));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(batch_norm, cases);
}  // namespace engine::testing
