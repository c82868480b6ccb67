// Final inference modes (apps/common/predict_modes.h), overlays (apps/common/overlay.h) and the
// predict binary, on a tiny random network saved as a run folder.
#include "apps/common/predict_modes.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "apps/common/config.h"
#include "apps/common/overlay.h"
#include "apps/common/run_folder.h"
#include "apps/common/train_loop.h"
#include "data/image_io.h"
#include "data/npy.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "engine/ops/factory.h"
#include "engine/random.h"
#include "tests/support/densepose_fixture.h"
#include "tests/support/expect_error.h"

namespace {

namespace fs = std::filesystem;
using engine::DType;
using engine::Tensor;

constexpr int kClasses = 3;

Tensor random_rgb(int64_t h, int64_t w, uint64_t seed) {
  engine::Generator gen(seed);
  Tensor f = engine::rand({h, w, 3}, gen);
  Tensor u = Tensor::empty({h, w, 3}, DType::u8);
  for (int64_t i = 0; i < f.numel(); ++i) u.data<uint8_t>()[i] = uint8_t(f.data<float>()[i] * 255);
  return u;
}

// A run folder holding a tiny random network: config.json and model-1.safetensors with the
// embedding network and a classifier, as train_voc writes them.
fs::path tiny_run() {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "predict_modes" / "run";
  if (fs::exists(dir / "model-1.safetensors")) return dir;
  apps::TrainConfig c;
  c.blocks = {1, 1, 1, 1};
  c.width = 4;
  c.embedding_dim = 8;
  c.aspp_rates = {1, 2};
  c.crop = 32;
  auto model = apps::build_embedding_model(c);
  models::SoftmaxClassifier classifier(c.embedding_dim, kClasses, c.classifier_dropout, 5);
  engine::io::NamedTensors weights = model->state_dict();
  for (auto& kv : classifier.state_dict()) weights.push_back(kv);
  apps::RunFolder folder(dir.string());
  folder.write_config(apps::to_json(c));
  folder.save_checkpoint(1, weights, {}, "{\"step\": 1}", 3);
  return dir;
}

apps::Stage1& tiny_net() {
  static apps::Stage1 net = apps::load_stage1(tiny_run().string());
  return net;
}

void expect_rows_sum_to_one(const Tensor& probs) {
  const int64_t c = probs.size(2), n = probs.numel() / c;
  const float* p = probs.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t k = 0; k < c; ++k) {
      ASSERT_GE(p[i * c + k], 0.f);
      s += p[i * c + k];
    }
    ASSERT_NEAR(s, 1.0, 1e-4) << "pixel " << i;
  }
}

void expect_near(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.shape(), b.shape());
  auto va = a.contiguous().to_vector<float>(), vb = b.contiguous().to_vector<float>();
  for (size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], vb[i], tol) << i;
}

TEST(PredictModes, ParsesModeNames) {
  EXPECT_EQ(apps::parse_predict_mode("msc-crf"), apps::PredictMode::msc_crf);
  EXPECT_EQ(apps::parse_predict_mode("softmax_crf"), apps::PredictMode::softmax_crf);
  EXPECT_EQ(apps::predict_mode_name(apps::PredictMode::knn), "knn");
  EXPECT_EQ(apps::parse_predict_mode("knn_msc_crf"), apps::PredictMode::knn_msc_crf);
  EXPECT_EQ(apps::predict_mode_name(apps::PredictMode::knn_msc), "knn-msc");
  EXPECT_TRUE(apps::uses_memory(apps::PredictMode::knn_msc));
  EXPECT_FALSE(apps::uses_memory(apps::PredictMode::msc_crf));
  EXPECT_TRUE(apps::uses_crf(apps::PredictMode::knn_msc_crf));
  engine::testing::expect_error([] { apps::parse_predict_mode("crf"); },
                                "unknown prediction mode 'crf'");
  EXPECT_EQ(apps::default_msc_views().size(), 10u);
}

