// Module registry (names, order, modes, freezing, parameter groups) and the standard layers'
// behaviour (BatchNorm train/eval/frozen, Dropout).
#include <gtest/gtest.h>

#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/bottleneck.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "tests/support/expect_error.h"

namespace layers {
namespace {

using engine::Tensor;

std::vector<std::string> names_of(const NamedTensors& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

TEST(Module, BottleneckNamesFollowTorchvisionOrder) {
  engine::Generator gen(1);
  Bottleneck b({.in_channels = 8, .width = 4, .out_channels = 16, .stride = 2, .downsample = true},
               gen);
  std::vector<std::string> expected{"conv1.weight",
                                    "bn1.weight",
                                    "bn1.bias",
                                    "bn1.running_mean",
                                    "bn1.running_var",
                                    "conv2.weight",
                                    "bn2.weight",
                                    "bn2.bias",
                                    "bn2.running_mean",
                                    "bn2.running_var",
                                    "conv3.weight",
                                    "bn3.weight",
                                    "bn3.bias",
                                    "bn3.running_mean",
                                    "bn3.running_var",
                                    "downsample.0.weight",
                                    "downsample.1.weight",
                                    "downsample.1.bias",
                                    "downsample.1.running_mean",
                                    "downsample.1.running_var"};
  EXPECT_EQ(names_of(b.state_dict()), expected);
  EXPECT_EQ(b.named_parameters().size(), 12u);
  EXPECT_EQ(b.named_buffers().size(), 8u);
  EXPECT_EQ(b.named_parameters("downsample.").size(), 3u);
  EXPECT_EQ(b.find_tensor("conv2.weight").shape(), (engine::Shape{4, 3, 3, 4}));
  EXPECT_FALSE(b.find_tensor("conv9.weight").defined());
  EXPECT_EQ(b.find_module("downsample.1")->type_name(), "BatchNorm2d");
  Tensor y = b.forward(engine::randn({2, 9, 7, 8}, gen));
  EXPECT_EQ(y.shape(), (engine::Shape{2, 5, 4, 16}));
}

TEST(Module, BottleneckWithoutShortcutRejectsChannelChange) {
  engine::Generator gen(1);
  engine::testing::expect_error(
      [&] { Bottleneck b({.in_channels = 8, .width = 4, .out_channels = 16}, gen); },
      "needs a downsample shortcut");
}

class TwoBn : public Module {
 public:
  TwoBn() : Module("TwoBn") {
    a = register_module("a", std::make_shared<BatchNorm2d>(3));
    b = register_module("b", std::make_shared<BatchNorm2d>(3));
  }
  void register_twice() { register_module("a", std::make_shared<BatchNorm2d>(3)); }
  std::shared_ptr<BatchNorm2d> a, b;
};

TEST(Module, DuplicateNamesAreRejected) {
  TwoBn m;
  engine::testing::expect_error([&] { m.register_twice(); }, "registered twice");
}

TEST(Module, TrainEvalIsRecursiveAndChangesBatchNorm) {
  TwoBn m;
  engine::Generator gen(3);
  Tensor x = engine::randn({4, 5, 5, 3}, gen, 2.0, 3.0);
  EXPECT_TRUE(m.is_training() && m.a->is_training());
  Tensor y_train = m.a->forward(x);  // batch statistics: per-channel mean ~0
  EXPECT_NEAR(engine::mean(y_train).item(), 0.0, 1e-5);
  std::vector<float> rm = m.a->running_mean().to_vector<float>();
  EXPECT_GT(rm[0], 0.05f);  // moved towards the batch mean (~2) by momentum 0.1

  m.eval();
  EXPECT_FALSE(m.is_training());
  EXPECT_FALSE(m.b->is_training());
  Tensor y_eval = m.a->forward(x);  // running statistics: the mean stays far from 0
  EXPECT_GT(engine::mean(y_eval).item(), 1.0);
  EXPECT_EQ(m.a->running_mean().to_vector<float>(), rm);  // eval never updates
}

TEST(Module, FrozenBatchNormKeepsRunningStatsInTraining) {
  BatchNorm2d bn(3, {.momentum = 0.5, .frozen_stats = true, .frozen_affine = true});
  engine::Generator gen(4);
  Tensor x = engine::randn({2, 4, 4, 3}, gen, 1.0, 2.0);
  ASSERT_TRUE(bn.is_training());
  Tensor y = bn.forward(x);
  EXPECT_EQ(bn.running_mean().to_vector<float>(), std::vector<float>(3, 0.0f));
  EXPECT_EQ(bn.running_var().to_vector<float>(), std::vector<float>(3, 1.0f));
  // Running stats 0/1 and identity affine: y = x / sqrt(1 + eps).
  EXPECT_NEAR(engine::sum(y).item(), engine::sum(x).item() / std::sqrt(1.0 + 1e-5), 1e-3);
  EXPECT_FALSE(bn.weight().requires_grad());
  EXPECT_FALSE(bn.bias().requires_grad());
  bn.set_frozen_stats(false);
  bn.forward(x);
  EXPECT_NE(bn.running_mean().to_vector<float>(), std::vector<float>(3, 0.0f));
}

TEST(Module, RequiresGradZeroGradAndParamGroups) {
  engine::Generator gen(5);
  Bottleneck b({.in_channels = 4, .width = 2, .out_channels = 8, .downsample = true}, gen);
  Tensor y = engine::sum(b.forward(engine::randn({1, 3, 3, 4}, gen)));
  y.backward();
  EXPECT_TRUE(b.conv1->weight().grad().defined());
  b.zero_grad();
  EXPECT_FALSE(b.conv1->weight().grad().defined());

  b.downsample->set_requires_grad(false);
  auto group = make_param_group(
      b, "biases", [](const std::string& n) { return n.ends_with(".bias"); }, 2.0, 0.0, "blk.");
  EXPECT_EQ(group.name, "biases");
  EXPECT_EQ(group.lr_scale, 2.0);
  // bn1, bn2, bn3 betas; downsample.1.bias is frozen.
  EXPECT_EQ(group.param_names,
            (std::vector<std::string>{"blk.bn1.bias", "blk.bn2.bias", "blk.bn3.bias"}));
  EXPECT_EQ(group.params.size(), 3u);
}

TEST(Layers, DropoutIsIdentityInEvalAndDropsInTraining) {
  Dropout d(0.5, 7);
  Tensor x = engine::ones({1000});
  Tensor y = d.forward(x);
  double kept = engine::sum(y).item() / 2.0;  // kept elements are scaled to 2
  EXPECT_GT(kept, 400);
  EXPECT_LT(kept, 600);
  d.eval();
  EXPECT_TRUE(d.forward(x).same(x));
}

TEST(Layers, ConvChecksInputChannels) {
  engine::Generator gen(1);
  Conv2d c({.in_channels = 3, .out_channels = 4, .kernel = 3, .padding = 1}, gen);
  EXPECT_EQ(c.forward(engine::zeros({1, 5, 6, 3})).shape(), (engine::Shape{1, 5, 6, 4}));
  engine::testing::expect_error(
      [&] {
        c.forward(engine::zeros({1, 5, 6, 2}));
      },
      "expected input [N, H, W, 3]");
}

}  // namespace
}  // namespace layers
