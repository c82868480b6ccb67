// End-to-end: the train_densepose path (apps::densepose_defaults + apps::train_spml) on a tiny
// DensePose-layout dataset (tests/support/densepose_fixture.h, spec §10.3: lists/<split>.txt,
// gray part maps, point labels, region maps), with a tiny PSPNet model on the CPU; and the built
// train_densepose binary's --help and --print-config.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "apps/common/config.h"
#include "apps/common/stage1_model.h"
#include "apps/common/train_loop.h"
#include "data/densepose.h"
#include "engine/device.h"
#include "engine/ops/factory.h"
#include "engine/tensor.h"
#include "tests/support/densepose_fixture.h"
#include "tests/support/expect_error.h"
#include "tests/support/process_scratch.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;

const std::string& dataset_root() {
  static const std::string root = [] {
    const std::string r =
        engine::testing::process_scratch(ENGINE_TEST_SCRATCH, "train_densepose_e2e_data");
    engine::testing::write_tiny_densepose(r, 8, 56, 64, 12345, /*with_regions=*/true);
    return r;
  }();
  return root;
}

apps::TrainConfig tiny_config(const std::string& run) {
  apps::TrainConfig c = apps::densepose_defaults();
  c.data_root = dataset_root();
  c.blocks = {1, 1, 1, 1};
  c.width = 8;
  c.psp_width = 16;
  c.embedding_dim = 8;
  c.crop = 48;
  c.batch_size = 4;
  c.iterations = 20;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.loader_threads = 2;
  // One compute thread: on a loaded 2-core machine two OpenMP threads spend most of a step
  // waiting for each other (20x slower in our measurement).
  c.threads = 1;
  c.checkpoint_every = 1000;
  c.keep_checkpoints = 1;
  c.progress = false;
  c.run_dir = std::string(ENGINE_TEST_SCRATCH) + "/train_densepose_e2e/" + run;
  fs::remove_all(c.run_dir);
  return c;
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TrainDensePoseE2E, DefaultsAreTheDensePoseRecipe) {
  const apps::TrainConfig c = apps::densepose_defaults();
  EXPECT_EQ(c.dataset, "densepose");
  EXPECT_EQ(c.head, "pspnet");
  EXPECT_EQ(c.embedding_dim, 32);
  EXPECT_EQ(c.iterations, 45000);
  EXPECT_EQ(c.crop, 512);
  EXPECT_EQ(c.psp_width, 512);
  EXPECT_EQ(apps::resolved_preset(c), "densepose_point");
  apps::TrainConfig no_preset = c;
  no_preset.preset.clear();
  EXPECT_EQ(apps::resolved_preset(no_preset), "densepose_point");
  // Old run folders' config.json files have none of the new keys: VOC and DeepLab.
  apps::TrainConfig old;
  apps::apply_json(old, R"({"data_root": "x", "embedding_dim": 16})", "old config");
  EXPECT_EQ(old.dataset, "voc");
  EXPECT_EQ(old.head, "deeplab");
  EXPECT_EQ(old.psp_width, 512);
  // The new keys round-trip.
  apps::TrainConfig back;
  apps::apply_json(back, apps::to_json(c), "round trip");
  EXPECT_EQ(back.dataset, "densepose");
  EXPECT_EQ(back.head, "pspnet");
  EXPECT_EQ(back.psp_width, 512);
}

TEST(TrainDensePoseE2E, ValidateNamesBadDatasetHeadAndSupervision) {
  apps::TrainConfig c = apps::densepose_defaults();
  c.data_root = "somewhere";
  apps::validate(c);
  apps::TrainConfig bad = c;
  bad.dataset = "coco";
  engine::testing::expect_error([&] { apps::validate(bad); }, "dataset must be voc or densepose");
  bad = c;
  bad.head = "fcn";
  engine::testing::expect_error([&] { apps::validate(bad); }, "head must be deeplab or pspnet");
  bad = c;
  bad.supervision = "scribble";
  engine::testing::expect_error([&] { apps::validate(bad); }, "must be point or full");
  bad = c;
  bad.psp_width = 0;
  engine::testing::expect_error([&] { apps::validate(bad); }, "psp_width must be > 0");
  bad = c;
  bad.label_dir = "cam/x";
  engine::testing::expect_error([&] { apps::validate(bad); }, "applies to dataset voc only");
  bad = tiny_config("missing_list");
  bad.split = "nope";
  engine::testing::expect_error([&] { apps::train_spml(bad); }, "lists/nope.txt");
}

