// SGD against hand-computed updates (plain, momentum, dampening, Nesterov, weight decay, groups
// with different learning rates), state save/restore, errors, and convergence on a tiny
// least-squares problem driven by the poly schedule.
#include "engine/optim/sgd.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/optim/lr_schedule.h"

namespace engine::optim {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

template <typename T>
Tensor param(const std::vector<T>& v) {
  Tensor t = Tensor::from_vector<T>(v, {int64_t(v.size())});
  t.set_requires_grad(true);
  return t;
}

template <typename T>
void set_grad(const Tensor& p, const std::vector<T>& g) {
  Tensor gt = Tensor::from_vector<T>(g, p.shape());
  const_cast<Tensor&>(p).set_grad(gt);
}

template <typename T>
class SgdTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SgdTyped, FloatTypes);

// Runs `steps` steps with a constant gradient on a one-group optimizer and returns p after each.
template <typename T>
std::vector<std::vector<double>> run(ParamGroup g, double lr, std::vector<T> p0,
                                     std::vector<T> grad, int steps) {
  Tensor p = param<T>(p0);
  g.params = {p};
  SGD opt({g}, lr);
  std::vector<std::vector<double>> out;
  for (int s = 0; s < steps; ++s) {
    set_grad<T>(p, grad);
    opt.step();
    out.push_back(p.template to_vector<double>());
  }
  return out;
}

template <typename T>
void expect_steps(const std::vector<std::vector<double>>& got,
                  const std::vector<std::vector<double>>& want) {
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < want.size(); ++s)
    for (size_t i = 0; i < want[s].size(); ++i)
      EXPECT_NEAR(got[s][i], want[s][i], tol) << "step " << s + 1 << " element " << i;
}

TYPED_TEST(SgdTyped, PlainWithWeightDecay) {
  using T = TypeParam;
  // d = g + 0.1 p; p -= 0.5 d.  p = 2: d = 1.2, p = 1.4; then d = 1.14, p = 0.83.
  //                             p = -1: d = 0.4, p = -1.2; then d = 0.38, p = -1.39.
  auto got = run<T>({.name = "g", .weight_decay = 0.1}, 0.5, {2, -1}, {1, 0.5}, 2);
  expect_steps<T>(got, {{1.4, -1.2}, {0.83, -1.39}});
}

TYPED_TEST(SgdTyped, Momentum) {
  using T = TypeParam;
  // buf: 1, 1.9, 2.71; p: 0.9, 0.71, 0.439.
  auto got = run<T>({.name = "g", .momentum = 0.9}, 0.1, {1}, {1}, 3);
  expect_steps<T>(got, {{0.9}, {0.71}, {0.439}});
}

TYPED_TEST(SgdTyped, Nesterov) {
  using T = TypeParam;
  // buf: 1, 1.9, 2.71; d = 1 + 0.9 buf: 1.9, 2.71, 3.439; p: 0.81, 0.539, 0.1951.
  auto got = run<T>({.name = "g", .momentum = 0.9, .nesterov = true}, 0.1, {1}, {1}, 3);
  expect_steps<T>(got, {{0.81}, {0.539}, {0.1951}});
}

TYPED_TEST(SgdTyped, MomentumWithWeightDecay) {
  using T = TypeParam;
  // step 1: d = 0.5 + 0.1*2 = 0.7, buf = 0.7, p = 1.93
  // step 2: d = 0.5 + 0.193 = 0.693, buf = 0.35 + 0.693 = 1.043, p = 1.8257
  auto got = run<T>({.name = "g", .weight_decay = 0.1, .momentum = 0.5}, 0.1, {2}, {0.5}, 2);
  expect_steps<T>(got, {{1.93}, {1.8257}});
}

TYPED_TEST(SgdTyped, DampeningSparesTheFirstStep) {
  using T = TypeParam;
  // buf: 1 (first step undampened), 0.9 + 0.5 = 1.4, 1.26 + 0.5 = 1.76; p: -1, -2.4, -4.16.
  auto got = run<T>({.name = "g", .momentum = 0.9, .dampening = 0.5}, 1.0, {0}, {1}, 3);
  expect_steps<T>(got, {{-1}, {-2.4}, {-4.16}});
}

TYPED_TEST(SgdTyped, LargeParameterTakesTheParallelPathWithTheSameResult) {
  using T = TypeParam;
  const int64_t n = 300007;  // above the OpenMP threshold (2^18)
  std::vector<T> p0(n), g(n);
  for (int64_t i = 0; i < n; ++i) {
    p0[i] = T(std::sin(0.001 * double(i)));
    g[i] = T(std::cos(0.003 * double(i)));
  }
  auto got = run<T>({.name = "g", .weight_decay = 1e-3, .momentum = 0.9, .nesterov = true}, 0.05,
                    p0, g, 2);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (int64_t i = 0; i < n; i += 2999) {
    double p = double(p0[i]), gi = double(g[i]);
    double d = gi + 1e-3 * p, buf = d;
    p -= 0.05 * (d + 0.9 * buf);
    d = gi + 1e-3 * p;
    buf = 0.9 * buf + d;
    p -= 0.05 * (d + 0.9 * buf);
    EXPECT_NEAR(got[1][i], p, tol) << i;
  }
}

