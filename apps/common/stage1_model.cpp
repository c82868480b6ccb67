#include "apps/common/stage1_model.h"

#include <array>
#include <filesystem>

#include "apps/common/run_folder.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "models/weights.h"

namespace apps {

std::unique_ptr<models::EmbeddingModel> build_embedding_model(const TrainConfig& c) {
  models::EmbeddingModelConfig mc;
  if (!c.blocks.empty()) {
    ENGINE_CHECK(c.blocks.size() == 4, "blocks: expected 4 counts, got {}", c.blocks.size());
    for (size_t i = 0; i < 4; ++i) mc.backbone.blocks[i] = c.blocks[i];
  } else {
    mc.backbone.blocks =
        c.depth == 50 ? std::array<int64_t, 4>{3, 4, 6, 3} : std::array<int64_t, 4>{3, 4, 23, 3};
  }
  mc.backbone.stem = c.stem == "deep" ? models::Stem::deep : models::Stem::torchvision;
  mc.backbone.output_stride = int(c.output_stride);
  mc.backbone.width = c.width;
  mc.backbone.bn.momentum = c.bn_momentum;
  mc.backbone.seed = c.seed;
  ENGINE_CHECK(c.head == "deeplab" || c.head == "pspnet",
               "embedding model: head must be deeplab or pspnet, got '{}'", c.head);
  mc.head = c.head == "pspnet" ? models::HeadKind::pspnet_ppm : models::HeadKind::deeplab_v2_aspp;
  mc.psp_width = c.psp_width;
  mc.embedding_dim = c.embedding_dim;
  mc.aspp_rates = c.aspp_rates;
  mc.seed = c.seed + 1;
  return std::make_unique<models::EmbeddingModel>(mc);
}

Stage1 load_stage1(const std::string& run_dir, int64_t step) {
  Stage1 s;
  // A classifier run (apps/train_classifier) keeps its own settings in config.json and the
  // network's in network.json; a stage-1 run has only config.json.
  const std::string network_json = run_dir + "/network.json";
  apply_json_file(s.config,
                  std::filesystem::exists(network_json) ? network_json : run_dir + "/config.json");
  RunFolder folder(run_dir);
  s.step = step < 0 ? folder.latest_checkpoint() : step;
  s.weights_path = folder.model_path(s.step);
  const engine::io::SafetensorsFile file = engine::io::load_safetensors(s.weights_path);

  const std::string last = "semantic_classifier.4.weight";
  ENGINE_CHECK(file.contains(last), "{}: no joint classifier ({}) in this checkpoint",
               s.weights_path, last);
  s.num_classes = int(file.at(last).size(0));

  s.model = build_embedding_model(s.config);
  models::LoadOptions lo;
  lo.ignore_unexpected_prefixes = {"semantic_classifier."};
  models::load_weights(*s.model, file, lo);
  s.classifier = std::make_unique<models::SoftmaxClassifier>(
      s.config.embedding_dim, s.num_classes, s.config.classifier_dropout, s.config.seed + 2);
  models::LoadOptions lc;
  lc.ignore_unexpected_prefixes = {"backbone.", "aspp.", "pspp."};
  models::load_weights(*s.classifier, file, lc);
  s.model->eval();
  s.classifier->eval();
  return s;
}

void move_to(Stage1& net, engine::Device device) {
  if (net.model) net.model->to(device);
  if (net.classifier) net.classifier->to(device);
}

}  // namespace apps
