// Embedding models (DeepLab-v2 ASPP, PSPNet), the softmax classifier head, SPML's parameter
// groups, and a tiny DeepLab that must overfit one batch.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/optim/sgd.h"
#include "models/deeplab_aspp.h"
#include "models/embedding_model.h"
#include "models/pspnet_ppm.h"
#include "tests/support/expect_error.h"

namespace models {
namespace {

using engine::Shape;
using engine::Tensor;

ResNetConfig tiny_backbone(int os = 8) {
  return {.blocks = {1, 1, 1, 1}, .stem = Stem::deep, .output_stride = os, .width = 4};
}

void expect_unit_rows(const Tensor& e) {
  Tensor norms = engine::sum(e * e, {-1});
  for (float v : norms.to_vector<float>()) ASSERT_NEAR(v, 1.0f, 1e-4f);
}

TEST(EmbeddingModel, DeepLabShapesNamesAndNormalization) {
  EmbeddingModel m({.backbone = tiny_backbone(), .embedding_dim = 6});
  EXPECT_EQ(m.head_name(), "aspp");
  EXPECT_EQ(m.find_tensor("aspp.aspp_4.0.weight").shape(), (Shape{6, 3, 3, 128}));
  EXPECT_EQ(m.find_tensor("aspp.aspp_1.0.bias").shape(), (Shape{6}));
  EXPECT_TRUE(m.find_tensor("backbone.conv1.0.weight").defined());
  engine::Generator gen(1);
  auto out = m.forward(engine::randn({2, 33, 45, 3}, gen));
  // 33x45 -> stem 9x12 (stride 4) -> res5 5x6 (stride 8) -> x2 = 10x12.
  EXPECT_EQ(out.features.layer4.shape(), (Shape{2, 5, 6, 128}));
  EXPECT_EQ(out.raw.shape(), (Shape{2, 10, 12, 6}));
  EXPECT_EQ(out.embedding.shape(), (Shape{2, 10, 12, 6}));
  expect_unit_rows(out.embedding);
}

TEST(EmbeddingModel, PspnetShapesAndNames) {
  EmbeddingModel m({.backbone = tiny_backbone(),
                    .head = HeadKind::pspnet_ppm,
                    .embedding_dim = 5,
                    .psp_width = 8});
  EXPECT_EQ(m.head_name(), "pspp");
  EXPECT_EQ(m.find_tensor("pspp.0.pspp_3.1.weight").shape(), (Shape{8, 1, 1, 128}));
  EXPECT_EQ(m.find_tensor("pspp.0.pspp_4.2.running_mean").shape(), (Shape{8}));
  EXPECT_EQ(m.find_tensor("pspp.0.conv.0.weight").shape(), (Shape{8, 3, 3, 128 + 4 * 8}));
  EXPECT_EQ(m.find_tensor("pspp.1.bias").shape(), (Shape{5}));
  engine::Generator gen(2);
  auto out = m.forward(engine::randn({2, 41, 27, 3}, gen));
  // 41x27 -> 11x7 -> res5 6x4 -> 12x8.
  EXPECT_EQ(out.embedding.shape(), (Shape{2, 12, 8, 5}));
  expect_unit_rows(out.embedding);
  // One image has a single value per channel in the 1x1 bin: batch statistics need more (as in
  // PyTorch); running statistics work.
  engine::testing::expect_error(
      [&] {
        m.forward(engine::randn({1, 41, 27, 3}, gen));
      },
      "training needs more than one value per channel");
  m.eval();
  EXPECT_EQ(m.forward(engine::randn({1, 41, 27, 3}, gen)).embedding.shape(), (Shape{1, 12, 8, 5}));
}

TEST(EmbeddingModel, FullSizeFactoriesHaveSpmlStructure) {
  // Zero init (random init of 45M values takes seconds); only structure is checked.
  auto d = deeplab_v2_resnet101(64, 1, false);
  EXPECT_EQ(d->find_tensor("aspp.aspp_1.0.weight").shape(), (Shape{64, 3, 3, 2048}));
  EXPECT_EQ(d->backbone().config().output_stride, 8);
  EXPECT_EQ(d->backbone().config().stem, Stem::deep);
  auto p = pspnet_resnet101(32, 1, false);
  EXPECT_EQ(p->find_tensor("pspp.0.conv.0.weight").shape(), (Shape{512, 3, 3, 4096}));
  EXPECT_EQ(p->find_tensor("pspp.1.weight").shape(), (Shape{32, 1, 1, 512}));
}

TEST(SoftmaxClassifier, NamesAndShapes) {
  SoftmaxClassifier c(8, 21, 0.65, 3);
  std::vector<std::string> names;
  for (auto& [n, t] : c.state_dict()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "semantic_classifier.0.weight", "semantic_classifier.1.weight",
                       "semantic_classifier.1.bias", "semantic_classifier.1.running_mean",
                       "semantic_classifier.1.running_var", "semantic_classifier.4.weight",
                       "semantic_classifier.4.bias"}));
  EXPECT_EQ(c.find_tensor("semantic_classifier.0.weight").shape(), (Shape{16, 3, 3, 8}));
  engine::Generator gen(4);
  EXPECT_EQ(c.forward(engine::randn({2, 7, 9, 8}, gen)).shape(), (Shape{2, 7, 9, 21}));
  EXPECT_DOUBLE_EQ(c.dropout().p(), 0.65);
}

