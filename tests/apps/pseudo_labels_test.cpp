// Pseudo-label stage (apps/common/pseudo_labels.h): the pure steps on hand-made embeddings,
// probabilities and CAMs, and the network path on a tiny random model.
#include "apps/common/pseudo_labels.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/config.h"
#include "apps/common/run_folder.h"
#include "apps/common/stage1_model.h"
#include "apps/common/train_loop.h"
#include "data/image_io.h"
#include "data/npy.h"
#include "data/synthetic.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "engine/ops/factory.h"
#include "engine/random.h"
#include "spml/segments.h"
#include "support/densepose_fixture.h"
#include "support/expect_error.h"

namespace {

using engine::Tensor;

std::string scratch(const std::string& name) {
  const std::string dir = std::string(ENGINE_TEST_SCRATCH) + "/pseudo_labels";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

// h×w map whose left half points along e0 and right half along e1 (D = 3; the third axis stays
// 0), so the two halves have cosine 0 and the walk never crosses between them.
Tensor split_embedding(int64_t h, int64_t w) {
  Tensor e = engine::zeros({h, w, 3});
  float* p = e.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) p[(y * w + x) * 3 + (x < w / 2 ? 0 : 1)] = 1.0f;
  return e;
}

// H×W image: dark left half, bright right half.
Tensor split_image(int64_t h, int64_t w) {
  Tensor img = Tensor::empty({h, w, 3}, engine::DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) p[(y * w + x) * 3 + c] = x < w / 2 ? 20 : 230;
  return img;
}

// Expects class `left` on the left half and `right` on the right half of a u8 [H, W] label.
void expect_halves(const Tensor& label, int left, int right) {
  ASSERT_EQ(label.dtype(), engine::DType::u8);
  const int64_t h = label.size(0), w = label.size(1);
  const uint8_t* p = label.contiguous().data<uint8_t>();
  int64_t wrong = 0;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) wrong += p[y * w + x] != (x < w / 2 ? left : right);
  EXPECT_EQ(wrong, 0) << "of " << h * w << " pixels";
}

TEST(PseudoLabels, WalkSizeAndEmbedding) {
  EXPECT_EQ(apps::walk_size(97, 130), (std::pair<int64_t, int64_t>{12, 16}));
  EXPECT_EQ(apps::walk_size(5, 9), (std::pair<int64_t, int64_t>{1, 1}));
  engine::Generator gen(3);
  Tensor e = apps::walk_embedding(engine::randn({40, 24, 5}, gen), 5, 3);
  ASSERT_EQ(e.shape(), (engine::Shape{5, 3, 5}));
  const float* p = e.data<float>();
  for (int64_t i = 0; i < 15; ++i) {
    double n = 0;
    for (int c = 0; c < 5; ++c) n += double(p[i * 5 + c]) * p[i * 5 + c];
    EXPECT_NEAR(n, 1.0, 1e-5);
  }
  engine::testing::expect_error(
      [] {
        apps::walk_embedding(engine::zeros({4, 4}), 2, 2);
      },
      "walk_embedding: expected CPU f32 [H, W, D]");
}

TEST(PseudoLabels, PresentClassesFromLabelAndTags) {
  Tensor label = Tensor::from_vector<uint8_t>({2, 255, 4, 2, 9, 255}, {2, 3});
  EXPECT_EQ(apps::present_classes(label, 0, 5, false),
            (std::vector<bool>{false, false, true, false, true}));
  // Tags (bits 1 and 3) plus background, no label; bit 7 is beyond the classes.
  EXPECT_EQ(apps::present_classes(Tensor(), (1u << 1) | (1u << 3) | (1u << 7), 5, true),
            (std::vector<bool>{true, true, false, true, false}));
}

TEST(PseudoLabels, RandomWalkReproducesSeededClassesWithAndWithoutCrf) {
  const int64_t H = 32, W = 48;
  auto [h, w] = apps::walk_size(H, W);
  ASSERT_EQ(h, 4);
  ASSERT_EQ(w, 6);
  std::vector<Tensor> views{apps::walk_embedding(split_embedding(h, w), h, w)};
  // One seed pixel per class: class 1 at the top-left corner, class 2 at the bottom-right one.
  Tensor seeds = engine::zeros({h, w, 3});
  seeds.data<float>()[1] = 1.0f;
  seeds.data<float>()[(h * w - 1) * 3 + 2] = 1.0f;
  apps::PseudoLabelOptions opt;
  for (bool crf : {false, true}) {
    SCOPED_TRACE(crf ? "crf" : "no crf");
    opt.crf = crf;
    expect_halves(apps::random_walk_label(views, seeds, split_image(H, W), opt), 1, 2);
  }
}

