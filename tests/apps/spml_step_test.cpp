#include "apps/common/spml_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "engine/ops/factory.h"
#include "engine/random.h"
#include "spml/loss_config.h"
#include "tests/support/expect_error.h"

namespace {

using engine::Tensor;

models::EmbeddingModelConfig tiny_config() {
  models::EmbeddingModelConfig c;
  c.backbone.blocks = {1, 1, 1, 1};
  c.backbone.width = 4;
  c.backbone.bn.momentum = 0.1;
  c.embedding_dim = 8;
  c.aspp_rates = {1, 2};
  return c;
}

struct Batch {
  Tensor images;
  spml::ObjectiveInputs inputs;
};

Batch make_batch() {
  engine::Generator gen(7);
  Batch b;
  b.images = engine::randn({4, 32, 32, 3}, gen);
  Tensor labels = Tensor::empty({4, 32, 32}, engine::DType::u8);
  auto* l = labels.data<uint8_t>();
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t y = 0; y < 32; ++y)
      for (int64_t x = 0; x < 32; ++x) {
        // Quadrant classes with an unlabeled band, different per image.
        const int c = int((y / 16) * 2 + (x / 16) + n) % 3;
        l[(n * 32 + y) * 32 + x] = (x % 8 == 3) ? 255 : uint8_t(c);
      }
  b.inputs.labels = labels;
  b.inputs.tags.assign(4, 0b110);
  return b;
}

spml::LossConfig loss_config() {
  spml::LossConfig c = spml::loss_preset("voc_scribble");
  c.num_classes = 3;
  return c;
}

std::map<std::string, std::vector<float>> grads(layers::Module& m) {
  std::map<std::string, std::vector<float>> g;
  for (auto& [name, p] : m.named_parameters())
    if (p.grad().defined()) g[name] = p.grad().to_vector<float>();
  return g;
}

TEST(SpmlStep, MicroBatchesGiveTheWholeBatchGradient) {
  // In eval mode BatchNorm uses running statistics, so micro-batching must be exact up to
  // floating-point summation order.
  Batch b = make_batch();
  std::map<std::string, std::vector<float>> ref;
  double ref_total = 0;
  for (int64_t micro : {1, 2, 4}) {
    models::EmbeddingModel model(tiny_config());
    models::SoftmaxClassifier head(8, 3, 0.5, 3);
    model.eval();
    head.eval();
    spml::SpmlObjective objective(loss_config());
    spml::ObjectiveResult r =
        apps::spml_forward_backward(model, head, objective, b.images, b.inputs, micro);
    auto g = grads(model);
    for (auto& [k, v] : grads(head)) g["head." + k] = v;
    if (micro == 1) {
      ref = g;
      ref_total = r.total.item();
      ASSERT_GT(ref.size(), 10u);
      continue;
    }
    EXPECT_NEAR(r.total.item(), ref_total, 1e-6 * std::abs(ref_total)) << micro;
    ASSERT_EQ(g.size(), ref.size()) << micro;
    for (auto& [name, v] : ref) {
      const auto& w = g.at(name);
      double scale = 1e-12;
      for (float x : v) scale = std::max(scale, double(std::abs(x)));
      for (size_t i = 0; i < v.size(); ++i)
        ASSERT_NEAR(w[i], v[i], 2e-4 * scale) << name << "[" << i << "] micro " << micro;
    }
  }
}

TEST(SpmlStep, RunningStatisticsAreUpdatedOncePerMicroBatch) {
  Batch b = make_batch();
  models::EmbeddingModel a(tiny_config()), ref(tiny_config());
  models::SoftmaxClassifier head(8, 3, 0.5, 3);
  a.train();
  ref.train();
  spml::SpmlObjective objective(loss_config());
  apps::spml_forward_backward(a, head, objective, b.images, b.inputs, 2);
  ref.forward(b.images.narrow(0, 0, 2).contiguous());
  ref.forward(b.images.narrow(0, 2, 2).contiguous());
  auto ba = a.named_buffers(), br = ref.named_buffers();
  ASSERT_EQ(ba.size(), br.size());
  for (size_t i = 0; i < ba.size(); ++i) {
    auto va = ba[i].second.to_vector<float>(), vr = br[i].second.to_vector<float>();
    for (size_t j = 0; j < va.size(); ++j) ASSERT_FLOAT_EQ(va[j], vr[j]) << ba[i].first;
  }
}

TEST(SpmlStep, RejectsUnevenSplit) {
  Batch b = make_batch();
  models::EmbeddingModel model(tiny_config());
  models::SoftmaxClassifier head(8, 3, 0.5, 3);
  spml::SpmlObjective objective(loss_config());
  engine::testing::expect_error(
      [&] { apps::spml_forward_backward(model, head, objective, b.images, b.inputs, 3); },
      "does not split into 3 equal micro-batches");
}

}  // namespace