TEST(Sgd, GroupsExpressTheSpmlRecipe) {
  // SPML: head at 10x LR, backbone weights x1 with weight decay, BN beta x2 without; the frozen
  // stem is not in the optimizer.
  Tensor head = param<float>({1, 1}), backbone = param<float>({1}), bn_beta = param<float>({1});
  Tensor stem = param<float>({1});
  SGD opt({{.name = "head", .params = {head}, .lr_scale = 10},
           {.name = "backbone", .params = {backbone}, .weight_decay = 0.5},
           {.name = "bn_beta", .params = {bn_beta}, .lr_scale = 2}},
          0.1);
  EXPECT_DOUBLE_EQ(opt.group_lr(0), 1.0);
  EXPECT_DOUBLE_EQ(opt.group_lr(1), 0.1);
  EXPECT_DOUBLE_EQ(opt.group_lr(2), 0.2);
  for (Tensor* p : {&head, &backbone, &bn_beta, &stem})
    set_grad<float>(*p, std::vector<float>(size_t(p->numel()), 1.0f));
  opt.step();
  EXPECT_EQ(head.to_vector<float>(), (std::vector<float>{0, 0}));
  EXPECT_FLOAT_EQ(backbone.to_vector<float>()[0], 0.85f);  // 1 - 0.1 * (1 + 0.5)
  EXPECT_FLOAT_EQ(bn_beta.to_vector<float>()[0], 0.8f);
  EXPECT_EQ(stem.to_vector<float>()[0], 1.0f);

  opt.set_lr(0.01);
  EXPECT_DOUBLE_EQ(opt.group_lr(0), 0.1);
  opt.step();
  EXPECT_FLOAT_EQ(head.to_vector<float>()[0], -0.1f);
}

TEST(Sgd, SkipsParametersWithoutGradientAndZeroGradDropsThem) {
  Tensor a = param<double>({1}), b = param<double>({1});
  SGD opt({{.name = "all", .params = {a, b}, .momentum = 0.9}}, 1.0);
  set_grad<double>(a, {0.5});
  opt.step();
  EXPECT_EQ(a.to_vector<double>()[0], 0.5);
  EXPECT_EQ(b.to_vector<double>()[0], 1.0);
  EXPECT_EQ(opt.state().size(), 1u) << "b never had a gradient, so it has no buffer";
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  opt.step();
  EXPECT_EQ(a.to_vector<double>()[0], 0.5);
}

TEST(Sgd, StepsGradientsFromBackward) {
  Tensor w = param<double>({1, 2, 3});
  SGD opt({{.name = "w", .params = {w}}}, 0.25);
  sum(mul(w, w)).backward();  // grad = 2w
  opt.step();
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{0.5, 1, 1.5}));
  EXPECT_FALSE(w.grad_fn()) << "the update must not be recorded";
}

TEST(Sgd, StateRestoresMomentumExactly) {
  auto make = [](Tensor& a, Tensor& b) {
    a = param<float>({1, 2, 3});
    b = param<float>({-1});
    return SGD({{.name = "x", .params = {a}, .param_names = {"layer.weight"}, .momentum = 0.9},
                {.name = "y",
                 .params = {b},
                 .param_names = {"layer.bias"},
                 .momentum = 0.5,
                 .nesterov = true}},
               0.1);
  };
  Tensor a1, b1, a2, b2;
  SGD o1 = make(a1, b1);
  for (int s = 0; s < 2; ++s) {
    set_grad<float>(a1, {0.5f, -1.0f, 2.0f});
    set_grad<float>(b1, {3.0f});
    o1.step();
  }
  auto state = o1.state();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "layer.weight");
  EXPECT_EQ(state[1].first, "layer.bias");

  // Through a checkpoint file, as training does.
  std::string path = (std::filesystem::temp_directory_path() /
                      ("sgd_state_" + std::to_string(::getpid()) + ".safetensors"))
                         .string();
  io::save_safetensors(path, state);
  auto loaded = io::load_safetensors(path).tensors;
  std::filesystem::remove(path);

  SGD o2 = make(a2, b2);
  a2.detach().copy_(a1.detach());
  b2.detach().copy_(b1.detach());
  o2.load_state(loaded);
  for (auto [o, a, b] : {std::tuple{&o1, a1, b1}, std::tuple{&o2, a2, b2}}) {
    set_grad<float>(a, {1.0f, 1.0f, -1.0f});
    set_grad<float>(b, {-2.0f});
    o->step();
  }
  EXPECT_EQ(a1.to_vector<float>(), a2.to_vector<float>());
  EXPECT_EQ(b1.to_vector<float>(), b2.to_vector<float>());
}