TEST(PseudoLabels, AbsentClassesNeverAppear) {
  // The joint head prefers class 0 everywhere, but the weak label only mentions 1 and 2: class 0
  // is zeroed in the seeds and must not come back through the walk or the CRF.
  const int64_t H = 32, W = 48;
  auto [h, w] = apps::walk_size(H, W);
  Tensor logits = engine::zeros({H, W, 3});
  float* l = logits.data<float>();
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      float* px = l + (y * W + x) * 3;
      px[0] = 5.0f;
      px[x < W / 2 ? 1 : 2] = 2.0f;
    }
  const std::vector<bool> present{false, true, true};
  Tensor seeds = apps::softmax_seeds({logits, logits}, h, w, present);
  ASSERT_EQ(seeds.shape(), (engine::Shape{h, w, 3}));
  std::vector<float> s = seeds.to_vector<float>();
  float mx1 = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    EXPECT_EQ(s[size_t(i * 3)], 0.0f);
    mx1 = std::max(mx1, s[size_t(i * 3 + 1)]);
  }
  EXPECT_FLOAT_EQ(mx1, 1.0f);  // per-class max normalization
  apps::PseudoLabelOptions opt;
  std::vector<Tensor> views{apps::walk_embedding(split_embedding(h, w), h, w)};
  for (bool crf : {false, true}) {
    opt.crf = crf;
    expect_halves(apps::random_walk_label(views, seeds, split_image(H, W), opt), 1, 2);
  }
}

TEST(PseudoLabels, CamSeedsMaskAbsentTagsAndSetBackground) {
  // Two foreground maps of a 16×16 image: class 1 high on the left, class 2 (not tagged) high
  // everywhere.
  Tensor cams = engine::zeros({16, 16, 2});
  float* c = cams.data<float>();
  for (int64_t y = 0; y < 16; ++y)
    for (int64_t x = 0; x < 16; ++x) {
      c[(y * 16 + x) * 2] = x < 8 ? 0.9f : 0.0f;
      c[(y * 16 + x) * 2 + 1] = 0.8f;
    }
  Tensor s = apps::cam_seeds(cams, {true, true, false}, 2, 2, 6.0f);
  ASSERT_EQ(s.shape(), (engine::Shape{2, 2, 3}));
  std::vector<float> v = s.to_vector<float>();
  // Left column: bg = (1 − 0.9)^6, class 1 = 0.9; right column: bg = 1; class 2 zeroed.
  EXPECT_NEAR(v[0], std::pow(0.1f, 6.0f), 1e-7);
  EXPECT_NEAR(v[1], 0.9f, 1e-6);
  EXPECT_NEAR(v[3], 1.0f, 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(v[size_t(i * 3 + 2)], 0.0f);
  engine::testing::expect_error(
      [&] {
        apps::cam_seeds(cams, {true, true}, 2, 2);
      },
      "2 foreground CAM maps need 3 class flags");
}

TEST(PseudoLabels, CamNpyLayoutAndShapeErrors) {
  // [C-1, H, W] = [2, 3, 4] with value 100·c + 10·y + x.
  std::vector<float> v;
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) v.push_back(float(100 * c + 10 * y + x));
  const std::string f = scratch("cam.npy");
  data::write_npy(f, Tensor::from_vector<float>(v, {2, 3, 4}));
  Tensor cams = apps::read_cam_npy(f, 3, 3, 4);
  ASSERT_EQ(cams.shape(), (engine::Shape{3, 4, 2}));
  std::vector<float> got = cams.to_vector<float>();
  EXPECT_EQ(got[(2 * 4 + 1) * 2 + 1], 121.0f);  // y 2, x 1, map 1
  EXPECT_EQ(got[(1 * 4 + 3) * 2 + 0], 13.0f);
  engine::testing::expect_error(
      [&] { apps::read_cam_npy(f, 21, 3, 4); },
      {"cam.npy", "expected shape [C-1, H, W] = [20, 3, 4]", "[2, 3, 4]"});
  engine::testing::expect_error([&] { apps::read_cam_npy(f, 3, 4, 3); }, "[2, 4, 3]");
  const std::string g = scratch("cam_i32.npy");
  data::write_npy(g, Tensor::from_vector<int32_t>({1, 2}, {2, 1, 1}));
  engine::testing::expect_error([&] { apps::read_cam_npy(g, 3, 1, 1); },
                                {"cam_i32.npy", "expected a float32 array"});
}

