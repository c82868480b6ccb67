// apps::train_spml with --device cuda against the same run on the CPU: a tiny ResNet-DeepLab on a
// small synthetic dataset, a few steps with and without micro-batches, the per-step losses
// compared; a CUDA run resumed from its checkpoint continues with the uninterrupted losses; the
// GPU memory fields reach metrics.jsonl. Strict FP32 (TF32 off), so the two devices see the same
// clusters. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "apps/common/config.h"
#include "apps/common/train_loop.h"
#include "tests/gpu/cuda_test_util.h"
#include "tests/support/tiny_voc_run.h"

namespace {

namespace fs = std::filesystem;

using TrainLoopCuda = engine::testing::CudaStrictFp32Test;

std::string dataset_root() {
  const std::string r = std::string(ENGINE_TEST_SCRATCH) + "/train_loop_cuda/data";
  if (!fs::exists(r + "/ImageSets/Segmentation/train.txt")) {
    engine::testing::write_tiny_voc(r, 11, 16, 2, 48, 64);
  }
  return r;
}

apps::TrainConfig tiny(const std::string& run, const std::string& device) {
  apps::TrainConfig c = engine::testing::tiny_train_config(
      dataset_root(), std::string(ENGINE_TEST_SCRATCH) + "/train_loop_cuda/" + run);
  c.iterations = 4;
  c.loader_threads = 1;
  c.bn_momentum = 0.1;
  c.checkpoint_every = 1000;
  c.device = device;
  fs::remove_all(c.run_dir);
  return c;
}

void expect_same_losses(const apps::TrainOutcome& gpu, const apps::TrainOutcome& cpu) {
  ASSERT_EQ(gpu.log.size(), cpu.log.size());
  for (size_t i = 0; i < cpu.log.size(); ++i) {
    EXPECT_NEAR(gpu.log[i].total, cpu.log[i].total, 2e-3 * std::abs(cpu.log[i].total) + 1e-4)
        << "step " << i + 1;
    EXPECT_EQ(gpu.log[i].segments, cpu.log[i].segments) << "step " << i + 1;
  }
}

TEST_F(TrainLoopCuda, MatchesTheCpuRun) {
  apps::TrainOutcome cpu = apps::train_spml(tiny("cpu", "cpu"));
  apps::TrainOutcome gpu = apps::train_spml(tiny("gpu", "cuda"));
  expect_same_losses(gpu, cpu);
  std::ifstream metrics(std::string(ENGINE_TEST_SCRATCH) + "/train_loop_cuda/gpu/metrics.jsonl");
  std::string first;
  ASSERT_TRUE(std::getline(metrics, first));
  EXPECT_NE(first.find("\"gpu_peak_bytes\": "), std::string::npos) << first;
}

TEST_F(TrainLoopCuda, MicroBatchesMatchTheCpuRun) {
  apps::TrainConfig c = tiny("cpu_micro", "cpu");
  c.micro_batches = 2;
  apps::TrainOutcome cpu = apps::train_spml(c);
  apps::TrainConfig g = tiny("gpu_micro", "cuda");
  g.micro_batches = 2;
  expect_same_losses(apps::train_spml(g), cpu);
}

TEST_F(TrainLoopCuda, ResumeOnTheDeviceContinuesTheRun) {
  apps::TrainOutcome whole = apps::train_spml(tiny("gpu_whole", "cuda"));
  apps::TrainConfig part = tiny("gpu_part", "cuda");
  part.stop_after = 2;
  apps::TrainOutcome first = apps::train_spml(part);
  ASSERT_TRUE(first.interrupted);
  apps::TrainConfig again;
  again.resume = part.run_dir;
  again.device = "cuda";  // the call's device wins over the stored one (the apps pass the stored)
  again.progress = false;
  apps::TrainOutcome rest = apps::train_spml(again);
  ASSERT_EQ(first.log.size() + rest.log.size(), whole.log.size());
  for (size_t i = 0; i < whole.log.size(); ++i) {
    const apps::StepLog& r = i < first.log.size() ? first.log[i] : rest.log[i - first.log.size()];
    // Atomics in the device reductions may reorder sums, so not bit for bit.
    EXPECT_NEAR(r.total, whole.log[i].total, 1e-4 * std::abs(whole.log[i].total) + 1e-5)
        << "step " << i + 1;
  }
}

}  // namespace
