// End to end on CPU: a few conv + BatchNorm + ReLU layers trained with SGD (momentum, weight
// decay, poly schedule) on a synthetic pixel-labeling task must label > 95% of held-out pixels
// correctly. The classes are horizontal stripes, vertical stripes and noise background with the
// same mean intensity, so no per-pixel rule separates them: the convolutions must learn spatial
// filters, and every op's backward must be right for the loss to get there.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/sgd.h"

namespace engine {
namespace {

constexpr int64_t kH = 21, kW = 19, kClasses = 3;

struct Batch {
  Tensor images;  // [N, H, W, 1] f32
  Tensor labels;  // [N, H, W] i64
};

Batch make_batch(int64_t n, Generator& gen) {
  std::vector<float> img(size_t(n * kH * kW));
  std::vector<int64_t> lab(size_t(n * kH * kW), 0);
  for (int64_t b = 0; b < n; ++b) {
    float* im = img.data() + b * kH * kW;
    int64_t* lb = lab.data() + b * kH * kW;
    for (int64_t i = 0; i < kH * kW; ++i) im[i] = float((gen.next_double() - 0.5) * 1.2);
    for (int r = 0; r < 2; ++r) {
      int64_t cls = 1 + int64_t(gen.next_below(2));
      int64_t h = 5 + int64_t(gen.next_below(8)), w = 5 + int64_t(gen.next_below(8));
      int64_t y0 = int64_t(gen.next_below(uint64_t(kH - h))),
              x0 = int64_t(gen.next_below(uint64_t(kW - w)));
      for (int64_t y = y0; y < y0 + h; ++y)
        for (int64_t x = x0; x < x0 + w; ++x) {
          bool on = cls == 1 ? (y % 2 == 0) : (x % 2 == 0);
          im[y * kW + x] = (on ? 0.8f : -0.8f) + float((gen.next_double() - 0.5) * 0.3);
          lb[y * kW + x] = cls;
        }
    }
  }
  return {Tensor::from_vector(img, {n, kH, kW, 1}), Tensor::from_vector(lab, {n, kH, kW})};
}

struct ConvBnRelu {
  Tensor weight, gamma, beta, running_mean, running_var;
  Conv2dParams params;

  ConvBnRelu(int64_t cin, int64_t cout, int64_t dilation, Generator& gen) {
    double std = std::sqrt(2.0 / double(9 * cin));
    weight = randn({cout, 3, 3, cin}, gen, 0.0, std).set_requires_grad(true);
    gamma = ones({cout}).set_requires_grad(true);
    beta = zeros({cout}).set_requires_grad(true);
    running_mean = zeros({cout});
    running_var = ones({cout});
    params.padding = {dilation, dilation};
    params.dilation = {dilation, dilation};
  }
  Tensor operator()(const Tensor& x, bool training) const {
    Tensor y = conv2d(x, weight, Tensor(), params);
    return relu(batch_norm(y, gamma, beta, running_mean, running_var, training, 0.1));
  }
};

TEST(EndToEnd, ConvBnReluLearnsPixelLabels) {
  Generator gen(2024);
  std::vector<ConvBnRelu> layers;
  layers.emplace_back(1, 16, 1, gen);
  layers.emplace_back(16, 16, 2, gen);
  layers.emplace_back(16, 16, 1, gen);
  Tensor head_w =
      randn({kClasses, 1, 1, 16}, gen, 0.0, std::sqrt(1.0 / 16)).set_requires_grad(true);
  Tensor head_b = zeros({kClasses}).set_requires_grad(true);

  auto forward = [&](const Tensor& x, bool training) {
    Tensor h = x;
    for (const auto& l : layers) h = l(h, training);
    return conv2d(h, head_w, head_b);
  };

  optim::ParamGroup body{"body"}, head{"head"};
  for (const auto& l : layers) {
    body.params.insert(body.params.end(), {l.weight, l.gamma, l.beta});
  }
  body.weight_decay = 1e-4;
  body.momentum = 0.9;
  head.params = {head_w, head_b};
  head.lr_scale = 2.0;
  head.momentum = 0.9;
  optim::SGD sgd({body, head});
  const int64_t steps = 160;
  optim::PolyLR schedule({.base_lr = 0.05, .max_iters = steps, .power = 0.9, .warmup_iters = 10});

  double first_loss = 0, last_loss = 0;
  for (int64_t it = 0; it < steps; ++it) {
    Batch b = make_batch(8, gen);
    Tensor loss = cross_entropy(forward(b.images, true), b.labels);
    sgd.zero_grad();
    loss.backward();
    sgd.set_lr(schedule(it));
    sgd.step();
    double l = loss.item();
    ASSERT_TRUE(std::isfinite(l)) << "step " << it;
    if (it == 0) first_loss = l;
    last_loss = l;
  }
  EXPECT_LT(last_loss, first_loss * 0.5);

  autograd::NoGradGuard ng;
  Generator test_gen(77);
  Batch test = make_batch(16, test_gen);
  Tensor logits = forward(test.images, false);  // eval mode: running statistics
  std::vector<float> lg = logits.to_vector<float>();
  std::vector<int64_t> lb = test.labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t p = 0; p < lb.size(); ++p) {
    int64_t best = 0;
    for (int64_t c = 1; c < kClasses; ++c)
      if (lg[p * kClasses + size_t(c)] > lg[p * kClasses + size_t(best)]) best = c;
    correct += best == lb[p];
  }
  double accuracy = double(correct) / double(lb.size());
  std::printf("pixel accuracy %.4f, loss %.4f -> %.4f\n", accuracy, first_loss, last_loss);
  EXPECT_GT(accuracy, 0.95);
}

}  // namespace
}  // namespace engine