TEST(PseudoLabels, KnnMemoryVotesAndLabels) {
  // 8×12 view, left half class 3, right half class 1: the memory's prototypes carry those labels
  // (no empty clusters kept), and querying the same embedding labels each half accordingly.
  apps::PseudoLabelOptions opt;
  opt.kmeans.grid = 2;
  opt.knn.k = 2;
  Tensor e = apps::walk_embedding(split_embedding(8, 12), 8, 12);
  Tensor lab = Tensor::empty({8, 12}, engine::DType::u8);
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 12; ++x) lab.data<uint8_t>()[y * 12 + x] = x < 6 ? 3 : 1;
  // With iterations the two left (and the two right) clusters share one prototype, ties go to
  // the lower id and the other cluster of each pair empties: it is dropped from the memory.
  EXPECT_EQ(apps::view_memory(e, lab, opt).prototypes.size(0), 2);
  opt.kmeans.iterations = 0;  // the 2×2 grid itself: every cluster populated
  spml::PrototypeMemory mem = apps::view_memory(e, lab, opt);
  ASSERT_EQ(mem.prototypes.size(0), 4);
  std::multiset<int32_t> labels;
  for (int32_t l : mem.labels.to_vector<int32_t>()) labels.insert(l);
  EXPECT_EQ(labels, (std::multiset<int32_t>{1, 1, 3, 3}));

  Tensor scores = apps::knn_view_scores(e, mem, 4, 16, 24, opt);
  ASSERT_EQ(scores.shape(), (engine::Shape{16, 24, 4}));
  const std::vector<bool> tags{true, true, false, true};
  for (bool crf : {false, true}) {
    opt.crf = crf;
    expect_halves(apps::knn_label({scores, scores}, tags, split_image(16, 24), opt), 3, 1);
  }
}

TEST(PseudoLabels, KnnMemoryFileRoundTripAndErrors) {
  Tensor p = Tensor::from_vector<float>({3, 0, 0, 2, 1, 1}, {3, 2});
  Tensor l = Tensor::from_vector<int32_t>({1, 255, 2}, {3});
  const std::string f = scratch("memory.safetensors");
  apps::save_knn_memory(f, spml::make_prototype_memory(p, l), 7);
  spml::PrototypeMemory m = apps::load_knn_memory(f);
  EXPECT_EQ(m.labels.to_vector<int32_t>(), (std::vector<int32_t>{1, 255, 2}));
  std::vector<float> got = m.prototypes.to_vector<float>();
  EXPECT_FLOAT_EQ(got[0], 1.0f);
  EXPECT_FLOAT_EQ(got[3], 1.0f);
  EXPECT_NEAR(got[4], 0.70710678f, 1e-6);
  EXPECT_EQ(engine::io::load_safetensors(f).metadata.at("images"), "7");

  const std::string bad = scratch("memory_bad.safetensors");
  engine::io::save_safetensors(bad, {{"prototypes", p}, {"labels", p}});
  engine::testing::expect_error([&] { apps::load_knn_memory(bad); },
                                {"memory_bad.safetensors", "'labels' must be I32 [M]"});
  engine::io::save_safetensors(bad, {{"prototypes", p}});
  engine::testing::expect_error([&] { apps::load_knn_memory(bad); }, "labels");
}

// ---------------------------------------------------------------------------------------------
// DensePose points (§6.1 "DensePose point").

TEST(PseudoLabels, NearestLabeledSegmentTakesTheMostSimilarLabel) {
  // Segments 0 and 1 are labeled (2 and 5); 2 leans towards 0, 3 towards 1; 4 is a zero
  // prototype, equally far from both: the tie goes to the lower index (segment 0).
  const Tensor protos =
      Tensor::from_vector<float>({1, 0, 0, 1, 0.8f, 0.6f, 0.1f, 0.995f, 0, 0}, {5, 2});
  const Tensor labels = Tensor::from_vector<int32_t>({2, 5, spml::kUnlabeledSegment, -1, -1}, {5});
  EXPECT_EQ(apps::nearest_labeled_segment_labels(protos, labels).to_vector<int32_t>(),
            (std::vector<int32_t>{2, 5, 2, 5, 2}));
  // No labeled segment: nothing to copy from.
  const Tensor none = Tensor::from_vector<int32_t>({-1, -1, -1, -1, -1}, {5});
  EXPECT_EQ(apps::nearest_labeled_segment_labels(protos, none).to_vector<int32_t>(),
            (std::vector<int32_t>{-1, -1, -1, -1, -1}));
  engine::testing::expect_error(
      [&] { apps::nearest_labeled_segment_labels(protos, Tensor::from_vector<int32_t>({1}, {1})); },
      "labels must be i32 [S] with S = 5");
}