TEST(PredictModes, SoftmaxAndMscAreAtTheOriginalSizeAndSumToOne) {
  Tensor rgb = random_rgb(37, 53, 1);
  for (auto mode : {apps::PredictMode::softmax, apps::PredictMode::msc}) {
    for (int64_t size : {0, 40}) {
      apps::PredictOptions o;
      o.mode = mode;
      o.size = size;
      apps::Prediction p = apps::predict_image(tiny_net(), rgb, o);
      ASSERT_EQ(p.probs.shape(), (engine::Shape{37, 53, kClasses}))
          << apps::predict_mode_name(mode);
      ASSERT_EQ(p.labels.shape(), (engine::Shape{37, 53}));
      ASSERT_EQ(p.labels.dtype(), DType::u8);
      expect_rows_sum_to_one(p.probs);
      EXPECT_TRUE(apps::argmax_u8(p.probs).to_vector<uint8_t>() == p.labels.to_vector<uint8_t>());
    }
  }
}

TEST(PredictModes, SingleViewMscEqualsSoftmaxWithoutResize) {
  Tensor rgb = random_rgb(37, 53, 2);
  apps::PredictOptions s;
  s.size = 0;
  apps::PredictOptions m = s;
  m.mode = apps::PredictMode::msc;
  m.views = {{1.0, false}};
  apps::Prediction a = apps::predict_image(tiny_net(), rgb, s);
  apps::Prediction b = apps::predict_image(tiny_net(), rgb, m);
  expect_near(a.probs, b.probs, 1e-6);
  EXPECT_TRUE(a.labels.to_vector<uint8_t>() == b.labels.to_vector<uint8_t>());
}

TEST(PredictModes, FlippedViewOfTheFlippedImageIsTheMirroredPrediction) {
  Tensor rgb = random_rgb(29, 41, 3);
  apps::PredictOptions plain;
  plain.mode = apps::PredictMode::msc;
  plain.views = {{1.0, false}};
  apps::PredictOptions flipped = plain;
  flipped.views = {{1.0, true}};
  apps::Prediction a = apps::predict_image(tiny_net(), rgb, plain);
  apps::Prediction b = apps::predict_image(tiny_net(), apps::flip_width(rgb), flipped);
  // flip(flip(image)) = image, so b's network input is a's, and b's output is a's mirrored.
  expect_near(apps::flip_width(a.probs), b.probs, 1e-5);
}

TEST(PredictModes, MscAveragesItsViews) {
  Tensor rgb = random_rgb(24, 30, 4);
  apps::PredictOptions o;
  o.mode = apps::PredictMode::msc;
  o.views = {{0.5, false}, {1.0, true}};
  apps::Prediction both = apps::predict_image(tiny_net(), rgb, o);
  o.views = {{0.5, false}};
  Tensor a = apps::predict_image(tiny_net(), rgb, o).probs;
  o.views = {{1.0, true}};
  Tensor b = apps::predict_image(tiny_net(), rgb, o).probs;
  Tensor avg = Tensor::empty(a.shape(), DType::f32);
  for (int64_t i = 0; i < a.numel(); ++i)
    avg.data<float>()[i] = 0.5f * (a.data<float>()[i] + b.data<float>()[i]);
  expect_near(both.probs, avg, 1e-6);
}

TEST(PredictModes, CrfModesGiveValidLabelsAndMarginals) {
  Tensor rgb = random_rgb(37, 53, 5);
  for (auto mode : {apps::PredictMode::softmax_crf, apps::PredictMode::msc_crf}) {
    apps::PredictOptions o;
    o.mode = mode;
    o.views = apps::make_views({1.0}, true);
    o.crf.iterations = 3;
    apps::Prediction p = apps::predict_image(tiny_net(), rgb, o);
    ASSERT_EQ(p.probs.shape(), (engine::Shape{37, 53, kClasses}));
    expect_rows_sum_to_one(p.probs);
    for (uint8_t v : p.labels.to_vector<uint8_t>()) ASSERT_LT(v, kClasses);
  }
}

