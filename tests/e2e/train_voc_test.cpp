// End-to-end: the train_voc library path on a small synthetic dataset with a tiny model on the
// CPU: an interrupted + resumed run reproduces the uninterrupted run's per-step losses bit for
// bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "apps/common/config.h"
#include "apps/common/run_folder.h"
#include "apps/common/train_loop.h"
#include "engine/device.h"
#include "engine/error.h"
#include "tests/support/tiny_voc_run.h"

namespace {

namespace fs = std::filesystem;

const std::string& dataset_root() {
  static const std::string root = [] {
    std::string r = std::string(ENGINE_TEST_SCRATCH) + "/train_voc_e2e/data";
    if (!fs::exists(r + "/ImageSets/Segmentation/train.txt")) {
      // Written aside and renamed into place: ctest -j runs these tests in parallel processes.
      const std::string tmp = r + ".tmp-" + std::to_string(getpid());
      fs::remove_all(tmp);
      engine::testing::write_tiny_voc(tmp, 7, 24, 4, 48, 64);
      std::error_code ec;
      fs::rename(tmp, r, ec);  // fails when another process got there first: use its copy
      if (ec) fs::remove_all(tmp);
    }
    return r;
  }();
  return root;
}

apps::TrainConfig tiny_config(const std::string& run) {
  apps::TrainConfig c = engine::testing::tiny_train_config(
      dataset_root(), std::string(ENGINE_TEST_SCRATCH) + "/train_voc_e2e/" + run);
  c.checkpoint_every = 1000;
  c.keep_checkpoints = 2;
  fs::remove_all(c.run_dir);
  return c;
}

TEST(TrainVocE2E, ResumeReproducesLossesExactly) {
  const int64_t n = 12;
  apps::TrainConfig full = tiny_config("uninterrupted");
  full.iterations = n;
  apps::TrainOutcome a = apps::train_spml(full);
  ASSERT_EQ(a.log.size(), size_t(n));

  apps::TrainConfig part = tiny_config("interrupted");
  part.iterations = n;
  part.stop_after = n / 2;
  apps::TrainOutcome b1 = apps::train_spml(part);
  ASSERT_TRUE(b1.interrupted);
  ASSERT_EQ(b1.steps_done, n / 2);

  apps::TrainConfig again;
  again.resume = part.run_dir;
  again.progress = false;
  apps::TrainOutcome b2 = apps::train_spml(again);
  ASSERT_FALSE(b2.interrupted);
  ASSERT_EQ(b2.steps_done, n);
  ASSERT_EQ(b1.log.size() + b2.log.size(), size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const apps::StepLog& r = i < n / 2 ? b1.log[i] : b2.log[i - n / 2];
    EXPECT_EQ(r.step, a.log[i].step);
    EXPECT_EQ(r.total, a.log[i].total) << "step " << i + 1;
    EXPECT_EQ(r.lr, a.log[i].lr) << "step " << i + 1;
  }
}

TEST(TrainVocE2E, MissingDeviceStopsBeforeWritingTheRun) {
  apps::TrainConfig c = tiny_config("no_device");
  c.iterations = 2;
  c.device = "cuda:" + std::to_string(engine::cuda_device_count());
  try {
    apps::train_spml(c);
    FAIL() << "expected an error";
  } catch (const engine::Error& e) {
    EXPECT_NE(std::string(e.what()).find(c.device), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CUDA device(s) are visible"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(c.run_dir));
  c.device = "gpu";
  EXPECT_THROW(apps::train_spml(c), engine::Error);
}

}  // namespace
