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
#include "data/synthetic.h"
#include "tests/gpu/cuda_test_util.h"

#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace {

namespace fs = std::filesystem;

class TrainLoopCuda : public engine::testing::CudaTest {
 protected:
  void SetUp() override {
    engine::testing::CudaTest::SetUp();
    if (IsSkipped()) return;
#if ENGINE_WITH_CUDA
    saved_ = engine::cuda::math_flags();
    engine::cuda::MathFlags f = saved_;
    f.allow_tf32 = false;
    engine::cuda::set_math_flags(f);
#endif
  }
  void TearDown() override {
#if ENGINE_WITH_CUDA
    if (!IsSkipped()) engine::cuda::set_math_flags(saved_);
#endif
  }

 private:
#if ENGINE_WITH_CUDA
  engine::cuda::MathFlags saved_;
#endif
};

std::string dataset_root() {
  const std::string r = std::string(ENGINE_TEST_SCRATCH) + "/train_loop_cuda/data";
  if (!fs::exists(r + "/ImageSets/Segmentation/train.txt")) {
    fs::create_directories(r);
    data::SyntheticDatasetSpec spec;
    spec.root = r;
    spec.seed = 11;
    spec.num_train = 16;
    spec.num_val = 2;
    spec.config.height = 48;
    spec.config.width = 64;
    spec.config.num_classes = 3;
    spec.config.overseg.min_size = 10;
    data::write_synthetic_dataset(spec, 2, false);
  }
  return r;
}

apps::TrainConfig tiny(const std::string& run, const std::string& device) {
  apps::TrainConfig c;
  c.data_root = dataset_root();
  c.supervision = "scribble";
  c.blocks = {1, 1, 1, 1};
  c.width = 8;
  c.embedding_dim = 8;
  c.aspp_rates = {1, 2};
  c.crop = 32;
  c.batch_size = 4;
  c.iterations = 4;
  c.loader_threads = 1;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.bn_momentum = 0.1;
  c.checkpoint_every = 1000;
  c.progress = false;
  c.device = device;
  c.run_dir = std::string(ENGINE_TEST_SCRATCH) + "/train_loop_cuda/" + run;
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
