// Stage-2 classifier training (apps/common/classifier_loop.h) on a tiny synthetic dataset with a
// tiny stage-1 run made in-process: config round trip and validation, the loss going down, the
// run folder loading back with load_stage1, and an exact resume.
#include "apps/common/classifier_loop.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "apps/common/classifier_config.h"
#include "apps/common/config.h"
#include "apps/common/pseudo_labels.h"
#include "apps/common/stage1_model.h"
#include "apps/common/train_loop.h"
#include "data/densepose.h"
#include "data/image_io.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "support/densepose_fixture.h"
#include "support/expect_error.h"
#include "support/process_scratch.h"
#include "support/tiny_voc_run.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;

const std::string& scratch() {
  static const std::string dir =
      engine::testing::process_scratch(ENGINE_TEST_SCRATCH, "classifier_loop");
  return dir;
}

const std::string& dataset_root() {
  static const std::string root = [] {
    std::string r = scratch() + "/data";
    if (!fs::exists(r + "/ImageSets/Segmentation/train.txt")) {
      engine::testing::write_tiny_voc(r, 11, 8, 2, 40, 48);
    }
    return r;
  }();
  return root;
}

// A 10-step stage-1 run with a tiny network (made once per test process).
const std::string& stage1_run() {
  static const std::string run = [] {
    apps::TrainConfig c = engine::testing::tiny_train_config(dataset_root(), scratch() + "/stage1");
    c.iterations = 10;
    fs::remove_all(c.run_dir);
    apps::train_spml(c);
    return c.run_dir;
  }();
  return run;
}

apps::ClassifierConfig tiny_config(const std::string& name, int64_t iterations) {
  apps::ClassifierConfig c;
  c.run = stage1_run();
  c.labels = "segcls";  // the full ground truth stands in for pseudo-labels
  c.crop = 32;
  c.batch_size = 4;
  c.iterations = iterations;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.loader_threads = 2;
  c.keep_checkpoints = 2;
  c.progress = false;
  c.run_dir = scratch() + "/" + name;
  fs::remove_all(c.run_dir);
  return c;
}

std::map<std::string, std::vector<float>> tensors_with_prefix(const std::string& file,
                                                              const std::string& prefix,
                                                              bool want) {
  std::map<std::string, std::vector<float>> out;
  for (auto& [name, t] : engine::io::load_safetensors(file).tensors)
    if ((name.rfind(prefix, 0) == 0) == want && t.dtype() == engine::DType::f32)
      out[name] = t.contiguous().to_vector<float>();
  return out;
}

TEST(ClassifierConfig, JsonRoundTripKeepsEveryField) {
  apps::ClassifierConfig c;
  c.run = "runs/s1";
  c.labels = "/tmp/pseudo \"x\"";
  c.lr = 0.0123;
  c.flip = false;
  c.seed = 99;
  c.run_step = 40;
  c.blur_sigma_max = 3.5;
  const std::string json = apps::to_json(c);
  apps::ClassifierConfig back;
  apps::apply_json(back, json, "test");
  EXPECT_EQ(apps::to_json(back), json);
  EXPECT_EQ(back.labels, c.labels);
  EXPECT_EQ(back.lr, 0.0123);
  EXPECT_FALSE(back.flip);
  EXPECT_EQ(back.seed, 99u);
}

TEST(ClassifierConfig, DefaultsAreTheSpecRecipe) {
  apps::ClassifierConfig c;
  EXPECT_EQ(c.batch_size, 16);
  EXPECT_EQ(c.iterations, 4000);
  EXPECT_EQ(c.lr, 3e-3);
  EXPECT_EQ(c.head_lr_mult, 10.0);
  EXPECT_EQ(c.poly_power, 0.9);
  EXPECT_EQ(c.warmup_iters, 100);
  EXPECT_EQ(c.weight_decay, 5e-4);
  EXPECT_EQ(c.momentum, 0.9);
  EXPECT_EQ(c.scale_min, 0.5);
  EXPECT_EQ(c.scale_max, 2.0);
  EXPECT_EQ(c.crop, 512);
  EXPECT_EQ(c.grayscale_p, 0.3);
  EXPECT_EQ(c.blur_p, 0.5);
  EXPECT_EQ(c.dropout, 0.65);
}