TEST(PseudoLabels, DensePoseSegmentsSpreadPointLabelsAndSeed) {
  EXPECT_EQ(apps::stride2_size(7, 10), (std::pair<int64_t, int64_t>{4, 5}));
  // Left half along e0, right half along e1; one labeled pixel per half (class 3 left,
  // background right), the rest 255: every segment takes its own half's label.
  const int64_t h = 8, w = 8;
  Tensor ann = Tensor::empty({h, w}, engine::DType::u8);
  std::fill_n(ann.data<uint8_t>(), h * w, uint8_t(255));
  ann.data<uint8_t>()[2 * w + 1] = 3;
  ann.data<uint8_t>()[5 * w + 6] = 0;
  const Tensor labels =
      apps::densepose_segment_labels(split_embedding(h, w), ann, 15, {.grid = 2, .iterations = 3});
  ASSERT_EQ(labels.shape(), (engine::Shape{h, w}));
  const std::vector<int32_t> l = labels.to_vector<int32_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      ASSERT_EQ(l[size_t(y * w + x)], x < w / 2 ? 3 : 0) << y << "," << x;

  // One-hot at 8×8 -> 4×4, max-normalized; class 5 is not present and stays 0 even where set.
  std::vector<bool> present(15, false);
  present[0] = present[3] = true;
  Tensor with5 = labels.clone();
  with5.data<int32_t>()[0] = 5;
  const Tensor seeds = apps::one_hot_seeds(with5, 15, 4, 4, present);
  ASSERT_EQ(seeds.shape(), (engine::Shape{4, 4, 15}));
  const float* sp = seeds.data<float>();
  EXPECT_FLOAT_EQ(sp[(1 * 4 + 0) * 15 + 3], 1.0f);
  EXPECT_FLOAT_EQ(sp[(1 * 4 + 0) * 15 + 0], 0.0f);
  EXPECT_FLOAT_EQ(sp[(2 * 4 + 3) * 15 + 0], 1.0f);
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(sp[i * 15 + 5], 0.0f);

  // Step 6: 255 in the annotation wins.
  const Tensor label = Tensor::from_vector<uint8_t>({1, 2, 3, 4}, {2, 2});
  const Tensor a = Tensor::from_vector<uint8_t>({255, 0, 7, 255}, {2, 2});
  EXPECT_EQ(apps::restore_unlabeled(label, a).to_vector<uint8_t>(),
            (std::vector<uint8_t>{255, 2, 3, 255}));
  engine::testing::expect_error([&] { apps::restore_unlabeled(label, ann); }, "of one shape");
}

// A Stage1 with a tiny random network: the network path must produce labels of the image's size
// whose classes all lie in the present set.
apps::Stage1 tiny_stage1() {
  apps::Stage1 s;
  s.config.blocks = {1, 1, 1, 1};
  s.config.width = 4;
  s.config.embedding_dim = 8;
  s.config.aspp_rates = {1, 2};
  s.num_classes = 4;
  s.model = apps::build_embedding_model(s.config);
  s.classifier = std::make_unique<models::SoftmaxClassifier>(8, 4, 0.75, 5);
  s.model->eval();
  s.classifier->eval();
  return s;
}

std::set<int> classes_of(const Tensor& label) {
  std::set<int> out;
  for (uint8_t v : label.to_vector<uint8_t>()) out.insert(v);
  return out;
}

