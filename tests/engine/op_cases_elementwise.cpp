// Op table rows: broadcasting elementwise ops.
#include "engine/ops/elementwise.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase unary_case(const char* name, Tensor (*f)(const Tensor&), Init init) {
  OpCase c;
  c.name = name;
  c.inputs = {{{2, 5, 7, 3}, init}};
  c.fn = [f](const V& x) { return f(x[0]); };
  c.bench_inputs = {{{16, 128, 128, 64}, init}};
  return c;
}

OpCase binary_case(const char* name, Tensor (*f)(const Tensor&, const Tensor&), Shape a, Shape b,
                   Init ia = Init::normal, Init ib = Init::normal) {
  OpCase c;
  c.name = name;
  c.inputs = {{a, ia}, {b, ib}};
  c.fn = [f](const V& x) { return f(x[0], x[1]); };
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  using F1 = Tensor (*)(const Tensor&);
  using F2 = Tensor (*)(const Tensor&, const Tensor&);
  out.push_back(unary_case("neg", static_cast<F1>(neg), Init::normal));
  out.push_back(unary_case("exp", static_cast<F1>(exp), Init::normal));
  out.push_back(unary_case("log", static_cast<F1>(log), Init::positive));
  out.push_back(unary_case("sqrt", static_cast<F1>(sqrt), Init::positive));
  out.push_back(unary_case("rsqrt", static_cast<F1>(rsqrt), Init::positive));
  out.push_back(unary_case("abs", static_cast<F1>(abs), Init::away_from_zero));
  out.push_back(unary_case("relu", static_cast<F1>(relu), Init::away_from_zero));
  out.push_back(unary_case("sigmoid", static_cast<F1>(sigmoid), Init::normal));
  out.push_back(unary_case("tanh", static_cast<F1>(tanh), Init::normal));

  auto add_f = static_cast<F2>(add);
  auto sub_f = static_cast<F2>(sub);
  auto mul_f = static_cast<F2>(mul);
  auto div_f = static_cast<F2>(div);
  auto pow_f = static_cast<F2>(pow);
  out.push_back(binary_case("add/same", add_f, {3, 5, 7}, {3, 5, 7}));
  OpCase add_bias = binary_case("add/nhwc_bias", add_f, {2, 5, 7, 3}, {3});
  add_bias.bench_inputs = {{{16, 128, 128, 64}}, {{64}}};
  out.push_back(add_bias);
  out.push_back(binary_case("add/both_broadcast", add_f, {3, 1, 7}, {5, 1}));
  out.push_back(binary_case("sub/broadcast", sub_f, {4, 1, 3}, {4, 5, 3}));
  OpCase mul_same = binary_case("mul/same", mul_f, {2, 5, 7, 3}, {2, 5, 7, 3});
  mul_same.bench_inputs = {{{16, 128, 128, 64}}, {{16, 128, 128, 64}}};
  out.push_back(mul_same);
  out.push_back(binary_case("mul/broadcast", mul_f, {2, 5, 7, 3}, {2, 1, 1, 3}));
  out.push_back(binary_case("div/broadcast", div_f, {3, 5}, {5}, Init::normal, Init::positive));
  out.push_back(binary_case("pow/tensor", pow_f, {3, 5}, {3, 5}, Init::positive, Init::normal));
  out.push_back(binary_case("maximum", static_cast<F2>(maximum), {3, 5}, {3, 5}, Init::distinct,
                            Init::normal));
  out.push_back(
      binary_case("minimum", static_cast<F2>(minimum), {3, 5}, {5}, Init::distinct, Init::normal));

  OpCase pow_s;
  pow_s.name = "pow/scalar";
  pow_s.inputs = {{{3, 5}, Init::positive}};
  pow_s.fn = [](const V& x) { return pow(x[0], 2.5); };
  out.push_back(pow_s);

  OpCase scalar_ops;
  scalar_ops.name = "scalar_arith";
  scalar_ops.inputs = {{{4, 3}, Init::positive}};
  scalar_ops.fn = [](const V& x) { return (2.0 - x[0]) * 3.0 + 1.0 / x[0] - x[0] / 4.0 + 0.5; };
  out.push_back(scalar_ops);

  OpCase clamp_c;
  clamp_c.name = "clamp";
  clamp_c.inputs = {{{5, 7}, Init::distinct}};  // values on a 0.05 grid never sit on 0.33/-0.41
  clamp_c.fn = [](const V& x) { return clamp(x[0], -0.41, 0.33); };
  out.push_back(clamp_c);

  OpCase where_c;
  where_c.name = "where";
  where_c.inputs = {{{4, 5}, Init::mask, DType::boolean, false}, {{4, 5}}, {{5}}};
  where_c.fn = [](const V& x) { return where(x[0], x[1], x[2]); };
  out.push_back(where_c);

  OpCase mf;
  mf.name = "masked_fill";
  mf.inputs = {{{3, 4, 5}}, {{4, 1}, Init::mask, DType::boolean, false}};
  mf.fn = [](const V& x) { return masked_fill(x[0], x[1], -2.0); };
  out.push_back(mf);
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(elementwise, cases);
}  // namespace engine::testing
