// The fused SPML loss on CUDA (cuda/spml_loss.cu) against the fused CPU kernels and the unfused
// reference: per-relation values and the gradients of pixels and prototypes (plain and with
// location) over random layouts with memory banks, unlabeled segments, empty tag sets and empty
// positive sets, across pixel tiles, segment chunks and backward blocks that own several tiles;
// reruns are bit-identical. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "engine/device.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/random.h"
#include "spml/loss_fused.h"
#include "spml/loss_reference.h"

namespace spml {
namespace {

using engine::Device;
using engine::DType;
using engine::Tensor;

class SpmlLossCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!engine::cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

struct Layout {
  std::vector<int32_t> own, label, image, region, mem_label;
  std::vector<int64_t> tags, mem_tags;
};

// `images` images with 1..max_segs segments each; a third of the labels unlabeled, some tag sets
// empty; pixels sorted by segment (image order, as Segments gives them).
Layout make_layout(uint32_t seed, int classes, int images, int max_segs, int64_t pixels,
                   int64_t memory) {
  std::mt19937 rng(seed);
  Layout l;
  for (int n = 0; n < images; ++n) {
    const int segs = 1 + int(rng() % uint32_t(max_segs));
    int64_t tags = int64_t(rng() % (1u << classes));
    if (rng() % 5 == 0) tags = 0;
    for (int s = 0; s < segs; ++s) {
      l.image.push_back(n);
      l.label.push_back(rng() % 3 == 0 ? kUnlabeledSegment : int32_t(rng() % classes));
      l.region.push_back(int32_t(rng() % 3));
      l.tags.push_back(tags);
    }
  }
  const int64_t sc = int64_t(l.label.size());
  for (int64_t i = 0; i < pixels; ++i) l.own.push_back(int32_t(rng() % uint32_t(sc)));
  std::sort(l.own.begin(), l.own.end());
  for (int64_t j = 0; j < memory; ++j) {
    l.mem_label.push_back(rng() % 4 == 0 ? kUnlabeledSegment : int32_t(rng() % classes));
    l.mem_tags.push_back(int64_t(rng() % (1u << classes)));
  }
  return l;
}

Tensor unit_rows(int64_t n, int64_t d, engine::Generator& gen) {
  return engine::l2_normalize(engine::randn({n, d}, gen, 0, 1, DType::f64), 1).detach();
}

LossInputs make_inputs(const Layout& l, int64_t d, int64_t dl, uint64_t seed) {
  engine::Generator gen(seed);
  const int64_t p = int64_t(l.own.size()), sc = int64_t(l.label.size());
  const int64_t sm = int64_t(l.mem_label.size());
  LossInputs in;
  in.embedding = unit_rows(p, d, gen);
  in.embedding_loc = unit_rows(p, dl, gen);
  in.pixel_segment = Tensor::from_vector(l.own, {p});
  in.current.prototypes = unit_rows(sc, d, gen);
  in.current.prototypes_loc = unit_rows(sc, dl, gen);
  in.current.label = Tensor::from_vector(l.label, {sc});
  in.current.image = Tensor::from_vector(l.image, {sc});
  in.current.region = Tensor::from_vector(l.region, {sc});
  in.current.tags = Tensor::from_vector(l.tags, {sc});
  if (sm > 0) {
    in.memory.prototypes = unit_rows(sm, d, gen);
    in.memory.label = Tensor::from_vector(l.mem_label, {sm});
    std::vector<int32_t> img(static_cast<size_t>(sm)), reg(static_cast<size_t>(sm), 0);
    for (int64_t j = 0; j < sm; ++j) img[size_t(j)] = 1000 + int32_t(j % 8);
    in.memory.image = Tensor::from_vector(img, {sm});
    in.memory.region = Tensor::from_vector(reg, {sm});
    in.memory.tags = Tensor::from_vector(l.mem_tags, {sm});
  }
  return in;
}

// The host f64 inputs with the float tensors converted to (dtype, device), as fresh leaves.
LossInputs on(const LossInputs& src, DType dt, Device dev) {
  LossInputs in = src;
  auto leaf = [&](const Tensor& t) { return t.to(dt).to(dev).detach().set_requires_grad(); };
  in.embedding = leaf(src.embedding);
  in.embedding_loc = leaf(src.embedding_loc);
  in.current.prototypes = leaf(src.current.prototypes);
  in.current.prototypes_loc = leaf(src.current.prototypes_loc);
  if (src.memory.size() > 0) in.memory.prototypes = src.memory.prototypes.to(dt).to(dev).detach();
  return in;
}

LossConfig all_relations(int classes, bool use_loc) {
  LossConfig c;
  c.num_classes = classes;
  c.sem_ann = {true, 6.0, 1.0};
  c.sem_occ = {true, 8.0, 0.3};
  c.img_sim = {true, 16.0, 0.1};
  c.feat_aff = {true, 12.0, 0.5};
  c.feat_aff_params = {2, 0.0};
  c.img_sim_use_location = use_loc;
  c.joint_ce = false;
  return c;
}

struct Result {
  std::vector<double> values;  // per relation (NaN when off)
  std::vector<std::vector<double>> grads;
};

Result evaluate(bool fused, const LossInputs& in, const LossConfig& c) {
  RelationLosses l = fused ? spml_loss_fused(in, c) : spml_loss_reference(in, c);
  Result r;
  for (const Tensor& t : {l.sem_ann, l.sem_occ, l.img_sim, l.feat_aff})
    r.values.push_back(t.defined() ? t.item() : std::nan(""));
  total_loss(c, l).backward();
  for (auto t : {in.embedding, in.embedding_loc, in.current.prototypes, in.current.prototypes_loc})
    r.grads.push_back(t.grad().defined() ? t.grad().to_vector<double>() : std::vector<double>{});
  return r;
}

void expect_close(const Result& a, const Result& b, double tol, const std::string& what) {
  for (size_t r = 0; r < a.values.size(); ++r) {
    if (std::isnan(b.values[r])) {
      EXPECT_TRUE(std::isnan(a.values[r])) << what << " relation " << r;
      continue;
    }
    EXPECT_NEAR(a.values[r], b.values[r], tol * (1 + std::abs(b.values[r])))
        << what << " relation " << r;
  }
  for (size_t k = 0; k < b.grads.size(); ++k) {
    ASSERT_EQ(a.grads[k].size(), b.grads[k].size()) << what << " gradient " << k;
    double scale = 0;
    for (double v : b.grads[k]) scale = std::max(scale, std::abs(v));
    for (size_t e = 0; e < b.grads[k].size(); ++e)
      ASSERT_NEAR(a.grads[k][e], b.grads[k][e], tol * (1e-2 * scale + std::abs(b.grads[k][e])))
          << what << " gradient " << k << " element " << e;
  }
}

const Device kCuda = Device::cuda(0);

TEST_F(SpmlLossCuda, MatchesCpuFusedAndReferenceOnRandomLayouts) {
  for (uint32_t seed = 0; seed < 12; ++seed) {
    const int64_t pixels = 5 + (seed * 53) % 300;  // 1..5 pixel tiles, ragged last tile
    // No memory, a little, or enough to cross several 64-segment chunks.
    const int64_t memory = seed % 4 == 0 ? 0 : (seed % 4 == 1 ? 7 : 150);
    const int64_t d = seed % 3 == 0 ? 64 : int64_t(5 + seed);
    const Layout l = make_layout(seed, 4, 1 + int(seed % 4), 6, pixels, memory);
    const LossInputs host = make_inputs(l, d, d + 2, seed);
    LossConfig c = all_relations(4, seed % 2 == 0);
    c.feat_aff_params = {1 + int(seed % 3), seed % 2 ? -1.0 : 0.3};
    const std::string what = "seed " + std::to_string(seed);
    const Result gpu = evaluate(true, on(host, DType::f32, kCuda), c);
    expect_close(gpu, evaluate(true, on(host, DType::f32, Device::cpu()), c), 2e-4,
                 what + " vs fused CPU");
    expect_close(gpu, evaluate(false, on(host, DType::f64, Device::cpu()), c), 3e-4,
                 what + " vs reference");
  }
}

TEST_F(SpmlLossCuda, EmptyPositiveSetsUseTheOwnSegment) {
  // One image, one segment, no memory: no pixel has another positive in any relation, so every
  // numerator falls back to the own segment (ℓ = ln(1 + Σ_neg) with an empty negative set too).
  for (int64_t memory : {int64_t(0), int64_t(9)}) {
    Layout l = make_layout(11, 3, 1, 1, 70, memory);
    const LossInputs host = make_inputs(l, 16, 18, 11);
    const LossConfig c = all_relations(3, true);
    const Result gpu = evaluate(true, on(host, DType::f32, kCuda), c);
    expect_close(gpu, evaluate(true, on(host, DType::f32, Device::cpu()), c), 2e-4,
                 "memory " + std::to_string(memory));
  }
}

TEST_F(SpmlLossCuda, ManyTilesPerBackwardBlockMatchCpu) {
  // More than 256 pixel tiles: backward blocks own several tiles and the per-segment partials
  // of many tiles are summed; 40 images keep the per-image candidate ranges of img_sim moving.
  const Layout l = make_layout(21, 5, 40, 8, 20000, 100);
  const LossInputs host = make_inputs(l, 16, 18, 21);
  const LossConfig c = all_relations(5, true);
  expect_close(evaluate(true, on(host, DType::f32, kCuda), c),
               evaluate(true, on(host, DType::f32, Device::cpu()), c), 5e-4, "20000 pixels");
}

TEST_F(SpmlLossCuda, RerunsAreBitIdentical) {
  const Layout l = make_layout(5, 6, 8, 40, 30000, 400);
  const LossInputs host = make_inputs(l, 64, 66, 5);
  const LossConfig c = all_relations(6, true);
  const Result a = evaluate(true, on(host, DType::f32, kCuda), c);
  const Result b = evaluate(true, on(host, DType::f32, kCuda), c);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.grads, b.grads);
  for (const auto& g : a.grads)
    for (double v : g) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(SpmlLossCuda, ReferenceRunsOnCuda) {
  // The unfused reference builds its masks on the host; with CUDA inputs it must put them on
  // the device (bench_spml_cuda times it there). With and without memory.
  for (uint32_t seed : {3u, 6u, 9u}) {
    const int64_t memory = seed == 3 ? 0 : 11;
    const Layout l = make_layout(seed, 4, 2, 5, 40 + seed, memory);
    const LossInputs host = make_inputs(l, 8, 10, seed);
    const LossConfig c = all_relations(4, seed % 2 == 1);
    const std::string what = "seed " + std::to_string(seed);
    Result gpu;
    ASSERT_NO_THROW(gpu = evaluate(false, on(host, DType::f32, kCuda), c)) << what;
    expect_close(gpu, evaluate(false, on(host, DType::f64, Device::cpu()), c), 3e-4,
                 what + " reference CUDA vs CPU");
  }
}

TEST_F(SpmlLossCuda, RejectsF64AndMixedDevices) {
  const Layout l = make_layout(3, 4, 2, 3, 20, 0);
  const LossInputs host = make_inputs(l, 8, 10, 3);
  const LossConfig c = all_relations(4, true);
  EXPECT_THROW(spml_loss_fused(on(host, DType::f64, kCuda), c), engine::Error);
  LossInputs mixed = on(host, DType::f32, kCuda);
  mixed.current.prototypes = host.current.prototypes.to(DType::f32);
  EXPECT_THROW(spml_loss_fused(mixed, c), engine::Error);
}

}  // namespace
}  // namespace spml
