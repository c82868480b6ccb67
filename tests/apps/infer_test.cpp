// Runs the built infer binary with a tiny random model saved to safetensors and checks what it
// writes: palette predictions at the image size, logits and embeddings as .npy.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/image_io.h"
#include "data/npy.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "models/embedding_model.h"

namespace {

namespace fs = std::filesystem;

int run_infer(const fs::path& dir, const std::string& args) {
  const std::string cmd = std::string(ENGINE_APPS_DIR) + "/infer " + args + " >" +
                          (dir / "stdout.txt").string() + " 2>" + (dir / "stderr.txt").string();
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(InferApp, WritesPredictionsLogitsAndEmbeddings) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "infer";
  fs::remove_all(dir);
  fs::create_directories(dir / "images");

  models::EmbeddingModelConfig cfg;
  cfg.backbone.blocks = {1, 1, 1, 1};
  cfg.backbone.stem = models::Stem::deep;
  cfg.backbone.output_stride = 8;
  cfg.backbone.width = 4;
  cfg.embedding_dim = 8;
  cfg.aspp_rates = {6, 12, 18, 24};
  models::EmbeddingModel model(cfg);
  models::SoftmaxClassifier classifier(8, 3, 0.65, 7);
  engine::io::NamedTensors all = model.state_dict();
  for (auto& kv : classifier.state_dict()) all.push_back(kv);
  engine::io::save_safetensors((dir / "w.safetensors").string(), all, {{"layout", "OHWI"}});

  std::vector<uint8_t> px(37 * 45 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37) % 251);
  data::write_png((dir / "images" / "img.png").string(),
                  engine::Tensor::from_vector(px, {37, 45, 3}));

  const std::string args = "--quiet --weights " + (dir / "w.safetensors").string() +
                           " --blocks 1,1,1,1 --width 4 --embedding-dim 8 --num-classes 3 "
                           "--save-logits --save-embedding --images " +
                           (dir / "images").string() + " --out " + (dir / "out").string();
  ASSERT_EQ(run_infer(dir, args), 0) << read_text(dir / "stderr.txt");

  const data::LabelMap pred = data::read_label_png((dir / "out" / "img.png").string());
  EXPECT_EQ(pred.ids.shape(), (engine::Shape{37, 45}));
  for (uint8_t v : pred.ids.to_vector<uint8_t>()) EXPECT_LT(v, 3);
  const engine::Tensor logits = data::read_npy((dir / "out" / "img.logits.npy").string());
  EXPECT_EQ(logits.shape(), (engine::Shape{37, 45, 3}));
  const engine::Tensor emb = data::read_npy((dir / "out" / "img.embedding.npy").string());
  ASSERT_EQ(emb.dim(), 3);
  EXPECT_EQ(emb.size(2), 8);
  // Unit-length embeddings.
  const std::vector<float> e = emb.to_vector<float>();
  double n0 = 0;
  for (int k = 0; k < 8; ++k) n0 += double(e[size_t(k)]) * e[size_t(k)];
  EXPECT_NEAR(n0, 1.0, 1e-4);
  // The argmax of the logits is the prediction.
  const std::vector<float> l = logits.to_vector<float>();
  const std::vector<uint8_t> p = pred.ids.to_vector<uint8_t>();
  for (size_t i = 0; i < p.size(); i += 97) {
    int best = 0;
    for (int c = 1; c < 3; ++c)
      if (l[i * 3 + size_t(c)] > l[i * 3 + size_t(best)]) best = c;
    EXPECT_EQ(p[i], best) << i;
  }

  // A width that does not match the weights fails with the tensor's name.
  EXPECT_EQ(run_infer(dir, "--quiet --weights " + (dir / "w.safetensors").string() +
                               " --blocks 1,1,1,1 --width 8 --embedding-dim 8 --num-classes 3 " +
                               (dir / "images" / "img.png").string() + " --out " +
                               (dir / "out2").string()),
            1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("backbone."), std::string::npos)
      << read_text(dir / "stderr.txt");

  // A device this machine does not have is named before any output is written.
  const std::string absent = "cuda:" + std::to_string(engine::cuda_device_count());
  EXPECT_EQ(
      run_infer(dir,
                "--quiet --device " + absent + " --weights " + (dir / "w.safetensors").string() +
                    " --blocks 1,1,1,1 --width 4 --embedding-dim 8 --num-classes 3 " +
                    (dir / "images" / "img.png").string() + " --out " + (dir / "out3").string()),
      1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("infer: --device " + absent + " asked for"),
            std::string::npos)
      << read_text(dir / "stderr.txt");
  EXPECT_FALSE(fs::exists(dir / "out3"));
}

}  // namespace