// A 48×48 embedding with four quadrants, each near its own axis of R^8, labelled 0..3.
struct Quadrants {
  Tensor embedding, labels;
};
Quadrants quadrants(uint64_t seed) {
  const int64_t n = 48, d = 8;
  engine::Generator gen(seed);
  Tensor noise = engine::rand({n, n, d}, gen, -0.05, 0.05);
  Quadrants q{Tensor::empty({n, n, d}, DType::f32), Tensor::empty({n, n}, DType::u8)};
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      const int c = int(y >= n / 2) * 2 + int(x >= n / 2);
      q.labels.data<uint8_t>()[y * n + x] = uint8_t(c);
      float* e = q.embedding.data<float>() + (y * n + x) * d;
      double norm = 0;
      for (int64_t k = 0; k < d; ++k) {
        e[k] = noise.data<float>()[(y * n + x) * d + k] + (k == c ? 1.f : 0.f);
        norm += double(e[k]) * e[k];
      }
      for (int64_t k = 0; k < d; ++k) e[k] = float(e[k] / std::sqrt(norm));
    }
  return q;
}

TEST(PredictModes, KnnWithAMemoryOfTheSameImageReproducesItsLabels) {
  Quadrants q = quadrants(7);
  const spml::KMeansConfig km{.grid = 12, .iterations = 10};
  spml::PrototypeMemory mem = apps::memory_from_embedding(q.embedding, q.labels, 4, km, false);
  ASSERT_GE(mem.prototypes.size(0), 4 * 20);  // enough per class that top-20 stays in class
  apps::Prediction p = apps::knn_from_embedding(q.embedding, mem, 4, km, spml::KnnConfig{});
  EXPECT_TRUE(p.labels.to_vector<uint8_t>() == q.labels.to_vector<uint8_t>());
  expect_rows_sum_to_one(p.probs);

  // The same from another draw of the noise: retrieval, not memorization of the pixels.
  Quadrants other = quadrants(8);
  apps::Prediction p2 = apps::knn_from_embedding(other.embedding, mem, 4, km, spml::KnnConfig{});
  EXPECT_TRUE(p2.labels.to_vector<uint8_t>() == other.labels.to_vector<uint8_t>());
}

TEST(PredictModes, KnnMemoryFromSparseLabelsVotesWithLabelledPixelsOnly) {
  Quadrants q = quadrants(9);
  // A "scribble": one labelled row through each quadrant, everything else unlabeled (255).
  Tensor sparse = Tensor::empty({48, 48}, DType::u8);
  for (int64_t i = 0; i < 48 * 48; ++i) {
    const int64_t y = i / 48;
    sparse.data<uint8_t>()[i] = (y == 12 || y == 36) ? q.labels.data<uint8_t>()[i] : 255;
  }
  const spml::KMeansConfig km{.grid = 12, .iterations = 10};
  spml::PrototypeMemory all_vote = apps::memory_from_embedding(q.embedding, sparse, 4, km, false);
  spml::PrototypeMemory labelled = apps::memory_from_embedding(q.embedding, sparse, 4, km, true);
  // With unlabeled pixels voting, most clusters come out unlabeled and are dropped.
  EXPECT_LT(all_vote.prototypes.size(0), labelled.prototypes.size(0));
  for (int32_t l : labelled.labels.to_vector<int32_t>()) ASSERT_LT(l, 4);
  apps::Prediction p =
      apps::knn_from_embedding(q.embedding, labelled, 4, km, spml::KnnConfig{.k = 1});
  EXPECT_TRUE(p.labels.to_vector<uint8_t>() == q.labels.to_vector<uint8_t>());
}

