// SPML training on a CUDA device against the CPU: SpmlObjective::compute with a CUDA embedding
// and logits (same segments, per-relation losses, total, and gradients of the embedding and the
// logits; a second step with the memory bank; a bank loaded onto the CPU, then committed to), and
// three steps of a tiny training loop (EmbeddingModel, SoftmaxClassifier, SpmlObjective, SGD)
// moved with Module::to. Strict FP32 (TF32 off). Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "layers/module.h"
#include "models/embedding_model.h"
#include "spml/train_step.h"
#include "tests/gpu/cuda_test_util.h"

namespace spml {
namespace {

using engine::Device;
using engine::DType;
using engine::Tensor;
using engine::testing::expect_close;

const Device kCuda = Device::cuda(0);

class TrainStepCuda : public engine::testing::CudaTest {};

constexpr int64_t kN = 2, kH = 16, kW = 16, kh = 8, kw = 8, kD = 8, kC = 4;

// Weak annotations at crop size 16x16 for an 8x8 embedding: scribble-like lines of classes
// 0..3 with the rest unlabeled, regions split off-grid, the last two columns of image 1
// padding.
struct Annotations {
  Tensor labels, valid, regions;
  std::vector<uint64_t> tags;
};

Annotations annotations() {
  std::vector<uint8_t> lab(kN * kH * kW, 255), val(kN * kH * kW, 1);
  std::vector<int32_t> reg(kN * kH * kW);
  Annotations a;
  for (int64_t n = 0; n < kN; ++n) {
    uint64_t tags = 0;
    for (int64_t y = 0; y < kH; ++y)
      for (int64_t x = 0; x < kW; ++x) {
        const int64_t i = (n * kH + y) * kW + x;
        reg[i] = int32_t((x < 6 ? 0 : 1) + 2 * (y < 10 ? 0 : 1));
        const int block = int((y / 8) * 2 + (x / 8));
        const int cls = (block + int(n)) % int(kC);
        if (y % 8 == 3 && x % 8 >= 1 && x % 8 <= 6 && block != 3) {
          lab[i] = uint8_t(cls);
          tags |= uint64_t(1) << cls;
        }
        if (n == 1 && x >= kW - 2) {
          val[i] = 0;
          reg[i] = -1;
          lab[i] = 255;
        }
      }
    a.tags.push_back(tags);
  }
  a.labels = Tensor::from_vector(lab, {kN, kH, kW});
  a.valid = Tensor::from_vector(val, {kN, kH, kW});
  a.regions = Tensor::from_vector(reg, {kN, kH, kW});
  return a;
}

// Unit embeddings clustered by 4x4 block around random centres (noise 0.1): the 2x2 K-Means
// grid starts on the blocks and no pixel is near a tie between clusters, so the CPU and CUDA
// clusterings agree.
Tensor clustered_embedding(uint64_t seed) {
  engine::Generator gen(seed);
  Tensor centres = engine::randn({kN, 4, kD}, gen).contiguous();
  Tensor noise = engine::randn({kN, kh, kw, kD}, gen, 0.0, 0.1).contiguous();
  std::vector<float> c = centres.to_vector<float>(), e = noise.to_vector<float>();
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x) {
        const int64_t block = (y / 4) * 2 + x / 4;
        for (int64_t d = 0; d < kD; ++d)
          e[((n * kh + y) * kw + x) * kD + d] += c[(n * 4 + block) * kD + d];
      }
  return engine::l2_normalize(Tensor::from_vector(e, {kN, kh, kw, kD}), 3);
}

struct StepResult {
  ObjectiveResult r;
  Tensor embedding_grad, logits_grad;
};

StepResult run_step(SpmlObjective& objective, const Tensor& embedding_host,
                    const Tensor& logits_host, const Annotations& a, Device device) {
  StepResult out;
  Tensor e = embedding_host.to(device).detach().set_requires_grad(true);
  Tensor l = logits_host.to(device).detach().set_requires_grad(true);
  ObjectiveInputs in;
  in.embedding = e;
  in.logits = l;
  // The integer maps stay on the CPU for the CPU run and go to the device for the CUDA run:
  // compute() reads them on the host either way.
  in.labels = a.labels.to(device);
  in.valid = a.valid.to(device);
  in.regions = a.regions.to(device);
  in.tags = a.tags;
  out.r = objective.compute(in);
  out.r.total.backward();
  out.embedding_grad = e.grad();
  out.logits_grad = l.grad();
  return out;
}

double scalar(const Tensor& t) {
  return t.defined() ? t.item() : 0.0;
}

void expect_same_step(const StepResult& gpu, const StepResult& cpu, const std::string& what) {
  EXPECT_EQ(gpu.r.num_pixels, cpu.r.num_pixels) << what;
  EXPECT_EQ(gpu.r.num_segments, cpu.r.num_segments) << what;
  EXPECT_EQ(gpu.r.num_memory_segments, cpu.r.num_memory_segments) << what;
  EXPECT_EQ(gpu.r.total.device(), kCuda) << what;
  const std::vector<std::pair<const char*, std::pair<Tensor, Tensor>>> terms{
      {"sem_ann", {gpu.r.terms.sem_ann, cpu.r.terms.sem_ann}},
      {"sem_occ", {gpu.r.terms.sem_occ, cpu.r.terms.sem_occ}},
      {"img_sim", {gpu.r.terms.img_sim, cpu.r.terms.img_sim}},
      {"feat_aff", {gpu.r.terms.feat_aff, cpu.r.terms.feat_aff}},
      {"ce", {gpu.r.ce, cpu.r.ce}},
      {"total", {gpu.r.total, cpu.r.total}}};
  for (const auto& [name, pair] : terms) {
    ASSERT_EQ(pair.first.defined(), pair.second.defined()) << what << " " << name;
    const double g = scalar(pair.first), c = scalar(pair.second);
    EXPECT_NEAR(g, c, 1e-4 * std::abs(c) + 1e-6) << what << " " << name;
  }
  ASSERT_TRUE(gpu.embedding_grad.defined()) << what;
  EXPECT_EQ(gpu.embedding_grad.device(), kCuda) << what;
  double scale = 0;
  for (float v : cpu.embedding_grad.to_vector<float>())
    scale = std::max(scale, double(std::abs(v)));
  expect_close(gpu.embedding_grad, cpu.embedding_grad, 1e-6 + 1e-3 * scale, 2e-4,
               (what + " embedding gradient").c_str());
  ASSERT_TRUE(gpu.logits_grad.defined()) << what;
  expect_close(gpu.logits_grad, cpu.logits_grad, 1e-7, 1e-4, (what + " logits gradient").c_str());
}

LossConfig small_preset(const char* name) {
  LossConfig c = loss_preset(name);
  c.num_classes = int(kC);
  c.kmeans_grid = 2;
  return c;
}

TEST_F(TrainStepCuda, ObjectiveMatchesCpuWithMemoryBank) {
  engine::testing::StrictFp32 strict;
  Annotations a = annotations();
  for (const char* preset : {"voc_scribble", "densepose_point"}) {
    SpmlObjective cpu(small_preset(preset)), gpu(small_preset(preset));
    for (int step = 0; step < 2; ++step) {
      Tensor embedding = clustered_embedding(20 + step);
      engine::Generator gen(30 + step);
      Tensor logits = engine::randn({kN, kh, kw, kC}, gen);
      StepResult c = run_step(cpu, embedding, logits, a, Device::cpu());
      StepResult g = run_step(gpu, embedding, logits, a, kCuda);
      expect_same_step(g, c, std::string(preset) + " step " + std::to_string(step));
      cpu.commit();
      gpu.commit();
    }
    if (cpu.config().memory_batches > 0) {
      EXPECT_GT(gpu.memory().num_segments(), 0);
      // A bank restored onto the CPU (a checkpoint loaded without a device) still serves a CUDA
      // step: compute() moves it to the embedding's device.
      SpmlObjective restored(small_preset(preset));
      restored.memory().load_state(gpu.memory().state());
      Tensor embedding = clustered_embedding(40);
      engine::Generator gen(41);
      Tensor logits = engine::randn({kN, kh, kw, kC}, gen);
      StepResult c = run_step(cpu, embedding, logits, a, Device::cpu());
      StepResult g = run_step(restored, embedding, logits, a, kCuda);
      EXPECT_GT(g.r.num_memory_segments, 0);
      expect_same_step(g, c, std::string(preset) + " restored bank");
      // After a commit the bank holds a CUDA batch next to the restored CPU ones: the next step
      // must still see all of them (the bank's prototypes are concatenated, so on one device).
      cpu.commit();
      restored.commit();
      Tensor embedding2 = clustered_embedding(42);
      engine::Generator gen2(43);
      Tensor logits2 = engine::randn({kN, kh, kw, kC}, gen2);
      StepResult c2 = run_step(cpu, embedding2, logits2, a, Device::cpu());
      StepResult g2 = run_step(restored, embedding2, logits2, a, kCuda);
      expect_same_step(g2, c2, std::string(preset) + " restored bank after a commit");
    }
  }
}

// A bank restored onto the CPU, then pushed to from CUDA: contents() concatenates the entries,
// so they must end up on one device (the newest batch's). Keys given on the device are kept on
// the CPU, where contents() reads them.
TEST_F(TrainStepCuda, MemoryBankRestoredElsewhereFollowsPushes) {
  auto segment_set = [](int64_t s, uint64_t seed, Device device) {
    engine::Generator gen(seed);
    SegmentSet set;
    set.prototypes = engine::l2_normalize(engine::randn({s, 4}, gen), -1).to(device);
    set.label = Tensor::from_vector(std::vector<int32_t>(size_t(s), 1), {s}).to(device);
    set.image = Tensor::from_vector(std::vector<int32_t>(size_t(s), 0), {s}).to(device);
    set.region = Tensor::from_vector(std::vector<int32_t>(size_t(s), 0), {s}).to(device);
    set.tags = Tensor::from_vector(std::vector<int64_t>(size_t(s), 2), {s}).to(device);
    return set;
  };
  MemoryBank source(2);
  source.push(segment_set(3, 1, Device::cpu()), 1);
  source.push(segment_set(2, 2, Device::cpu()), 1);
  std::map<std::string, Tensor> state = source.state();
  for (auto& [name, t] : state) t = t.to(kCuda);  // keys on the device too

  MemoryBank bank(2);
  bank.load_state(state);  // prototypes onto the CPU
  EXPECT_TRUE(bank.contents(1).prototypes.device().is_cpu());
  bank.push(segment_set(4, 3, kCuda), 1);
  SegmentSet all;
  ASSERT_NO_THROW(all = bank.contents(1));
  EXPECT_EQ(all.size(), 4 + 2);
  EXPECT_EQ(all.prototypes.device(), kCuda);
  EXPECT_EQ(all.label.to_vector<int32_t>(), std::vector<int32_t>(6, 1));
  EXPECT_EQ(all.image.to_vector<int32_t>(), (std::vector<int32_t>{1, 1, 1, 1, 2, 2}));
}

TEST_F(TrainStepCuda, LogitsOnAnotherDeviceAreRejected) {
  SpmlObjective objective(small_preset("voc_scribble"));
  Annotations a = annotations();
  ObjectiveInputs in;
  in.embedding = clustered_embedding(50).to(kCuda);
  engine::Generator gen(51);
  in.logits = engine::randn({kN, kh, kw, kC}, gen);
  in.labels = a.labels;
  in.valid = a.valid;
  in.regions = a.regions;
  in.tags = a.tags;
  try {
    objective.compute(in);
    ADD_FAILURE() << "CPU logits with a CUDA embedding were accepted";
  } catch (const engine::Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be on the embedding's device"), std::string::npos)
        << e.what();
  }
}

// Three optimizer steps of SPML training with a tiny model, as apps/common/train_loop runs them,
// on the CPU and on the device: the losses agree step by step.
std::vector<double> train_three_steps(Device device, std::vector<int64_t>* segments) {
  models::EmbeddingModel model({.backbone = {.blocks = {1, 1, 1, 1},
                                             .stem = models::Stem::deep,
                                             .output_stride = 8,
                                             .width = 4},
                                .embedding_dim = kD,
                                .seed = 3});
  models::SoftmaxClassifier classifier(kD, kC, 0.5, 4);
  std::vector<engine::optim::ParamGroup> groups{
      layers::make_param_group(
          model, "model", [](const std::string&) { return true; }, 1.0, 5e-4),
      layers::make_param_group(
          classifier, "head", [](const std::string&) { return true; }, 10.0, 5e-4)};
  for (auto& g : groups) g.momentum = 0.9;
  // Built before the move on purpose: the groups hold the same handles afterwards.
  engine::optim::SGD sgd(groups, 0.01);
  model.to(device);
  classifier.to(device);
  SpmlObjective objective(small_preset("voc_scribble"));
  model.train();
  classifier.train();

  // 33x33 crops give a 10x10 embedding; the annotations are those of the objective test,
  // resized on the host by compute().
  Annotations a = annotations();
  engine::Generator gen(60);
  std::vector<double> losses;
  for (int step = 0; step < 3; ++step) {
    Tensor images = engine::randn({kN, 33, 33, 3}, gen);
    models::EmbeddingOutput out = model.forward(images.to(device));
    Tensor logits = classifier.forward(out.embedding.detach());
    ObjectiveInputs in;
    in.embedding = out.embedding;
    in.logits = logits;
    in.labels = a.labels;
    in.valid = a.valid;
    in.regions = a.regions;
    in.tags = a.tags;
    ObjectiveResult r = objective.compute(in);
    losses.push_back(r.total.item());
    segments->push_back(r.num_segments);
    sgd.zero_grad();
    r.total.backward();
    sgd.step();
    objective.commit();
  }
  return losses;
}

TEST_F(TrainStepCuda, ThreeTrainingStepsMatchCpu) {
  engine::testing::StrictFp32 strict;
  std::vector<int64_t> seg_cpu, seg_gpu;
  std::vector<double> cpu = train_three_steps(Device::cpu(), &seg_cpu);
  std::vector<double> gpu = train_three_steps(kCuda, &seg_gpu);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(seg_gpu[i], seg_cpu[i]) << "step " << i + 1 << ": clusterings differ";
    EXPECT_NEAR(gpu[i], cpu[i], 1e-3 * std::abs(cpu[i])) << "step " << i + 1;
    EXPECT_TRUE(std::isfinite(gpu[i]));
  }
  EXPECT_NE(cpu[0], cpu[2]) << "the parameters did not change";
}

}  // namespace
}  // namespace spml