TEST(PseudoLabels, NetworkPathsKeepToPresentClasses) {
  apps::Stage1 net = tiny_stage1();
  engine::Generator gen(11);
  Tensor f = engine::rand({24, 40, 3}, gen);
  Tensor img = Tensor::empty({24, 40, 3}, engine::DType::u8);
  for (int64_t i = 0; i < img.numel(); ++i)
    img.data<uint8_t>()[i] = uint8_t(f.data<float>()[i] * 255.0f);
  apps::PseudoLabelOptions opt;
  opt.kmeans.grid = 3;
  opt.memory_scales = {1.0};
  const std::vector<bool> present{false, true, false, true};

  Tensor rw = apps::random_walk_pseudo_label(net, img, present, Tensor(), opt);
  ASSERT_EQ(rw.shape(), (engine::Shape{24, 40}));
  for (int c : classes_of(rw)) EXPECT_TRUE(c == 1 || c == 3) << c;

  Tensor cams = engine::rand({24, 40, 3}, gen);
  Tensor rc = apps::random_walk_pseudo_label(net, img, present, cams, opt);
  for (int c : classes_of(rc)) EXPECT_TRUE(c == 0 || c == 1 || c == 3) << c;  // bg from (1−max)^6
  engine::testing::expect_error(
      [&] {
        apps::random_walk_pseudo_label(net, img, present, engine::rand({24, 40, 2}, gen), opt);
      },
      "CAMs must be [H, W, C-1] = [24, 40, 3]");

  spml::PrototypeMemory mem = apps::image_knn_memory(net, img, rw, opt);
  EXPECT_GT(mem.prototypes.size(0), 0);
  EXPECT_EQ(mem.prototypes.size(1), 8);
  for (int32_t l : mem.labels.to_vector<int32_t>()) EXPECT_TRUE(l == 1 || l == 3) << l;
  opt.query_scales = {1.0};
  Tensor knn = apps::knn_pseudo_label(net, img, {true, true, false, true}, mem, opt);
  ASSERT_EQ(knn.shape(), (engine::Shape{24, 40}));
  for (int c : classes_of(knn)) EXPECT_TRUE(c == 1 || c == 3) << c;  // only 1 and 3 get votes
}

// The built binary on a 2-image synthetic dataset and a run folder holding a tiny random network:
// files, list, --gt-check, --skip-existing, the kNN pass with its memory file, and a missing CAM.
namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int run_app(const fs::path& dir, const std::string& args) {
  // One thread: the test suite runs beside other work, where OpenMP teams mostly wait.
  const std::string cmd = std::string(ENGINE_APPS_DIR) + "/pseudo_label --threads 1 --window 0 " +
                          args + " >" + (dir / "stdout.txt").string() + " 2>" +
                          (dir / "stderr.txt").string();
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(PseudoLabelApp, WritesLabelsListAndKnnMemory) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "pseudo_label_app";
  fs::remove_all(dir);
  fs::create_directories(dir);
  data::SyntheticDatasetSpec spec;
  spec.root = (dir / "data").string();
  spec.num_train = 2;
  spec.num_val = 1;
  data::write_synthetic_dataset(spec, 1, false);

  apps::TrainConfig cfg;
  cfg.data_root = spec.root;
  cfg.supervision = "scribble";
  cfg.blocks = {1, 1, 1, 1};
  cfg.width = 4;
  cfg.embedding_dim = 8;
  cfg.aspp_rates = {1, 2};
  cfg.crop = 64;
  const std::string run = (dir / "run").string();
  apps::RunFolder folder(run);
  folder.write_config(apps::to_json(cfg));
  auto model = apps::build_embedding_model(cfg);
  models::SoftmaxClassifier head(8, 6, 0.75, 3);
  engine::io::NamedTensors weights = model->state_dict();
  for (auto& kv : head.state_dict()) weights.push_back(kv);
  folder.save_checkpoint(1, weights, {}, R"({"step": 1})", 1);

  const fs::path out = dir / "pseudo";
  ASSERT_EQ(run_app(dir, "--quiet --gt-check --run " + run + " --out " + out.string()), 0)
      << read_text(dir / "stderr.txt");
  const std::string list = read_text(out / "list.txt");
  EXPECT_EQ(list, "train_000000\ntrain_000001\n");
  EXPECT_NE(read_text(dir / "stdout.txt").find("gt-check: 2 images, mIoU"), std::string::npos)
      << read_text(dir / "stdout.txt");
  for (const char* id : {"train_000000", "train_000001"}) {
    data::LabelMap m = data::read_label_png((out / (std::string(id) + ".png")).string());
    EXPECT_EQ(m.encoding, data::LabelEncoding::grayscale);
    ASSERT_EQ(m.ids.shape(), (engine::Shape{96, 128}));
    for (uint8_t v : m.ids.to_vector<uint8_t>()) ASSERT_LT(v, 6);
  }

  // --skip-existing keeps files that are there and writes the missing one.
  const fs::path kept = out / "train_000000.png";
  data::write_region_png(kept.string(), engine::zeros({96, 128}, engine::DType::i32));
  fs::remove(out / "train_000001.png");
  ASSERT_EQ(
      run_app(dir, "--quiet --skip-existing --no-crf --run " + run + " --out " + out.string()), 0)
      << read_text(dir / "stderr.txt");
  EXPECT_TRUE(fs::exists(out / "train_000001.png"));
  for (uint8_t v : data::read_label_png(kept.string()).ids.to_vector<uint8_t>()) ASSERT_EQ(v, 0);
  EXPECT_NE(read_text(dir / "stderr.txt").find("1 written, 1 kept"), std::string::npos)
      << read_text(dir / "stderr.txt");

  const fs::path mem = dir / "memory.safetensors";
  ASSERT_EQ(run_app(dir, "--quiet --method knn --supervision tag --memory-labels " + out.string() +
                             " --memory " + mem.string() + " --run " + run + " --out " +
                             (dir / "knn").string()),
            0)
      << read_text(dir / "stderr.txt");
  EXPECT_EQ(apps::load_knn_memory(mem.string()).prototypes.size(1), 8);
  EXPECT_EQ(read_text(dir / "knn" / "list.txt"), list);

  // A CAM folder without the image's file: the error names the file.
  fs::create_directories(dir / "cams");
  EXPECT_EQ(run_app(dir, "--quiet --supervision tag --cam-dir " + (dir / "cams").string() +
                             " --run " + run + " --out " + (dir / "cam_out").string()),
            1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("train_000000.npy"), std::string::npos)
      << read_text(dir / "stderr.txt");

  // A device this machine does not have is named.
  const std::string absent = "cuda:" + std::to_string(engine::cuda_device_count());
  EXPECT_EQ(run_app(dir, "--quiet --device " + absent + " --run " + run + " --out " +
                             (dir / "dev_out").string()),
            1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("pseudo_label: --device " + absent + " asked for"),
            std::string::npos)
      << read_text(dir / "stderr.txt");
}

