#include "models/embedding_model.h"

#include "engine/ops/normalize.h"
#include "engine/ops/resize.h"
#include "engine/random.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "models/deeplab_aspp.h"
#include "models/pspnet_ppm.h"

namespace models {

EmbeddingModel::EmbeddingModel(const EmbeddingModelConfig& c)
    : layers::Module("EmbeddingModel"), config_(c) {
  ENGINE_CHECK(c.embedding_dim > 0, "EmbeddingModel: embedding_dim must be positive, got {}",
               c.embedding_dim);
  backbone_ = register_module("backbone", std::make_shared<ResNet>(c.backbone));
  engine::Generator gen(c.seed);
  const layers::ConvInit init =
      c.random_init ? layers::ConvInit::pytorch_default : layers::ConvInit::zeros;
  if (c.head == HeadKind::deeplab_v2_aspp) {
    head_ = register_module(
        "aspp", std::make_shared<DeepLabV2ASPP>(backbone_->out_channels(), c.embedding_dim, gen,
                                                c.aspp_rates, init));
  } else {
    head_ = register_module("pspp", make_pspnet_head(backbone_->out_channels(), c.embedding_dim,
                                                     gen, c.psp_width, {}, init));
  }
}

std::string EmbeddingModel::head_name() const {
  return config_.head == HeadKind::deeplab_v2_aspp ? "aspp" : "pspp";
}

EmbeddingOutput EmbeddingModel::forward(const Tensor& image) {
  EmbeddingOutput out;
  out.features = backbone_->forward_features(image);
  Tensor y = head_->forward(out.features.layer4);
  // F.interpolate(scale_factor=2, mode='bilinear') with align_corners false: size 2h x 2w.
  if (config_.upsample_x2) y = engine::resize_bilinear(y, 2 * y.size(1), 2 * y.size(2), false);
  out.raw = y;
  out.embedding = engine::l2_normalize(y, -1);
  return out;
}

namespace {

std::unique_ptr<EmbeddingModel> spml_model(HeadKind head, int64_t embedding_dim, uint64_t seed,
                                           bool random_init) {
  EmbeddingModelConfig c;
  c.backbone = ResNetConfig{.blocks = {3, 4, 23, 3},
                            .stem = Stem::deep,
                            .output_stride = 8,
                            .bn = {.momentum = 3e-4},
                            .random_init = random_init};
  c.head = head;
  c.embedding_dim = embedding_dim;
  c.seed = seed;
  c.random_init = random_init;
  return std::make_unique<EmbeddingModel>(c);
}

}  // namespace

std::unique_ptr<EmbeddingModel> deeplab_v2_resnet101(int64_t embedding_dim, uint64_t seed,
                                                     bool random_init) {
  return spml_model(HeadKind::deeplab_v2_aspp, embedding_dim, seed, random_init);
}

std::unique_ptr<EmbeddingModel> pspnet_resnet101(int64_t embedding_dim, uint64_t seed,
                                                 bool random_init) {
  return spml_model(HeadKind::pspnet_ppm, embedding_dim, seed, random_init);
}

SoftmaxClassifier::SoftmaxClassifier(int64_t embedding_dim, int64_t num_classes, double dropout_p,
                                     uint64_t seed)
    : layers::Module("SoftmaxClassifier") {
  ENGINE_CHECK(embedding_dim > 0 && num_classes > 0,
               "SoftmaxClassifier: invalid embedding_dim {} / num_classes {}", embedding_dim,
               num_classes);
  engine::Generator gen(seed);
  classifier_ = register_module("semantic_classifier", std::make_shared<layers::Sequential>());
  classifier_->push_back(std::make_shared<layers::Conv2d>(
      layers::Conv2dOptions{.in_channels = embedding_dim,
                            .out_channels = 2 * embedding_dim,
                            .kernel = 3,
                            .padding = 1,
                            .init = layers::ConvInit::pytorch_default},
      gen));
  classifier_->push_back(std::make_shared<layers::BatchNorm2d>(2 * embedding_dim));
  classifier_->push_back(std::make_shared<layers::ReLU>());
  dropout_ = std::make_shared<layers::Dropout>(dropout_p, seed ^ 0x9e3779b97f4a7c15ULL);
  classifier_->push_back(dropout_);
  classifier_->push_back(std::make_shared<layers::Conv2d>(
      layers::Conv2dOptions{.in_channels = 2 * embedding_dim,
                            .out_channels = num_classes,
                            .kernel = 1,
                            .bias = true,
                            .init = layers::ConvInit::pytorch_default},
      gen));
}

Tensor SoftmaxClassifier::forward(const Tensor& embedding) {
  return classifier_->forward(embedding);
}

std::vector<engine::optim::ParamGroup> spml_param_groups(layers::Module& model,
                                                         const SpmlParamGroupsOptions& o,
                                                         const std::string& name_prefix) {
  auto starts = [](const std::string& n, const std::vector<std::string>& prefixes) {
    for (const auto& p : prefixes)
      if (n.compare(0, p.size(), p) == 0) return true;
    return false;
  };
  auto is_bias = [](const std::string& n) {
    return n.size() >= 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
  };
  for (auto& [n, t] : model.named_parameters()) {
    if (starts(n, o.trainable_backbone_prefixes) || starts(n, o.head_prefixes)) continue;
    Tensor p = t;
    p.zero_grad();
    p.set_requires_grad(false);
  }
  std::vector<engine::optim::ParamGroup> groups;
  auto add = [&](const char* name, bool head, bool bias, double scale, double wd) {
    auto g = layers::make_param_group(
        model, name,
        [&](const std::string& n) {
          return starts(n, head ? o.head_prefixes : o.trainable_backbone_prefixes) &&
                 is_bias(n) == bias;
        },
        scale, wd, name_prefix);
    g.momentum = o.momentum;
    if (!g.params.empty()) groups.push_back(std::move(g));
  };
  add("backbone_weight", false, false, 1.0, o.weight_decay);
  add("backbone_bias", false, true, 2.0, 0.0);
  add("head_weight", true, false, 10.0, o.weight_decay);
  add("head_bias", true, true, 20.0, 0.0);
  return groups;
}

}  // namespace models
