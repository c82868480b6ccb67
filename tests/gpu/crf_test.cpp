// The dense CRF on CUDA (cuda/crf.cu through spml::dense_crf with probs on cuda:0) against the
// CPU path: marginals within 1e-4 over odd and even sizes, class counts on both sides of the
// softmax's 256-column register limit, iteration counts including 0, each kernel alone, NaN and
// out-of-range probabilities; reruns bit-identical; output on the device. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "engine/device.h"
#include "spml/crf.h"

namespace {

using engine::Device;
using engine::DType;
using engine::Tensor;
using engine::testing::CudaTest;
using engine::testing::expect_close;
using engine::testing::expect_identical;

using CrfCuda = CudaTest;

// Random scores in (0, 1] per class (rows not normalized, like max-normalized seeds) with one
// class per 7×5 block favoured, so the pairwise terms have edges to act on.
Tensor random_probs(int h, int w, int c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Tensor probs = Tensor::empty({h, w, c});
  float* p = probs.data<float>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int favoured = ((y / 5) * 3 + x / 7) % c;
      for (int l = 0; l < c; ++l)
        p[(y * w + x) * c + l] = l == favoured ? 0.3f + 0.7f * u(rng) : 0.5f * u(rng);
    }
  return probs;
}

// Blocky colours plus noise: realistic bilateral lattice occupancy.
Tensor random_image(int h, int w, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 24);
  Tensor img = Tensor::empty({h, w, 3}, DType::u8);
  uint8_t* ip = img.data<uint8_t>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k)
        ip[(y * w + x) * 3 + k] =
            static_cast<uint8_t>(((x / 6) * 53 + (y / 4) * 97 + k * 71 + noise(rng)) % 256);
  return img;
}

void check_against_cpu(const Tensor& probs, const Tensor& image, const spml::CrfConfig& cfg,
                       const char* what) {
  const Tensor cpu = spml::dense_crf(probs, image, cfg);
  const Tensor gpu = spml::dense_crf(probs.to(Device::cuda(0)), image, cfg);
  ASSERT_TRUE(gpu.device().is_cuda()) << what;
  expect_close(gpu, cpu, 1e-4, 0.0, what);
}

TEST_F(CrfCuda, MatchesCpuAcrossSizesAndClassCounts) {
  struct Case {
    int h, w, c;
  };
  // 1×1 (a single point), odd sizes, a class count above 256 (block-per-row softmax).
  const Case cases[] = {{1, 1, 3},    {5, 7, 1},   {9, 13, 2},   {24, 24, 5},
                        {31, 17, 21}, {40, 33, 7}, {11, 9, 300}, {64, 48, 21}};
  uint32_t seed = 1;
  for (const Case& k : cases) {
    spml::CrfConfig cfg;
    cfg.bilateral_sxy = 9.0f;  // small images: keep the appearance kernel local
    const std::string what =
        "h=" + std::to_string(k.h) + " w=" + std::to_string(k.w) + " c=" + std::to_string(k.c);
    check_against_cpu(random_probs(k.h, k.w, k.c, seed), random_image(k.h, k.w, seed + 100), cfg,
                      what.c_str());
    ++seed;
  }
}

TEST_F(CrfCuda, MatchesCpuWithSpmlDefaults) {
  // SPML's §6.4 settings (bilateral sxy 67 spans the whole image).
  check_against_cpu(random_probs(50, 37, 21, 8), random_image(50, 37, 9), spml::CrfConfig(),
                    "defaults");
}

TEST_F(CrfCuda, MatchesCpuForIterationCountsAndSingleKernels) {
  const Tensor probs = random_probs(21, 19, 4, 3), img = random_image(21, 19, 4);
  for (int iters : {0, 1, 3}) {
    spml::CrfConfig cfg;
    cfg.iterations = iters;
    check_against_cpu(probs, img, cfg, ("iterations " + std::to_string(iters)).c_str());
  }
  spml::CrfConfig only_gaussian;
  only_gaussian.bilateral_weight = 0.0f;
  check_against_cpu(probs, img, only_gaussian, "gaussian only");
  spml::CrfConfig only_bilateral;
  only_bilateral.gaussian_weight = 0.0f;
  check_against_cpu(probs, img, only_bilateral, "bilateral only");
  spml::CrfConfig none;
  none.gaussian_weight = 0.0f;
  none.bilateral_weight = 0.0f;
  check_against_cpu(probs, img, none, "no pairwise terms");
}

TEST_F(CrfCuda, BadProbabilitiesAreClippedLikeCpu) {
  Tensor probs = random_probs(6, 8, 3, 5);
  float* p = probs.data<float>();
  p[0] = std::nanf("");
  p[4] = -2.0f;
  p[10] = 7.0f;
  p[17] = 0.0f;
  check_against_cpu(probs, random_image(6, 8, 6), spml::CrfConfig(), "nan/negative/above one");
}

TEST_F(CrfCuda, ImageOnDeviceAndStridedProbs) {
  // probs as a transposed view (not contiguous) and the image already on the GPU.
  const Tensor base = random_probs(13, 10, 4, 12);
  const Tensor probs = base.permute({1, 0, 2}).contiguous().permute({1, 0, 2});
  const Tensor img = random_image(13, 10, 13);
  const Tensor cpu = spml::dense_crf(base, img);
  const Tensor gpu =
      spml::dense_crf(probs.to(Device::cuda(0)), img.to(Device::cuda(0)), spml::CrfConfig());
  expect_close(gpu, cpu, 1e-4, 0.0, "strided probs, device image");
}

TEST_F(CrfCuda, RerunsAreBitIdentical) {
  const Tensor probs = random_probs(30, 26, 6, 21).to(Device::cuda(0));
  const Tensor img = random_image(30, 26, 22);
  const Tensor a = spml::dense_crf(probs, img), b = spml::dense_crf(probs, img);
  expect_identical(a, b, "rerun");
}

}  // namespace