// A tiny DensePose stage-1 run (3 steps), then the built binary's default method for it
// (densepose-rw): one label per image, classes in 0..14, 255 exactly where the point labels are
// 255 with --restore-unlabeled, and --gt-check against the dense maps; by default every pixel is
// labelled.
TEST(PseudoLabelApp, DensePoseRunGivesPointRestrictedLabels) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "pseudo_label_densepose";
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
  c.iterations = 3;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.loader_threads = 1;
  c.threads = 1;
  c.progress = false;
  c.run_dir = (dir / "run").string();
  apps::train_spml(c);

  const fs::path out = dir / "pseudo";
  ASSERT_EQ(run_app(dir, "--quiet --gt-check --restore-unlabeled --run " + c.run_dir + " --out " +
                             out.string()),
            0)
      << read_text(dir / "stderr.txt");
  EXPECT_EQ(read_text(out / "list.txt"), "img0\nimg1\n");
  const std::string report = read_text(dir / "stdout.txt");
  EXPECT_NE(report.find("gt-check: 2 images, mIoU"), std::string::npos) << report;
  EXPECT_NE(report.find("of the pixels labeled; on those: mIoU"), std::string::npos) << report;
  EXPECT_NE(report.find("Torso"), std::string::npos) << report;
  for (const char* id : {"img0", "img1"}) {
    const Tensor label = data::read_label_png((out / (std::string(id) + ".png")).string()).ids;
    const Tensor points =
        data::read_label_png(root + "/segcls/densepose_points/gray/" + id + ".png").ids;
    ASSERT_EQ(label.shape(), (engine::Shape{40, 48}));
    const std::vector<uint8_t> l = label.to_vector<uint8_t>(), p = points.to_vector<uint8_t>();
    for (size_t i = 0; i < l.size(); ++i) {
      ASSERT_EQ(l[i] == 255, p[i] == 255) << id << " pixel " << i;
      ASSERT_TRUE(l[i] < 15 || l[i] == 255) << int(l[i]);
    }
  }
  ASSERT_EQ(
      run_app(dir, "--quiet --no-crf --run " + c.run_dir + " --out " + (dir / "all").string()), 0)
      << read_text(dir / "stderr.txt");
  for (uint8_t v :
       data::read_label_png((dir / "all" / "img1.png").string()).ids.to_vector<uint8_t>())
    ASSERT_LT(v, 15);
  // VOC options do not apply to a DensePose run.
  EXPECT_EQ(
      run_app(dir, "--quiet --method rw --run " + c.run_dir + " --out " + (dir / "bad").string()),
      1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("use densepose-rw"), std::string::npos)
      << read_text(dir / "stderr.txt");
}

}  // namespace
