// Stage 2 with the network on a CUDA device against the same work on the CPU: the dense views of
// predict and pseudo_label (sliding windows, scales, flips) of a tiny network moved to the GPU,
// and apps::train_classifier --device cuda from a tiny stage-1 run (losses, accuracy, GPU memory
// fields, resume on the device). Strict FP32 (TF32 off). Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "apps/common/classifier_config.h"
#include "apps/common/classifier_loop.h"
#include "apps/common/config.h"
#include "apps/common/dense_views.h"
#include "apps/common/predict_modes.h"
#include "apps/common/pseudo_labels.h"
#include "apps/common/train_loop.h"
#include "engine/error.h"
#include "models/embedding_model.h"
#include "spml/random_walk.h"
#include "tests/gpu/cuda_test_util.h"
#include "tests/support/process_scratch.h"
#include "tests/support/tiny_voc_run.h"

#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace {

namespace fs = std::filesystem;

using Stage2Cuda = engine::testing::CudaStrictFp32Test;
using engine::Tensor;

const std::string& scratch() {
  static const std::string dir = engine::testing::process_scratch(ENGINE_TEST_SCRATCH, "stage2");
  return dir;
}

Tensor test_image(int64_t h, int64_t w) {
  std::vector<uint8_t> px(size_t(h * w * 3));
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37 + i / 7) % 251);
  return Tensor::from_vector(px, {h, w, 3});
}

TEST_F(Stage2Cuda, DenseViewsMatchTheCpu) {
  models::EmbeddingModelConfig cfg;
  cfg.backbone.blocks = {1, 1, 1, 1};
  cfg.backbone.stem = models::Stem::deep;
  cfg.backbone.output_stride = 8;
  cfg.backbone.width = 4;
  cfg.embedding_dim = 8;
  cfg.aspp_rates = {1, 2};
  models::EmbeddingModel model(cfg);
  models::SoftmaxClassifier classifier(8, 3, 0.65, 7);
  model.eval();
  classifier.eval();
  const Tensor rgb = test_image(37, 45);
  const std::vector<apps::View> views = {{1.0, false}, {0.75, true}, {1.25, false}};
  const std::vector<int64_t> windows = {0, 24};

  std::vector<Tensor> cpu_embed, cpu_logits;
  for (const apps::View& v : views)
    for (int64_t w : windows) {
      cpu_embed.push_back(apps::embed_view(model, rgb, v, w));
      cpu_logits.push_back(apps::logits_view(model, classifier, rgb, v, w));
    }
  model.to(engine::Device::cuda(0));
  classifier.to(engine::Device::cuda(0));
  size_t k = 0;
  for (const apps::View& v : views)
    for (int64_t w : windows) {
      const std::string what = "scale " + std::to_string(v.scale) + (v.flip ? " flipped" : "") +
                               ", window " + std::to_string(w);
      Tensor e = apps::embed_view(model, rgb, v, w);
      Tensor l = apps::logits_view(model, classifier, rgb, v, w);
      EXPECT_TRUE(e.device().is_cpu()) << what;
      EXPECT_TRUE(l.device().is_cpu()) << what;
      engine::testing::expect_close(e, cpu_embed[k], 1e-4, 1e-3, ("embedding, " + what).c_str());
      engine::testing::expect_close(l, cpu_logits[k], 1e-4, 1e-3, ("logits, " + what).c_str());
      ++k;
    }
}

Tensor uniform(engine::Shape shape, uint32_t seed, double lo, double hi) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t x = seed;
  for (float& f : v) {
    x = x * 1664525u + 1013904223u;
    f = float(lo + (hi - lo) * double(x >> 8) / double(1u << 24));
  }
  return Tensor::from_vector(v, shape);
}

TEST_F(Stage2Cuda, RandomWalkMatchesTheCpu) {
  // Two views of a 12×10 walk (one pixel's embedding zero in the first view), three classes.
  Tensor v0 = uniform({12, 10, 8}, 1, -1, 1), v1 = uniform({12, 10, 8}, 2, -1, 1);
  for (int k = 0; k < 8; ++k) v0.data<float>()[5 * 10 * 8 + 3 * 8 + k] = 0.0f;
  const Tensor seeds = uniform({12, 10, 3}, 3, 0, 1);
  spml::RandomWalkConfig cfg;
  cfg.beta = 2.0f;  // softer than the spec's 5, so that many pixels exchange mass
  cfg.power = 3;
  const Tensor t_cpu = spml::random_walk_transition({v0, v1}, cfg);
  const Tensor s_cpu = spml::random_walk_scores({v0, v1}, seeds, 40, 33, cfg);
  const engine::Device gpu = engine::Device::cuda(0);
  const Tensor t_gpu = spml::random_walk_transition({v0.to(gpu), v1.to(gpu)}, cfg);
  const Tensor s_gpu =
      spml::random_walk_scores({v0.to(gpu), v1.to(gpu)}, seeds.to(gpu), 40, 33, cfg);
  EXPECT_TRUE(t_gpu.device().is_cuda());
  engine::testing::expect_close(t_gpu, t_cpu, 1e-6, 1e-4, "transition");
  engine::testing::expect_close(s_gpu, s_cpu, 1e-6, 1e-3, "scores after 64 steps");
  EXPECT_THROW(spml::random_walk({v0.to(gpu)}, seeds, cfg), engine::Error);
}