TEST(ClassifierConfig, ValidationAndJsonErrorsNameTheField) {
  apps::ClassifierConfig c;
  c.labels = "x";
  engine::testing::expect_error([&] { apps::validate(c); }, "run (the stage-1 run folder");
  c.run = "r";
  c.labels = "";
  engine::testing::expect_error([&] { apps::validate(c); }, "labels");
  c.labels = "x";
  apps::validate(c);
  c.grayscale_p = 1.5;
  engine::testing::expect_error([&] { apps::validate(c); }, "grayscale_p must be in [0, 1]");
  c.grayscale_p = 0.3;
  c.dropout = 1.0;
  engine::testing::expect_error([&] { apps::validate(c); }, "dropout");
  c.dropout = 0.65;
  c.warmup_iters = c.iterations;
  engine::testing::expect_error([&] { apps::validate(c); }, "warmup_iters");
  c.warmup_iters = 100;
  c.dataset = "coco";
  engine::testing::expect_error([&] { apps::validate(c); }, "dataset must be voc, densepose");
  engine::testing::expect_error([&] { apps::apply_json(c, R"({"lr_mult": 3})", "f.json"); },
                                {"f.json", "unknown classifier setting \"lr_mult\""});
  engine::testing::expect_error([&] { apps::apply_json(c, R"({"crop": "big"})", "f.json"); },
                                {"f.json", "\"crop\" has the wrong type"});
}

TEST(ClassifierLoop, MissingLabelDirectoryIsNamed) {
  apps::ClassifierConfig c = tiny_config("missing_labels", 2);
  c.labels = "no_such_pseudo_labels";
  engine::testing::expect_error([&] { apps::train_classifier(c); },
                                {"pseudo-label directory 'no_such_pseudo_labels'", "data root"});
}

TEST(ClassifierLoop, MissingDeviceStopsBeforeWritingTheRun) {
  apps::ClassifierConfig c = tiny_config("no_device", 2);
  c.device = "cuda:" + std::to_string(engine::cuda_device_count());
  engine::testing::expect_error([&] { apps::train_classifier(c); },
                                {"train_classifier: --device " + c.device, "CUDA device(s)"});
  EXPECT_FALSE(fs::exists(c.run_dir));
  c.device = "gpu";
  EXPECT_THROW(apps::validate(c), engine::Error);
}

TEST(ClassifierLoop, TrainsLoadsBackAndResumesExactly) {
  const int64_t n = 20;
  apps::ClassifierConfig full = tiny_config("uninterrupted", n);
  apps::ClassifierOutcome a = apps::train_classifier(full);
  ASSERT_EQ(a.log.size(), size_t(n));
  ASSERT_FALSE(a.interrupted);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) {
    first += a.log[size_t(i)].loss / 5;
    last += a.log[size_t(n - 5 + i)].loss / 5;
  }
  EXPECT_LT(last, 0.8 * first) << "first 5 steps " << first << ", last 5 " << last;
  EXPECT_GT(a.log.back().pixel_accuracy, 0.5);

  // The run folder: settings, network settings, one metrics line per step.
  EXPECT_TRUE(fs::exists(full.run_dir + "/config.json"));
  EXPECT_TRUE(fs::exists(full.run_dir + "/network.json"));
  std::ifstream metrics(full.run_dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, n);

  // load_stage1 on the classifier run: the new classifier, and the untouched embedding network.
  apps::Stage1 s2 = apps::load_stage1(full.run_dir);
  EXPECT_EQ(s2.step, n);
  EXPECT_EQ(s2.weights_path, a.last_checkpoint);
  EXPECT_EQ(s2.num_classes, 4);
  auto file_cls = tensors_with_prefix(a.last_checkpoint, "semantic_classifier.", true);
  ASSERT_FALSE(file_cls.empty());
  for (auto& [name, t] : s2.classifier->state_dict()) {
    if (t.dtype() != engine::DType::f32) continue;
    ASSERT_TRUE(file_cls.count(name)) << name;
    EXPECT_EQ(t.contiguous().to_vector<float>(), file_cls[name]) << name;
  }
  apps::Stage1 s1 = apps::load_stage1(stage1_run());
  const auto s1_net = tensors_with_prefix(s1.weights_path, "semantic_classifier.", false);
  const auto s2_net = tensors_with_prefix(a.last_checkpoint, "semantic_classifier.", false);
  EXPECT_EQ(s1_net, s2_net) << "the embedding network must stay frozen";
  const auto s1_cls = tensors_with_prefix(s1.weights_path, "semantic_classifier.", true);
  EXPECT_NE(s1_cls, file_cls) << "the classifier is a new one";

  // Stop after 8 steps, resume: the same losses, bit for bit, and the same final weights.
  apps::ClassifierConfig part = tiny_config("interrupted", n);
  part.stop_after = 8;
  apps::ClassifierOutcome b1 = apps::train_classifier(part);
  ASSERT_TRUE(b1.interrupted);
  ASSERT_EQ(b1.steps_done, 8);
  apps::ClassifierConfig again;
  again.resume = part.run_dir;
  again.progress = false;
  apps::ClassifierOutcome b2 = apps::train_classifier(again);
  ASSERT_FALSE(b2.interrupted);
  ASSERT_EQ(b2.steps_done, n);
  ASSERT_EQ(b1.log.size() + b2.log.size(), size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto& got = i < 8 ? b1.log[size_t(i)] : b2.log[size_t(i - 8)];
    EXPECT_EQ(got.step, i + 1);
    EXPECT_EQ(got.loss, a.log[size_t(i)].loss) << "step " << i + 1;
  }
  EXPECT_EQ(tensors_with_prefix(b2.last_checkpoint, "semantic_classifier.", true), file_cls);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// DensePose stage 2 end to end on a tiny layout: a 2-step stage-1 run, pseudo-labels from