TEST(PredictModes, KnnModeRunsOnTheNetworkAtTheOriginalSize) {
  Tensor rgb = random_rgb(37, 53, 10);
  Tensor lab = Tensor::empty({37, 53}, DType::u8);
  for (int64_t i = 0; i < lab.numel(); ++i) lab.data<uint8_t>()[i] = uint8_t((i % 53) * 3 / 53);
  apps::PredictOptions o;
  o.mode = apps::PredictMode::knn;
  o.size = 0;
  o.kmeans.grid = 4;
  spml::PrototypeMemory mem = apps::memory_from_image(tiny_net(), rgb, lab, o, false);
  ASSERT_GT(mem.prototypes.size(0), 0);
  ASSERT_EQ(mem.prototypes.size(1), 8);
  apps::Prediction p = apps::predict_image(tiny_net(), rgb, o, &mem);
  ASSERT_EQ(p.labels.shape(), (engine::Shape{37, 53}));
  ASSERT_EQ(p.probs.shape(), (engine::Shape{37, 53, kClasses}));
  for (uint8_t v : p.labels.to_vector<uint8_t>()) ASSERT_TRUE(v < kClasses || v == 255);
  engine::testing::expect_error([&] { apps::predict_image(tiny_net(), rgb, o); },
                                "knn mode needs a prototype memory");
}

// One unflipped view at scale 1 is the single-scale knn; more views average one-hot votes.
TEST(PredictModes, KnnMultiScaleAveragesTheViewsVotes) {
  Tensor rgb = random_rgb(37, 53, 12);
  Tensor lab = Tensor::empty({37, 53}, DType::u8);
  for (int64_t i = 0; i < lab.numel(); ++i) lab.data<uint8_t>()[i] = uint8_t((i % 53) * 3 / 53);
  apps::PredictOptions o;
  o.mode = apps::PredictMode::knn;
  o.size = 0;
  o.kmeans.grid = 4;
  spml::PrototypeMemory mem = apps::memory_from_image(tiny_net(), rgb, lab, o, false);
  apps::Prediction single = apps::predict_image(tiny_net(), rgb, o, &mem);

  o.mode = apps::PredictMode::knn_msc;
  o.views = {apps::View{1.0, false}};
  apps::Prediction one = apps::predict_image(tiny_net(), rgb, o, &mem);
  EXPECT_TRUE(one.labels.to_vector<uint8_t>() == single.labels.to_vector<uint8_t>());
  const auto labels = one.labels.to_vector<uint8_t>();
  const auto probs = one.probs.to_vector<float>();
  for (size_t i = 0; i < labels.size(); ++i)
    for (int k = 0; k < kClasses; ++k)
      ASSERT_EQ(probs[i * kClasses + size_t(k)], labels[i] == k ? 1.f : 0.f) << i;

  o.views = apps::make_views({0.75, 1.0}, true);
  apps::Prediction four = apps::predict_image(tiny_net(), rgb, o, &mem);
  ASSERT_EQ(four.probs.shape(), (engine::Shape{37, 53, kClasses}));
  const auto p4 = four.probs.to_vector<float>();
  for (size_t i = 0; i < p4.size(); ++i) {
    const float quarters = p4[i] * 4.f;
    ASSERT_EQ(quarters, std::round(quarters)) << i;  // each view adds 0 or 1/4
  }
  o.mode = apps::PredictMode::knn_msc_crf;
  apps::Prediction crf = apps::predict_image(tiny_net(), rgb, o, &mem);
  const auto pc = crf.probs.to_vector<float>();
  for (size_t i = 0; i < pc.size(); i += kClasses) {
    float sum = 0;
    for (int k = 0; k < kClasses; ++k) sum += pc[i + size_t(k)];
    ASSERT_NEAR(sum, 1.f, 1e-4f) << i;
  }
  engine::testing::expect_error([&] { apps::predict_image(tiny_net(), rgb, o); },
                                "knn-msc-crf mode needs a prototype memory");
}