TEST(SpmlParamGroups, RecipeScalesAndFreezing) {
  EmbeddingModel m({.backbone = tiny_backbone(), .embedding_dim = 4});
  auto groups = spml_param_groups(m, {.weight_decay = 1e-3, .momentum = 0.9});
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].name, "backbone_weight");
  EXPECT_EQ(groups[0].lr_scale, 1.0);
  EXPECT_EQ(groups[0].weight_decay, 1e-3);
  EXPECT_EQ(groups[1].name, "backbone_bias");
  EXPECT_EQ(groups[1].lr_scale, 2.0);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(groups[2].lr_scale, 10.0);
  EXPECT_EQ(groups[3].lr_scale, 20.0);
  EXPECT_EQ(groups[3].weight_decay, 0.0);
  for (const auto& g : groups) {
    EXPECT_EQ(g.momentum, 0.9);
    for (const auto& n : g.param_names) {
      EXPECT_FALSE(n.starts_with("backbone.conv1.") || n.starts_with("backbone.bn1.") ||
                   n.starts_with("backbone.layer1."))
          << n;
    }
  }
  // Head: 4 branch weights, 4 biases. Backbone betas: 3 stages x (3 + 1 downsample) BNs.
  EXPECT_EQ(groups[2].params.size(), 4u);
  EXPECT_EQ(groups[3].params.size(), 4u);
  EXPECT_EQ(groups[1].params.size(), 12u);
  EXPECT_EQ(groups[1].param_names[0], "backbone.layer2.0.bn1.bias");
  EXPECT_FALSE(m.find_tensor("backbone.layer1.0.conv1.weight").requires_grad());
  EXPECT_FALSE(m.find_tensor("backbone.conv1.1.bias").requires_grad());
  EXPECT_TRUE(m.find_tensor("backbone.layer2.0.conv1.weight").requires_grad());
  engine::optim::SGD sgd(groups, 0.01);  // the groups are valid for the optimizer
  EXPECT_DOUBLE_EQ(sgd.group_lr(3), 0.2);
}

// A tiny DeepLab + classifier head learns a fixed labeling of one batch: the loss must fall by
// at least 10x within 40 SGD steps (forward, backward and update through every layer).
TEST(EmbeddingModel, TinyDeepLabOverfitsOneBatch) {
  auto t0 = std::chrono::steady_clock::now();
  EmbeddingModel m({.backbone = tiny_backbone(), .embedding_dim = 8, .seed = 3});
  SoftmaxClassifier head(8, 3, 0.0, 4);
  engine::Generator gen(5);
  Tensor image = engine::randn({2, 33, 33, 3}, gen);
  // Labels at the embedding resolution (10x10): three bands, transposed in the second image.
  std::vector<int64_t> lab;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t y = 0; y < 10; ++y)
      for (int64_t x = 0; x < 10; ++x) lab.push_back(((n == 0 ? y : x) * 3) / 10);
  Tensor labels = Tensor::from_vector(lab, {2, 10, 10});

  std::vector<engine::optim::ParamGroup> groups{
      layers::make_param_group(
          m, "model", [](const std::string&) { return true; }, 1.0, 0.0),
      layers::make_param_group(
          head, "head", [](const std::string&) { return true; }, 1.0, 0.0)};
  for (auto& g : groups) g.momentum = 0.9;
  engine::optim::SGD sgd(groups, 0.05);
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    Tensor logits = head.forward(m.forward(image).embedding);
    Tensor loss = engine::cross_entropy(logits, labels);
    if (step == 0) first = loss.item();
    last = loss.item();
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("tiny DeepLab overfit: loss %.4f -> %.4f in 40 steps, %.2f s\n", first, last,
              seconds);
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, first / 10) << "first " << first << " last " << last;
  RecordProperty("first_loss", std::to_string(first));
  RecordProperty("last_loss", std::to_string(last));
  RecordProperty("seconds", std::to_string(seconds));
}

}  // namespace
}  // namespace models