// apps::densepose_pseudo_label, a few classifier steps on them (the dataset comes from the
// stage-1 run), the classifier run loading back as a 15-class DensePose network, and predict on
// it.
TEST(ClassifierLoop, DensePoseRunTrainsOnPseudoLabelsAndLoadsBack) {
  const std::string dir = scratch() + "/densepose";
  fs::remove_all(dir);
  const std::string root = dir + "/data";
  engine::testing::write_tiny_densepose(root, 4, 40, 48, 777);
  apps::TrainConfig s1 = apps::densepose_defaults();
  s1.data_root = root;
  s1.blocks = {1, 1, 1, 1};
  s1.width = 4;
  s1.psp_width = 8;
  s1.embedding_dim = 8;
  s1.crop = 32;
  s1.batch_size = 2;
  s1.iterations = 2;
  s1.warmup_iters = 0;
  s1.loader_threads = 1;
  s1.threads = 1;
  s1.progress = false;
  s1.run_dir = dir + "/stage1";
  apps::train_spml(s1);

  apps::Stage1 net = apps::load_stage1(s1.run_dir);
  ASSERT_EQ(net.num_classes, data::kDensePoseClasses);
  data::DensePoseDataset ds(root, root + "/lists/train.txt");
  fs::create_directories(dir + "/pseudo");
  apps::PseudoLabelOptions opt;
  opt.window = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const data::Sample s = ds.get(i);
    const Tensor label = apps::densepose_pseudo_label(net, s.image, s.label, opt);
    data::write_gray_png(dir + "/pseudo/" + s.id + ".png", label);
  }

  apps::ClassifierConfig c;
  c.run = s1.run_dir;
  c.labels = dir + "/pseudo";
  c.crop = 32;
  c.batch_size = 2;
  c.iterations = 3;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.loader_threads = 1;
  c.threads = 1;
  c.progress = false;
  c.run_dir = dir + "/stage2";
  const apps::ClassifierOutcome out = apps::train_classifier(c);
  ASSERT_EQ(out.steps_done, 3);
  for (const apps::ClassifierStepLog& s : out.log) EXPECT_TRUE(std::isfinite(s.loss)) << s.step;
  apps::ClassifierConfig stored;
  apps::apply_json_file(stored, c.run_dir + "/config.json");
  EXPECT_EQ(stored.dataset, "densepose");
  apps::Stage1 back = apps::load_stage1(c.run_dir);
  EXPECT_EQ(back.num_classes, data::kDensePoseClasses);
  EXPECT_EQ(back.config.dataset, "densepose");

  // predict takes the DensePose layout and defaults (longer side 640) from the run.
  const std::string pred = dir + "/pred";
  const std::string cmd = std::string(ENGINE_APPS_DIR) + "/predict --quiet --threads 1 --run " +
                          c.run_dir + " --root " + root + " --split train --out " + pred + " >" +
                          dir + "/predict.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir + "/predict.log");
  for (const char* id : {"img0", "img1", "img2", "img3"}) {
    const Tensor p = data::read_label_png(pred + "/" + id + ".png").ids;
    ASSERT_EQ(p.shape(), (engine::Shape{40, 48}));
    for (uint8_t v : p.to_vector<uint8_t>()) ASSERT_LT(v, data::kDensePoseClasses);
  }
  EXPECT_NE(read_file(pred + "/predict.json").find("\"size\": 640"), std::string::npos);

  // A pseudo-label folder missing an image's file is named before training starts.
  fs::remove(dir + "/pseudo/img2.png");
  c.run_dir = dir + "/stage2_missing";
  engine::testing::expect_error([&] { apps::train_classifier(c); }, "has no 'img2.png'");
}

}  // namespace