TEST(TrainDensePoseE2E, TinyPspNetTrainsWithFeatureAffinityAndReloads) {
  apps::TrainConfig c = tiny_config("tiny");
  const apps::TrainOutcome out = apps::train_spml(c);
  ASSERT_FALSE(out.interrupted);
  ASSERT_EQ(out.steps_done, c.iterations);
  ASSERT_EQ(out.log.size(), size_t(c.iterations));
  double aff_max = 0, ips = 0;
  for (const apps::StepLog& s : out.log) {
    EXPECT_TRUE(std::isfinite(s.total)) << "step " << s.step;
    EXPECT_TRUE(std::isfinite(s.sem_ann)) << "step " << s.step;
    EXPECT_TRUE(std::isfinite(s.img_sim)) << "step " << s.step;
    EXPECT_TRUE(std::isfinite(s.feat_aff)) << "step " << s.step;
    EXPECT_TRUE(std::isfinite(s.ce)) << "step " << s.step;
    EXPECT_TRUE(std::isnan(s.sem_occ)) << "sem_occ is off in densepose_point, step " << s.step;
    EXPECT_EQ(s.memory_segments, 0) << "densepose_point keeps no memory bank";
    EXPECT_GT(s.segments, 0);
    aff_max = std::max(aff_max, s.feat_aff);
    ips += s.images_per_s;
  }
  // Point labels leave most pixels unknown, so unlabeled segments exist and take labels from
  // their nearest labeled segment: the relation contributes.
  EXPECT_GT(aff_max, 0.0);
  std::printf(
      "tiny PSPNet (blocks 1 1 1 1, width 8, psp_width 16, D 8, crop 48, batch 4): "
      "%.1f images/s mean over %zu steps\n",
      ips / double(out.log.size()), out.log.size());

  // metrics.jsonl: sem_occ null, feat_aff a number, on every line.
  std::istringstream metrics(read_text(fs::path(c.run_dir) / "metrics.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    ++lines;
    EXPECT_NE(line.find("\"sem_occ\": null"), std::string::npos) << line;
    EXPECT_EQ(line.find("\"feat_aff\": null"), std::string::npos) << line;
    EXPECT_EQ(line.find("\"total\": null"), std::string::npos) << line;
  }
  EXPECT_EQ(lines, c.iterations);

  ASSERT_FALSE(out.last_checkpoint.empty());
  EXPECT_TRUE(fs::is_regular_file(out.last_checkpoint)) << out.last_checkpoint;
  const std::string config_json = read_text(fs::path(c.run_dir) / "config.json");
  EXPECT_NE(config_json.find("\"dataset\": \"densepose\""), std::string::npos);
  EXPECT_NE(config_json.find("\"head\": \"pspnet\""), std::string::npos);

  apps::Stage1 s = apps::load_stage1(c.run_dir);
  EXPECT_EQ(s.step, c.iterations);
  EXPECT_EQ(s.num_classes, data::kDensePoseClasses);
  ASSERT_TRUE(s.model);
  EXPECT_EQ(s.model->config().head, models::HeadKind::pspnet_ppm);
  EXPECT_EQ(s.model->head_name(), "pspp");
  EXPECT_EQ(s.model->config().psp_width, 16);
  Tensor image = engine::zeros({1, 48, 48, 3});
  models::EmbeddingOutput e = s.model->forward(image);
  ASSERT_EQ(e.embedding.dim(), 4);
  EXPECT_EQ(e.embedding.size(0), 1);
  EXPECT_EQ(e.embedding.size(1), 12);
  EXPECT_EQ(e.embedding.size(2), 12);
  EXPECT_EQ(e.embedding.size(3), 8);
}

TEST(TrainDensePoseE2E, ResumeReproducesLossesExactly) {
  apps::TrainConfig full = tiny_config("uninterrupted");
  full.iterations = 10;
  const apps::TrainOutcome a = apps::train_spml(full);
  ASSERT_EQ(a.log.size(), size_t(10));

  apps::TrainConfig part = tiny_config("interrupted");
  part.iterations = 10;
  part.stop_after = 4;
  const apps::TrainOutcome b1 = apps::train_spml(part);
  ASSERT_TRUE(b1.interrupted);
  apps::TrainConfig again;  // a VOC default config: the run folder's config.json must win
  again.resume = part.run_dir;
  again.progress = false;
  again.threads = 1;
  const apps::TrainOutcome b2 = apps::train_spml(again);
  ASSERT_EQ(b2.steps_done, 10);
  ASSERT_EQ(b1.log.size() + b2.log.size(), size_t(10));
  for (size_t i = 0; i < 10; ++i) {
    const apps::StepLog& r = i < 4 ? b1.log[i] : b2.log[i - 4];
    EXPECT_EQ(r.total, a.log[i].total) << "step " << i + 1;
    EXPECT_EQ(r.feat_aff, a.log[i].feat_aff) << "step " << i + 1;
  }
}

int run_app(const fs::path& dir, const std::string& args) {
  const std::string cmd = std::string(ENGINE_APPS_DIR) + "/train_densepose " + args + " >" +
                          (dir / "stdout.txt").string() + " 2>" + (dir / "stderr.txt").string();
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// --resume continues on the device that the run's config.json records, unless --device is given:
// a run recorded on a device this machine lacks is named in the error, and resumes with
// --device cpu.
TEST(TrainDensePoseApp, ResumeUsesTheStoredDeviceUnlessGiven) {
  apps::TrainConfig part = tiny_config("stored_device");
  part.iterations = 4;
  part.stop_after = 2;
  ASSERT_TRUE(apps::train_spml(part).interrupted);
  const fs::path config = fs::path(part.run_dir) / "config.json";
  std::string text = read_text(config);
  const std::string absent = "cuda:" + std::to_string(engine::cuda_device_count() + 8);
  const size_t at = text.find("\"device\": \"cpu\"");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::string("\"device\": \"cpu\"").size(), "\"device\": \"" + absent + "\"");
  std::ofstream(config) << text;

  const fs::path dir = part.run_dir;
  EXPECT_EQ(run_app(dir, "--resume " + part.run_dir + " --threads 1"), 1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--device " + absent + " asked for"),
            std::string::npos)
      << read_text(dir / "stderr.txt");
  ASSERT_EQ(run_app(dir, "--resume " + part.run_dir + " --threads 1 --device cpu"), 0)
      << read_text(dir / "stderr.txt");
  EXPECT_NE(read_text(dir / "stderr.txt").find("done: 4 steps"), std::string::npos)
      << read_text(dir / "stderr.txt");
}

TEST(TrainDensePoseApp, HelpAndPrintConfigShowTheRecipe) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "train_densepose_app";
  fs::create_directories(dir);
  ASSERT_TRUE(fs::is_regular_file(std::string(ENGINE_APPS_DIR) + "/train_densepose"))
      << "build the train_densepose target first";

  ASSERT_EQ(run_app(dir, "--help"), 0) << read_text(dir / "stderr.txt");
  const std::string help = read_text(dir / "stdout.txt");
  for (const char* s : {"lists/<split>.txt", "segcls/densepose_points/gray", "seginst/pmi_0.1_256",
                        "convert_densepose", "--psp-width", "--head", "--dataset"})
    EXPECT_NE(help.find(s), std::string::npos) << "--help lacks " << s;

  ASSERT_EQ(run_app(dir, "--print-config"), 0) << read_text(dir / "stderr.txt");
  const std::string cfg = read_text(dir / "stdout.txt");
  for (const char* s : {"\"dataset\": \"densepose\"", "\"head\": \"pspnet\"",
                        "\"embedding_dim\": 32", "\"iterations\": 45000", "\"crop\": 512",
                        "\"preset\": \"densepose_point\"", "\"supervision\": \"point\""})
    EXPECT_NE(cfg.find(s), std::string::npos) << "--print-config lacks " << s << ":\n" << cfg;
  const std::string loss = read_text(dir / "stderr.txt");
  EXPECT_NE(loss.find("\"memory_batches\": 0"), std::string::npos) << loss;
  EXPECT_NE(loss.find("\"kmeans_grid\": 12"), std::string::npos) << loss;
  // The printed JSON is a config file as it stands.
  apps::TrainConfig parsed;
  apps::apply_json(parsed, cfg, "--print-config output");
  EXPECT_EQ(parsed.head, "pspnet");

  ASSERT_EQ(run_app(dir, "--iterations 100 --head deeplab --embedding-dim 16 --print-config"), 0);
  const std::string over = read_text(dir / "stdout.txt");
  EXPECT_NE(over.find("\"iterations\": 100"), std::string::npos) << over;
  EXPECT_NE(over.find("\"head\": \"deeplab\""), std::string::npos) << over;
  EXPECT_NE(over.find("\"embedding_dim\": 16"), std::string::npos) << over;
}

}  // namespace