#if ENGINE_WITH_CUDA
int64_t device_allocations() {
  return engine::cuda::allocator_stats(0).num_allocs;
}
#else
int64_t device_allocations() {
  return 0;
}
#endif

TEST_F(Stage2Cuda, KnnWithKMeansOnTheDeviceMatchesTheCpu) {
  // Four quadrants, each its own random direction plus a little noise, and its own class: with
  // a 2×2 grid every cluster is one quadrant by a wide margin, so no pixel is near a tie.
  const int64_t h = 24, w = 30, d = 8;
  const Tensor dirs = uniform({4, d}, 5, -1, 1), noise = uniform({h, w, d}, 6, -0.05, 0.05);
  Tensor e = Tensor::empty({h, w, d});
  Tensor labels = Tensor::empty({h, w}, engine::DType::u8);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t q = (y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1);
      float* row = e.data<float>() + (y * w + x) * d;
      double n = 0;
      for (int64_t k = 0; k < d; ++k) {
        row[k] = dirs.data<float>()[q * d + k] + noise.data<float>()[(y * w + x) * d + k];
        n += double(row[k]) * row[k];
      }
      for (int64_t k = 0; k < d; ++k) row[k] = float(row[k] / std::sqrt(n));
      labels.data<uint8_t>()[y * w + x] = uint8_t(q);
    }
  const spml::KMeansConfig km{.grid = 2, .iterations = 10};
  const engine::Device gpu = engine::Device::cuda(0);
  const spml::PrototypeMemory mem_cpu = apps::memory_from_embedding(e, labels, 4, km, false);
  const int64_t before = device_allocations();
  const spml::PrototypeMemory mem_gpu = apps::memory_from_embedding(e, labels, 4, km, false, gpu);
  EXPECT_GT(device_allocations(), before) << "the k-means did not run on the device";
  ASSERT_EQ(mem_gpu.prototypes.shape(), mem_cpu.prototypes.shape());
  EXPECT_EQ(mem_gpu.labels.to_vector<int32_t>(), mem_cpu.labels.to_vector<int32_t>());
  engine::testing::expect_close(mem_gpu.prototypes, mem_cpu.prototypes, 1e-5, 1e-4, "memory");
  const apps::Prediction p_cpu = apps::knn_from_embedding(e, mem_cpu, 4, km, {.k = 1});
  const apps::Prediction p_gpu = apps::knn_from_embedding(e, mem_cpu, 4, km, {.k = 1}, gpu);
  EXPECT_TRUE(p_gpu.labels.device().is_cpu());
  EXPECT_EQ(p_gpu.labels.to_vector<uint8_t>(), p_cpu.labels.to_vector<uint8_t>());
  EXPECT_EQ(p_gpu.labels.to_vector<uint8_t>(), labels.to_vector<uint8_t>());
  engine::testing::expect_close(p_gpu.probs, p_cpu.probs, 1e-6, 0, "votes");
}

// The pseudo-label functions with options.device = cuda (random walk and CRF there) against the
// CPU: labels agree except at rare near-ties of the final argmax.
TEST_F(Stage2Cuda, PseudoLabelWalkAndCrfOnTheDeviceMatchTheCpu) {
  const std::vector<Tensor> views = {uniform({6, 8, 8}, 7, -1, 1), uniform({6, 8, 8}, 8, -1, 1)};
  const Tensor seeds = uniform({6, 8, 3}, 9, 0, 1);
  const Tensor image = test_image(24, 32);
  apps::PseudoLabelOptions cpu_opt;
  cpu_opt.walk.beta = 2.0f;  // softer than the spec's 5, so that pixels exchange mass
  cpu_opt.walk.power = 3;
  apps::PseudoLabelOptions gpu_opt = cpu_opt;
  gpu_opt.device = engine::Device::cuda(0);
  for (bool crf : {false, true}) {
    cpu_opt.crf = gpu_opt.crf = crf;
    const Tensor a = apps::random_walk_label(views, seeds, image, cpu_opt);
    const int64_t before = device_allocations();
    const Tensor b = apps::random_walk_label(views, seeds, image, gpu_opt);
    EXPECT_GT(device_allocations(), before) << "crf " << crf;
    ASSERT_TRUE(b.device().is_cpu());
    ASSERT_EQ(b.shape(), a.shape());
    const std::vector<uint8_t> va = a.to_vector<uint8_t>(), vb = b.to_vector<uint8_t>();
    int64_t differ = 0;
    for (size_t i = 0; i < va.size(); ++i) differ += va[i] != vb[i];
    EXPECT_LE(differ, int64_t(va.size()) / 100) << "crf " << crf;
  }
}

