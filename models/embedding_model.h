// SPML's embedding networks (spml.md §1.3-1.6): ResNet backbone -> head (DeepLab-v2 ASPP or
// PSPNet pyramid pooling) -> x2 bilinear upsampling (stride 4 at OS8) -> L2 normalization; and
// the softmax classifier head that runs on the normalized embedding.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/sgd.h"
#include "layers/activation.h"
#include "layers/module.h"
#include "models/resnet.h"

namespace models {

enum class HeadKind {
  deeplab_v2_aspp,  // child "aspp" (DeepLabV2ASPP), VOC
  pspnet_ppm,       // child "pspp" (make_pspnet_head), DensePose
};

struct EmbeddingModelConfig {
  ResNetConfig backbone{};
  HeadKind head = HeadKind::deeplab_v2_aspp;
  int64_t embedding_dim = 64;  // D (VOC 64, DensePose 32)
  std::vector<int64_t> aspp_rates{6, 12, 18, 24};
  int64_t psp_width = 512;  // pyramid pooling width (real network); tests use less
  bool upsample_x2 = true;  // spml.md §1.3: bilinear x2 after the head
  uint64_t seed = 1;        // head initialization (the backbone has its own seed)
  // false: head conv weights and biases start at zero (see ResNetConfig::random_init, which
  // the factories below set to the same value).
  bool random_init = true;
};

struct EmbeddingOutput {
  // [N, h, w, D], unit L2 norm per pixel (h = 2 * res5 height when upsample_x2).
  Tensor embedding;
  // The same before normalization (what SPML's network returns).
  Tensor raw;
  // The backbone's per-stage features.
  ResNetFeatures features;
};

// Names: backbone.* (ResNet names under "backbone."), aspp.aspp_1.0.weight ... or pspp.0.* /
// pspp.1.*. SPML checkpoints (resnet_backbone.conv1.*, resnet_backbone.res2..res5.*, aspp.*,
// pspp.*) load with spml_checkpoint_renames() (models/weights.h).
class EmbeddingModel : public layers::Module {
 public:
  explicit EmbeddingModel(const EmbeddingModelConfig& config);
  // image [N, H, W, in_channels] f32 (normalized RGB) -> EmbeddingOutput.
  EmbeddingOutput forward(const Tensor& image);
  const EmbeddingModelConfig& config() const { return config_; }
  ResNet& backbone() { return *backbone_; }
  layers::Layer& head() { return *head_; }
  // "aspp" or "pspp": the head's name prefix in named_parameters().
  std::string head_name() const;

 private:
  EmbeddingModelConfig config_;
  std::shared_ptr<ResNet> backbone_;
  std::shared_ptr<layers::Layer> head_;
};

// DeepLab-v2 (ASPP) and PSPNet embedding models on SPML's backbone (deep stem, OS8, BN momentum
// 3e-4), full size; random_init false gives zero conv weights, to be loaded.
std::unique_ptr<EmbeddingModel> deeplab_v2_resnet101(int64_t embedding_dim = 64, uint64_t seed = 1,
                                                     bool random_init = true);
std::unique_ptr<EmbeddingModel> pspnet_resnet101(int64_t embedding_dim = 32, uint64_t seed = 1,
                                                 bool random_init = true);

// Softmax classifier head (spml.md §1.6): conv3x3 D -> 2D (pad 1, no bias), BN(2D), ReLU,
// Dropout(p), conv1x1 2D -> C with bias. Names semantic_classifier.{0,1,4}.* as SPML's.
// embedding [N, h, w, D] (L2-normalized by the caller: EmbeddingOutput::embedding) ->
// logits [N, h, w, C].
class SoftmaxClassifier : public layers::Module {
 public:
  // p = 0.75 for the head trained jointly with the embedding, 0.65 stand-alone.
  SoftmaxClassifier(int64_t embedding_dim, int64_t num_classes, double dropout_p, uint64_t seed);
  Tensor forward(const Tensor& embedding);
  layers::Dropout& dropout() { return *dropout_; }

 private:
  std::shared_ptr<layers::Sequential> classifier_;
  std::shared_ptr<layers::Dropout> dropout_;
};

// SPML's optimizer groups (spml.md §1.1, §1.3, §1.6) over `model`'s parameters whose names
// start with one of `trainable_backbone_prefixes` (backbone, lr x1 / x2) or `head_prefixes`
// (lr x10 / x20): names ending in ".bias" (BN betas, conv biases) take the doubled rate and no
// weight decay; everything else takes `weight_decay`. Parameters matching neither list (the
// stem and layer1, "res2") are frozen here: requires_grad is set false so no gradient is
// computed for them. Groups: "backbone_weight", "backbone_bias", "head_weight", "head_bias";
// momentum is set on all of them. Empty groups are left out.
struct SpmlParamGroupsOptions {
  std::vector<std::string> trainable_backbone_prefixes{"backbone.layer2.", "backbone.layer3.",
                                                       "backbone.layer4."};
  std::vector<std::string> head_prefixes{"aspp.", "pspp.", "semantic_classifier."};
  double weight_decay = 5e-4;
  double momentum = 0.9;
};
std::vector<engine::optim::ParamGroup> spml_param_groups(layers::Module& model,
                                                         const SpmlParamGroupsOptions& options,
                                                         const std::string& name_prefix = "");

}  // namespace models