TEST(PredictModes, MemoryFilesRoundTripAndBadFilesNameTheProblem) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "predict_modes" / "memory";
  fs::create_directories(dir);
  Quadrants q = quadrants(11);
  spml::PrototypeMemory mem = apps::memory_from_embedding(q.embedding, q.labels, 4, {4, 5}, false);
  const std::string good = (dir / "good.safetensors").string();
  apps::save_memory(good, mem, {{"num_classes", "4"}});
  std::map<std::string, std::string> meta;
  spml::PrototypeMemory back = apps::load_memory(good, 8, &meta);
  EXPECT_EQ(meta["num_classes"], "4");
  EXPECT_TRUE(back.labels.to_vector<int32_t>() == mem.labels.to_vector<int32_t>());
  expect_near(back.prototypes, mem.prototypes, 0);

  const std::string missing = (dir / "missing.safetensors").string();
  engine::testing::expect_error([&] { apps::load_memory(missing, 8); }, missing.c_str());
  engine::testing::expect_error([&] { apps::load_memory(good, 16); },
                                {good, "'prototypes'", "D = 8", "D = 16"});
  const std::string no_labels = (dir / "no_labels.safetensors").string();
  engine::io::save_safetensors(no_labels, {{"prototypes", mem.prototypes}});
  engine::testing::expect_error([&] { apps::load_memory(no_labels, 8); },
                                {no_labels, "no tensor 'labels'"});
  const std::string bad_label = (dir / "bad_label.safetensors").string();
  Tensor l = mem.labels.clone();
  l.data<int32_t>()[0] = 300;
  engine::io::save_safetensors(bad_label, {{"prototypes", mem.prototypes}, {"labels", l}});
  engine::testing::expect_error([&] { apps::load_memory(bad_label, 8); },
                                {bad_label, "'labels' entry 0 is 300"});
  // A memory of the wrong D given straight to knn.
  Tensor e16 = engine::zeros({4, 4, 16}, DType::f32);
  engine::testing::expect_error(
      [&] {
        apps::knn_from_embedding(e16, mem, 4, {2, 1}, {});
      },
      "dimension D = 16");
}

TEST(Overlay, AlphaZeroIsTheImageAndAlphaOneTheColours) {
  Tensor rgb = random_rgb(5, 7, 12);
  Tensor lab = Tensor::empty({5, 7}, DType::u8);
  for (int64_t i = 0; i < 35; ++i) lab.data<uint8_t>()[i] = i == 3 ? 255 : uint8_t(i % 21);
  EXPECT_TRUE(apps::overlay(rgb, lab, 0.f).to_vector<uint8_t>() == rgb.to_vector<uint8_t>());
  Tensor full = apps::overlay(rgb, lab, 1.f);
  Tensor white = apps::overlay(rgb, lab, 1.f, apps::IgnoreStyle::white);
  for (int64_t i = 0; i < 35; ++i) {
    for (int ch = 0; ch < 3; ++ch) {
      const uint8_t got = full.data<uint8_t>()[3 * i + ch];
      if (i == 3) {
        EXPECT_EQ(got, rgb.data<uint8_t>()[3 * i + ch]);  // 255: the image, unblended
        EXPECT_EQ(white.data<uint8_t>()[3 * i + ch], 255);
      } else {
        EXPECT_EQ(got, data::voc_color(lab.data<uint8_t>()[i])[size_t(ch)]) << i;
      }
    }
  }
  // Half and half: (100 + 128) / 2 = 114 for class 1 = (128, 0, 0).
  Tensor one = Tensor::from_vector<uint8_t>({100, 100, 100}, {1, 1, 3});
  Tensor cls = Tensor::from_vector<uint8_t>({1}, {1, 1});
  EXPECT_EQ(apps::overlay(one, cls, 0.5f).to_vector<uint8_t>(),
            (std::vector<uint8_t>{114, 50, 50}));
  engine::testing::expect_error([&] { apps::overlay(rgb, lab.narrow(0, 0, 4), 0.5f); },
                                "differ in size");
  engine::testing::expect_error([&] { apps::write_overlay("/tmp/x.bmp", rgb, lab, 0.5f); },
                                "'/tmp/x.bmp'");
}

// --- the binary ---