TEST(Sgd, LoadStateRejectsMismatches) {
  Tensor a = param<float>({1, 2});
  Tensor c = param<float>({1});
  SGD opt({{.name = "m", .params = {a}, .param_names = {"w"}, .momentum = 0.9},
           {.name = "plain", .params = {c}, .param_names = {"c"}}},
          0.1);
  auto msg = error_of([&] { opt.load_state({{"v", Tensor::from_vector<float>({1, 2}, {2})}}); });
  EXPECT_NE(msg.find("'v' is not a parameter of this optimizer (parameters: c, w)"),
            std::string::npos)
      << msg;
  msg = error_of([&] { opt.load_state({{"w", Tensor::from_vector<float>({1, 2, 3}, {3})}}); });
  EXPECT_NE(msg.find("buffer 'w' is [3] f32 cpu but the parameter is [2] f32 cpu"),
            std::string::npos)
      << msg;
  msg = error_of([&] { opt.load_state({{"c", Tensor::from_vector<float>({1}, {1})}}); });
  EXPECT_NE(msg.find("group 'plain' has momentum 0"), std::string::npos) << msg;
  // A buffer saved in f64 is converted to the parameter's f32.
  opt.load_state({{"w", Tensor::from_vector<double>({0.5, 0.25}, {2})}});
  EXPECT_EQ(opt.state()[0].second.dtype(), DType::f32);
}

TEST(Sgd, ConstructorRejectsBadGroups) {
  Tensor a = param<float>({1});
  auto expect = [](const std::function<void()>& f, const std::string& part) {
    std::string msg = error_of(f);
    EXPECT_NE(msg.find(part), std::string::npos) << "\"" << msg << "\" lacks \"" << part << "\"";
  };
  expect([&] { SGD({{.name = "n", .params = {a}, .nesterov = true}}); },
         "group 'n' uses nesterov, which needs momentum > 0");
  expect([&] { SGD({{.name = "g", .params = {a}, .weight_decay = -1}}); },
         "group 'g' weight_decay must be finite and >= 0");
  expect(
      [&] {
        SGD({{.name = "x", .params = {a}}, {.name = "y", .params = {a}}});
      },
      "appears in more than one place");
  expect(
      [&] {
        SGD({{.name = "x", .params = {}}, {.name = "x", .params = {}}});
      },
      "duplicate group name 'x'");
  expect([&] { SGD({{.name = "i", .params = {Tensor::from_vector<int32_t>({1}, {1})}}}); },
         "must be f32 or f64");
  expect(
      [&] {
        SGD({{.name = "k", .params = {a}, .param_names = {"p", "q"}}});
      },
      "has 1 params but 2 param_names");
  expect([&] { SGD({{.name = "k", .params = {a}}}, -0.1); }, "learning rate must be finite");
  Tensor nc = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}).transpose(0, 1);
  expect([&] { SGD({{.name = "t", .params = {nc}}}); }, "must be contiguous");
}

TEST(Sgd, SolvesATinyLeastSquaresProblem) {
  // min_x mean((A x - b)^2) with A [23, 3], b = A x_true: a unique minimum at x_true.
  Generator gen(7);
  Tensor A = randn({23, 3}, gen, 0.0, 1.0, DType::f64);
  Tensor x_true = Tensor::from_vector<double>({0.5, -1.25, 2.0}, {3});
  Tensor b = sum(mul(A, x_true), {1});
  Tensor x = zeros({3}, DType::f64).set_requires_grad(true);
  SGD opt({{.name = "x", .params = {x}, .momentum = 0.9, .nesterov = true}});
  PolyLR schedule({.base_lr = 0.1, .max_iters = 300, .power = 0.9, .warmup_iters = 10});
  double first_loss = 0, loss_value = 0;
  for (int64_t it = 0; it < 300; ++it) {
    opt.set_lr(schedule(it));
    opt.zero_grad();
    Tensor r = sub(sum(mul(A, x), {1}), b);
    Tensor loss = mean(mul(r, r));
    loss.backward();
    loss_value = loss.item();
    if (it == 0) first_loss = loss_value;
    opt.step();
  }
  EXPECT_LT(loss_value, 1e-12 * first_loss);
  std::vector<double> got = x.to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[i], x_true.to_vector<double>()[i], 1e-6);
}

}  // namespace
}  // namespace engine::optim
