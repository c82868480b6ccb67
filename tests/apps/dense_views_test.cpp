#include "apps/common/dense_views.h"

#include <gtest/gtest.h>

#include <cmath>

#include "data/transforms.h"
#include "engine/autograd.h"
#include "engine/ops/factory.h"
#include "engine/ops/join.h"
#include "engine/ops/normalize.h"
#include "engine/ops/resize.h"
#include "engine/random.h"

namespace {

using engine::Tensor;

Tensor random_rgb(int64_t h, int64_t w, uint64_t seed) {
  engine::Generator gen(seed);
  Tensor f = engine::rand({h, w, 3}, gen);
  Tensor u = Tensor::empty({h, w, 3}, engine::DType::u8);
  const float* s = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) u.data<uint8_t>()[i] = uint8_t(s[i] * 255.0f);
  return u;
}

models::EmbeddingModel tiny_model() {
  models::EmbeddingModelConfig c;
  c.backbone.blocks = {1, 1, 1, 1};
  c.backbone.width = 4;
  c.embedding_dim = 8;
  c.aspp_rates = {1, 2};
  return models::EmbeddingModel(c);
}

TEST(DenseViews, FlipWidthReversesColumns) {
  Tensor t = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  EXPECT_EQ(apps::flip_width(t).to_vector<int32_t>(),
            (std::vector<int32_t>{5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8}));
}

TEST(DenseViews, EmbeddingIsUnitLengthAtTheScaledSize) {
  auto model = tiny_model();
  model.eval();
  Tensor rgb = random_rgb(37, 29, 1);
  for (int64_t window : {0, 24}) {
    Tensor e = apps::embed_view(model, rgb, {.scale = 0.75, .flip = false}, window);
    ASSERT_EQ(e.shape(), (engine::Shape{28, 22, 8})) << "window " << window;
    const float* p = e.data<float>();
    for (int64_t i = 0; i < 28 * 22; ++i) {
      double n = 0;
      for (int c = 0; c < 8; ++c) n += double(p[i * 8 + c]) * p[i * 8 + c];
      ASSERT_NEAR(n, 1.0, 1e-4) << "pixel " << i << " window " << window;
    }
  }
}

TEST(DenseViews, FlipIsUndoneOnTheOutput) {
  auto model = tiny_model();
  model.eval();
  Tensor rgb = random_rgb(33, 41, 2);
  for (int64_t window : {0, 32}) {
    Tensor a = apps::embed_view(model, rgb, {1.0, false}, window);
    Tensor b = apps::embed_view(model, apps::flip_width(rgb), {1.0, true}, window);
    // flip(flip(image)) is the image, so b is the plain view flipped back: flip_width(a).
    auto va = apps::flip_width(a).to_vector<float>(), vb = b.to_vector<float>();
    ASSERT_EQ(va.size(), vb.size());
    for (size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], vb[i], 1e-5) << i;
  }
}

TEST(DenseViews, WindowsCoveringTheImageMatchOnePaddedPass) {
  // A window larger than the image: one window over the padded image; the crop must equal the
  // top-left of a whole-image pass over the same padded input.
  auto model = tiny_model();
  model.eval();
  models::SoftmaxClassifier head(8, 3, 0.5, 1);
  head.eval();
  Tensor rgb = random_rgb(20, 24, 3);
  Tensor l = apps::logits_view(model, head, rgb, {1.0, false}, 32);
  ASSERT_EQ(l.shape(), (engine::Shape{20, 24, 3}));

  engine::autograd::NoGradGuard no_grad;
  Tensor x =
      engine::pad(data::normalize_images(rgb.unsqueeze(0)), {{0, 0}, {0, 12}, {0, 8}, {0, 0}});
  Tensor e = engine::resize_bilinear(model.forward(x).embedding, 32, 32, false);
  Tensor ref =
      head.forward(engine::l2_normalize(e, -1)).select(0, 0).narrow(0, 0, 20).narrow(1, 0, 24);
  auto got = l.to_vector<float>(), want = ref.contiguous().to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << i;
}

}  // namespace