int run_predict(const fs::path& dir, const std::string& args) {
  const std::string cmd = std::string(ENGINE_APPS_DIR) + "/predict " + args + " >" +
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

TEST(PredictApp, WritesLabelMapsOverlaysProbabilitiesAndAKnnMemory) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "predict_app";
  fs::remove_all(dir);
  fs::create_directories(dir / "data" / "JPEGImages");
  fs::create_directories(dir / "data" / "ImageSets" / "Segmentation");
  fs::create_directories(dir / "data" / "pseudo");
  fs::create_directories(dir / "data" / "segcls");
  const std::string run = tiny_run().string();
  std::ofstream(dir / "data" / "ImageSets" / "Segmentation" / "train.txt") << "a\nb\n";
  const int64_t sizes[2][2] = {{37, 45}, {30, 26}};
  for (int i = 0; i < 2; ++i) {
    const std::string id = i == 0 ? "a" : "b";
    const int64_t h = sizes[i][0], w = sizes[i][1];
    data::write_jpeg((dir / "data" / "JPEGImages" / (id + ".jpg")).string(),
                     random_rgb(h, w, 20 + i));
    Tensor lab = Tensor::empty({h, w}, DType::u8);
    for (int64_t p = 0; p < h * w; ++p) lab.data<uint8_t>()[p] = uint8_t((p % w) * 3 / w);
    data::write_label_png((dir / "data" / "pseudo" / (id + ".png")).string(), lab);
    data::write_label_png((dir / "data" / "segcls" / (id + ".png")).string(), lab);
  }
  const std::string root = (dir / "data").string();

  const std::string out = (dir / "pred").string();
  ASSERT_EQ(
      run_predict(dir,
                  "--run " + run + " --root " + root + " --split train --out " + out +
                      " --size 48 --mode softmax-crf --overlays --save-probs --crf-iterations 2"),
      0)
      << read_text(dir / "stderr.txt");
  for (int i = 0; i < 2; ++i) {
    const std::string id = i == 0 ? "a" : "b";
    data::LabelMap m = data::read_label_png(out + "/" + id + ".png");
    EXPECT_EQ(m.ids.shape(), (engine::Shape{sizes[i][0], sizes[i][1]}));
    EXPECT_EQ(data::read_image(out + "/overlays/" + id + ".png").shape(),
              (engine::Shape{sizes[i][0], sizes[i][1], 3}));
    EXPECT_EQ(data::read_npy(out + "/" + id + ".probs.npy").shape(),
              (engine::Shape{sizes[i][0], sizes[i][1], kClasses}));
  }
  EXPECT_NE(read_text(out + "/predict.json").find("\"images\": 2"), std::string::npos);
  EXPECT_NE(read_text(out + "/predict.json").find("\"device\": \"cpu\""), std::string::npos);
  EXPECT_NE(read_text(dir / "stdout.txt").find("s per image"), std::string::npos);

  // knn: the memory is built from the pseudo-labels, saved, and reusable with --memory.
  const std::string kout = (dir / "knn").string();
  ASSERT_EQ(run_predict(dir, "--run " + run + " --root " + root + " --split train --out " + kout +
                                 " --mode knn --size 48 --kmeans-grid 4 --memory-list train "
                                 "--memory-labels pseudo"),
            0)
      << read_text(dir / "stderr.txt");
  EXPECT_TRUE(fs::exists(kout + "/memory.safetensors"));
  EXPECT_TRUE(fs::exists(kout + "/a.png"));

  // Ground truth as memory labels must be asked for.
  EXPECT_NE(run_predict(dir, "--run " + run + " --root " + root + " --split train --out " + kout +
                                 " --mode knn --memory-list train --memory-labels segcls"),
            0);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--memory-from-gt"), std::string::npos);
  // A missing memory file is named.
  EXPECT_NE(run_predict(dir, "--run " + run + " --root " + root + " --split train --out " + kout +
                                 " --mode knn --memory " + dir.string() + "/nope.safetensors"),
            0);
  EXPECT_NE(read_text(dir / "stderr.txt").find("nope.safetensors"), std::string::npos);
  // A device this machine does not have is named.
  const std::string absent = "cuda:" + std::to_string(engine::cuda_device_count());
  EXPECT_NE(run_predict(dir, "--device " + absent + " --run " + run + " --root " + root +
                                 " --split train --out " + (dir / "dev").string()),
            0);
  EXPECT_NE(read_text(dir / "stderr.txt").find("predict: --device " + absent + " asked for"),
            std::string::npos)
      << read_text(dir / "stderr.txt");
}

