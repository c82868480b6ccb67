// ResNet backbones: parameter counts and names against torchvision, stage shapes at every
// output stride on odd input sizes, dilation placement.
#include <gtest/gtest.h>

#include "engine/ops/factory.h"
#include "models/resnet.h"
#include "tests/support/expect_error.h"

namespace models {
namespace {

using engine::Shape;

int64_t half(int64_t x) {
  return (x - 1) / 2 + 1;
}  // k3/p1 or k7/p3 or k1 stride-2 size

TEST(ResNet, ParameterCountsMatchTorchvision) {
  // torchvision.models.resnet101() / resnet50(): sum(p.numel() for p in m.parameters()).
  EXPECT_EQ(resnet101(32, 1000, 0, false)->num_parameters(), 44549160);
  EXPECT_EQ(resnet50(32, 1000, 0, false)->num_parameters(), 25557032);
  // Without fc (2048 * 1000 + 1000 fewer).
  EXPECT_EQ(resnet50(32, 0, 0, false)->num_parameters(), 25557032 - 2049000);
}

TEST(ResNet, NamesMatchTorchvision) {
  auto m = resnet101(8, 1000, 0, false);
  auto sd = m->state_dict();
  ASSERT_EQ(sd.size(), 314u + 2 * 104u);  // 314 parameters, 2 buffers per BN (104 BNs)
  EXPECT_EQ(sd[0].first, "conv1.weight");
  EXPECT_EQ(sd[0].second.shape(), (Shape{64, 7, 7, 3}));
  EXPECT_EQ(sd[1].first, "bn1.weight");
  EXPECT_EQ(sd[3].first, "bn1.running_mean");
  EXPECT_EQ(sd[5].first, "layer1.0.conv1.weight");
  EXPECT_EQ(sd.back().first, "fc.bias");
  EXPECT_EQ(m->find_tensor("layer3.22.bn2.running_mean").shape(), (Shape{256}));
  EXPECT_EQ(m->find_tensor("layer4.0.downsample.0.weight").shape(), (Shape{2048, 1, 1, 1024}));
  EXPECT_EQ(m->find_tensor("layer2.3.conv2.weight").shape(), (Shape{128, 3, 3, 128}));
  EXPECT_EQ(m->find_tensor("fc.weight").shape(), (Shape{1000, 2048}));
  EXPECT_FALSE(m->find_tensor("layer3.23.conv1.weight").defined());
  EXPECT_FALSE(m->find_tensor("layer1.1.downsample.0.weight").defined());
}

TEST(ResNet, DeepStemNamesAndShapes) {
  auto m = resnet101_deep_stem(8, 0, false);
  EXPECT_EQ(m->find_tensor("conv1.0.weight").shape(), (Shape{64, 3, 3, 3}));
  EXPECT_EQ(m->find_tensor("conv1.1.running_var").shape(), (Shape{64}));
  EXPECT_EQ(m->find_tensor("conv1.3.weight").shape(), (Shape{64, 3, 3, 64}));
  EXPECT_EQ(m->find_tensor("conv1.4.weight").shape(), (Shape{64}));
  EXPECT_EQ(m->find_tensor("conv1.6.weight").shape(), (Shape{128, 3, 3, 64}));
  EXPECT_EQ(m->find_tensor("bn1.weight").shape(), (Shape{128}));
  EXPECT_EQ(m->find_tensor("layer1.0.conv1.weight").shape(), (Shape{64, 1, 1, 128}));
  EXPECT_EQ(m->find_tensor("layer1.0.downsample.0.weight").shape(), (Shape{256, 1, 1, 128}));
  // The torchvision count minus its stem and fc, plus the deep stem: convs 3*9*64 + 64*9*64 +
  // 64*9*128, BNs 2*(64 + 64 + 128), and layer1's first block sees 128 instead of 64 channels
  // (conv1 and downsample: 64 * 64 + 256 * 64 more).
  int64_t torchvision_body = 44549160 - 2049000 - 64 * 7 * 7 * 3 - 2 * 64;
  int64_t deep_stem = 3 * 9 * 64 + 64 * 9 * 64 + 64 * 9 * 128 + 2 * (64 + 64 + 128);
  EXPECT_EQ(m->num_parameters(), torchvision_body + deep_stem + 64 * 64 + 256 * 64);
  for (auto* bn : m->batch_norms()) EXPECT_DOUBLE_EQ(bn->options().momentum, 3e-4);
}

struct StrideCase {
  int output_stride;
  Stem stem;
};

class ResNetShapes : public ::testing::TestWithParam<StrideCase> {};

TEST_P(ResNetShapes, OddInputSizes) {
  const auto [os, stem] = GetParam();
  ResNetConfig c{.blocks = {1, 2, 2, 2}, .stem = stem, .output_stride = os, .width = 4};
  ResNet m(c);
  engine::Generator gen(2);
  const int64_t H = 33, W = 45;
  auto f = m.forward_features(engine::randn({2, H, W, 3}, gen));
  int64_t h = half(half(H)), w = half(half(W));
  int64_t sc = stem == Stem::deep ? 8 : 4;
  EXPECT_EQ(f.stem.shape(), (Shape{2, h, w, sc}));
  EXPECT_EQ(f.layer1.shape(), (Shape{2, h, w, 16}));
  h = half(h), w = half(w);
  EXPECT_EQ(f.layer2.shape(), (Shape{2, h, w, 32}));
  if (os <= 16) {
    EXPECT_EQ(f.layer3.shape(), (Shape{2, os == 8 ? h : half(h), os == 8 ? w : half(w), 64}));
  } else {
    EXPECT_EQ(f.layer3.shape(), (Shape{2, half(h), half(w), 64}));
  }
  int64_t h4 = os == 8 ? h : os == 16 ? half(h) : half(half(h));
  int64_t w4 = os == 8 ? w : os == 16 ? half(w) : half(half(w));
  EXPECT_EQ(f.layer4.shape(), (Shape{2, h4, w4, 128}));
  EXPECT_FALSE(f.logits.defined());
}

INSTANTIATE_TEST_SUITE_P(All, ResNetShapes,
                         ::testing::Values(StrideCase{8, Stem::torchvision},
                                           StrideCase{16, Stem::torchvision},
                                           StrideCase{32, Stem::torchvision},
                                           StrideCase{8, Stem::deep}, StrideCase{16, Stem::deep},
                                           StrideCase{32, Stem::deep}));

TEST(ResNet, DilationPlacement) {
  ResNet os8({.blocks = {1, 1, 3, 3}, .output_stride = 8, .width = 2});
  auto dil = [](ResNet& m, const std::string& block) {
    auto* b = dynamic_cast<layers::Bottleneck*>(m.find_module(block));
    return std::pair{b->options().dilation, b->options().stride};
  };
  EXPECT_EQ(dil(os8, "layer2.0"), (std::pair<int64_t, int64_t>{1, 2}));
  EXPECT_EQ(dil(os8, "layer3.0"), (std::pair<int64_t, int64_t>{1, 1}));
  EXPECT_EQ(dil(os8, "layer3.2"), (std::pair<int64_t, int64_t>{2, 1}));
  EXPECT_EQ(dil(os8, "layer4.0"), (std::pair<int64_t, int64_t>{2, 1}));
  EXPECT_EQ(dil(os8, "layer4.2"), (std::pair<int64_t, int64_t>{4, 1}));
  ResNet os16({.blocks = {1, 1, 3, 3}, .output_stride = 16, .width = 2});
  EXPECT_EQ(dil(os16, "layer3.0"), (std::pair<int64_t, int64_t>{1, 2}));
  EXPECT_EQ(dil(os16, "layer3.2"), (std::pair<int64_t, int64_t>{1, 1}));
  EXPECT_EQ(dil(os16, "layer4.0"), (std::pair<int64_t, int64_t>{1, 1}));
  EXPECT_EQ(dil(os16, "layer4.1"), (std::pair<int64_t, int64_t>{2, 1}));
}

TEST(ResNet, ClassifierLogitsAndErrors) {
  ResNet m({.blocks = {1, 1, 1, 1}, .width = 2, .num_classes = 5});
  engine::Generator gen(3);
  EXPECT_EQ(m.forward(engine::randn({3, 17, 19, 3}, gen)).shape(), (Shape{3, 5}));
  engine::testing::expect_error(
      [&] {
        m.forward(engine::randn({3, 3, 17, 19}, gen));
      },
      "expected input [N, H, W, 3] (NHWC)");
  engine::testing::expect_error([] { ResNet bad({.output_stride = 4}); },
                                "output_stride must be 8, 16 or 32, got 4");
}

}  // namespace
}  // namespace models