// DensePose step 2–4 with the k-means on the device: the same segment labels as on the CPU.
TEST_F(Stage2Cuda, DensePoseSegmentLabelsWithKMeansOnTheDeviceMatchTheCpu) {
  // Left half along e0, right half along e1; one labeled pixel per half, the rest 255.
  const int64_t h = 8, w = 8;
  Tensor e = Tensor::empty({h, w, 3});
  for (int64_t i = 0; i < h * w; ++i)
    for (int64_t k = 0; k < 3; ++k) e.data<float>()[i * 3 + k] = k == ((i % w) < w / 2 ? 0 : 1);
  Tensor ann = Tensor::empty({h, w}, engine::DType::u8);
  std::fill_n(ann.data<uint8_t>(), h * w, uint8_t(255));
  ann.data<uint8_t>()[2 * w + 1] = 3;
  ann.data<uint8_t>()[5 * w + 6] = 0;
  const spml::KMeansConfig km{.grid = 2, .iterations = 3};
  const Tensor cpu = apps::densepose_segment_labels(e, ann, 15, km);
  const int64_t before = device_allocations();
  const Tensor gpu = apps::densepose_segment_labels(e, ann, 15, km, engine::Device::cuda(0));
  EXPECT_GT(device_allocations(), before) << "the k-means did not run on the device";
  EXPECT_EQ(gpu.to_vector<int32_t>(), cpu.to_vector<int32_t>());
}

// A 6-step stage-1 run on the CPU, made once per process.
const std::string& stage1_run() {
  static const std::string run = [] {
    const std::string root = scratch() + "/data";
    engine::testing::write_tiny_voc(root, 11, 8, 2, 40, 48);
    apps::TrainConfig c = engine::testing::tiny_train_config(root, scratch() + "/stage1");
    c.iterations = 6;
    apps::train_spml(c);
    return c.run_dir;
  }();
  return run;
}

apps::ClassifierConfig classifier_config(const std::string& name, const std::string& device) {
  apps::ClassifierConfig c;
  c.run = stage1_run();
  c.labels = "segcls";  // the full ground truth stands in for pseudo-labels
  c.crop = 32;
  c.batch_size = 4;
  c.iterations = 6;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.loader_threads = 1;
  c.progress = false;
  c.device = device;
  c.run_dir = scratch() + "/" + name;
  return c;
}

TEST_F(Stage2Cuda, ClassifierTrainingMatchesTheCpuRunAndResumes) {
  const apps::ClassifierOutcome cpu = apps::train_classifier(classifier_config("cpu", "cpu"));
  const apps::ClassifierOutcome gpu = apps::train_classifier(classifier_config("gpu", "cuda"));
  ASSERT_EQ(gpu.log.size(), cpu.log.size());
  for (size_t i = 0; i < cpu.log.size(); ++i) {
    // Dropout draws the same Philox mask on both devices; only summation order differs.
    EXPECT_NEAR(gpu.log[i].loss, cpu.log[i].loss, 2e-3 * std::abs(cpu.log[i].loss) + 1e-4)
        << "step " << i + 1;
    EXPECT_NEAR(gpu.log[i].pixel_accuracy, cpu.log[i].pixel_accuracy, 0.01) << "step " << i + 1;
  }
  std::ifstream metrics(scratch() + "/gpu/metrics.jsonl");
  std::string first;
  ASSERT_TRUE(std::getline(metrics, first));
  EXPECT_NE(first.find("\"gpu_peak_bytes\": "), std::string::npos) << first;

  apps::ClassifierConfig part = classifier_config("gpu_part", "cuda");
  part.stop_after = 3;
  const apps::ClassifierOutcome a = apps::train_classifier(part);
  ASSERT_TRUE(a.interrupted);
  apps::ClassifierConfig again;
  again.resume = part.run_dir;
  again.device = "cuda";
  again.progress = false;
  const apps::ClassifierOutcome b = apps::train_classifier(again);
  ASSERT_EQ(a.log.size() + b.log.size(), gpu.log.size());
  for (size_t i = 0; i < gpu.log.size(); ++i) {
    const double got = i < a.log.size() ? a.log[i].loss : b.log[i - a.log.size()].loss;
    EXPECT_NEAR(got, gpu.log[i].loss, 1e-4 * std::abs(gpu.log[i].loss) + 1e-5) << "step " << i + 1;
  }
}

}  // namespace