// A DensePose run builds its knn memory from the DensePose layout (spec §7, 24x24 grid by
// default): images from ROOT/lists/<split>.txt, labels from a folder of <id>.png or, asked for,
// the dense ground truth ROOT/segcls/densepose/gray.
TEST(PredictApp, DensePoseKnnBuildsItsMemoryFromTheDensePoseLayout) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "predict_app_densepose";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string root = (dir / "data").string();
  engine::testing::write_tiny_densepose(root, 2, 40, 48);
  apps::TrainConfig c = apps::densepose_defaults();
  c.data_root = root;
  c.blocks = {1, 1, 1, 1};
  c.width = 4;
  c.psp_width = 8;
  c.embedding_dim = 8;
  c.crop = 32;
  c.batch_size = 2;
  c.iterations = 2;
  c.warmup_iters = 0;
  c.loader_threads = 1;
  c.threads = 1;
  c.progress = false;
  c.run_dir = (dir / "run").string();
  apps::train_spml(c);

  const std::string common = "--quiet --run " + c.run_dir + " --root " + root +
                             " --split train --size 48 --mode knn --kmeans-grid 4 ";
  const std::string gt_out = (dir / "gt").string();
  ASSERT_EQ(run_predict(dir, common + "--out " + gt_out + " --memory-list train --memory-from-gt"),
            0)
      << read_text(dir / "stderr.txt");
  EXPECT_NE(read_text(dir / "stderr.txt").find("segcls/densepose/gray"), std::string::npos);
  std::map<std::string, std::string> meta;
  const spml::PrototypeMemory memory =
      apps::load_memory(gt_out + "/memory.safetensors", c.embedding_dim, &meta);
  EXPECT_GT(memory.prototypes.size(0), 0);
  EXPECT_EQ(meta["label_source"], "ground-truth");
  EXPECT_EQ(meta["num_classes"], "15");
  for (const char* id : {"img0", "img1"}) {
    const Tensor pred = data::read_label_png(gt_out + "/" + id + ".png").ids;
    ASSERT_EQ(pred.shape(), (engine::Shape{40, 48}));
    for (uint8_t v : pred.to_vector<uint8_t>()) ASSERT_TRUE(v < 15 || v == 255) << int(v);
  }
  // Weak labels from a folder (here the point labels) work the same way...
  ASSERT_EQ(run_predict(dir, common + "--out " + (dir / "points").string() +
                                 " --memory-list train --memory-labels "
                                 "segcls/densepose_points/gray --memory-labelled-only"),
            0)
      << read_text(dir / "stderr.txt");
  EXPECT_TRUE(fs::exists(dir / "points" / "img1.png"));
  // ...but the ground-truth folder given as --memory-labels is refused,
  EXPECT_NE(run_predict(dir, common + "--out " + (dir / "bad").string() +
                                 " --memory-list train --memory-labels segcls/densepose/gray"),
            0);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--memory-from-gt"), std::string::npos);
  // and a missing label file is named before any network pass.
  fs::remove(fs::path(root) / "segcls" / "densepose" / "gray" / "img1.png");
  EXPECT_NE(run_predict(dir, common + "--out " + (dir / "bad").string() +
                                 " --memory-list train --memory-from-gt"),
            0);
  EXPECT_NE(read_text(dir / "stderr.txt").find("memory label"), std::string::npos);
  EXPECT_NE(read_text(dir / "stderr.txt").find("img1.png"), std::string::npos);
}

}  // namespace
