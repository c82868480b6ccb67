// Golden test against an independent implementation: tools/make_golden.py builds the same tiny
// SPML ResNet-DeepLab in PyTorch and records one training step (tests/fixtures/golden/). Here
// our model loads the same weights and must reproduce every per-stage activation, the loss,
// every parameter gradient (by name), the BN running statistics and the parameters after one
// SGD step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/optim/sgd.h"
#include "models/embedding_model.h"
#include "models/resnet.h"
#include "models/weights.h"

namespace models {
namespace {

using engine::Tensor;

const std::string kGoldenDir = std::string(ENGINE_TEST_FIXTURES) + "/golden";

// max |a - b| / max |b|: relative to the tensor's scale, so that entries near zero (ReLU
// outputs, tiny gradients) do not dominate.
struct Comparison {
  double max_abs = 0, scale = 0, rel = 0;
};

Comparison compare(const Tensor& ours, const Tensor& golden) {
  std::vector<float> a = ours.contiguous().to_vector<float>();
  std::vector<float> b = golden.to_vector<float>();
  Comparison c;
  for (size_t i = 0; i < a.size(); ++i) {
    c.max_abs = std::max(c.max_abs, double(std::fabs(a[i] - b[i])));
    c.scale = std::max(c.scale, double(std::fabs(b[i])));
  }
  c.rel = c.max_abs / std::max(c.scale, 1e-30);
  return c;
}

// Compares one tensor, keeping track of the worst relative error of its kind.
struct Checker {
  Checker(const engine::io::SafetensorsFile& file, double tol, std::string what)
      : golden(file), tolerance(tol), kind(std::move(what)) {}

  const engine::io::SafetensorsFile& golden;
  double tolerance;
  std::string kind;
  double worst = 0;
  std::string worst_name;
  int count = 0;

  void check(const std::string& golden_name, const Tensor& ours) {
    ASSERT_TRUE(golden.contains(golden_name)) << "fixture lacks " << golden_name;
    check_against(golden_name, ours, golden.at(golden_name));
  }
  void check_against(const std::string& golden_name, const Tensor& ours, const Tensor& g) {
    SCOPED_TRACE(golden_name);
    ASSERT_TRUE(ours.defined()) << "ours is undefined for " << golden_name;
    ASSERT_EQ(ours.shape(), g.shape()) << ours.desc() << " vs " << g.desc();
    Comparison c = compare(ours, g);
    EXPECT_LE(c.rel, tolerance) << golden_name << ": max abs error " << c.max_abs << ", scale "
                                << c.scale;
    if (c.rel >= worst) {
      worst = c.rel;
      worst_name = golden_name;
    }
    ++count;
  }
  void report() const {
    std::printf("golden %-11s %3d tensors, worst relative error %.3g (%s), tolerance %.0e\n",
                kind.c_str(), count, worst, worst_name.c_str(), tolerance);
  }
};

TEST(Golden, TinyDeepLabTrainingStepMatchesPyTorch) {
  const auto golden = engine::io::load_safetensors(kGoldenDir + "/golden.safetensors");

  // Must mirror tools/make_golden.py (WIDTH, BLOCKS, EMBEDDING_DIM, RATES).
  EmbeddingModelConfig config;
  config.backbone = {.blocks = {2, 1, 1, 1}, .stem = Stem::deep, .output_stride = 8, .width = 4};
  config.embedding_dim = 8;
  EmbeddingModel model(config);
  LoadReport report = load_weights(model, kGoldenDir + "/weights.safetensors");
  EXPECT_TRUE(report.missing.empty());
  EXPECT_FALSE(report.permuted.empty());  // the fixture is OIHW, as PyTorch writes it
  model.train();

  EmbeddingOutput out = model.forward(golden.at("input.image"));
  Checker acts{golden, 1e-4, "activations"};
  acts.check("act.stem", out.features.stem);
  acts.check("act.layer1", out.features.layer1);
  acts.check("act.layer2", out.features.layer2);
  acts.check("act.layer3", out.features.layer3);
  acts.check("act.layer4", out.features.layer4);
  acts.check("act.raw", out.raw);
  acts.check("act.embedding", out.embedding);
  acts.report();

  Tensor loss = engine::sum(out.embedding * golden.at("input.target"));
  const double golden_loss = golden.at("loss.value").to_vector<float>()[0];
  const double our_loss = loss.to_vector<float>()[0];
  // The loss sums signed terms (it is not of the order of its terms): compare to the sum of
  // absolute values, which bounds the accumulated rounding.
  const double loss_scale =
      engine::sum(engine::abs(out.embedding * golden.at("input.target"))).to_vector<float>()[0];
  EXPECT_LE(std::fabs(our_loss - golden_loss) / loss_scale, 1e-5)
      << "loss " << our_loss << " vs " << golden_loss;
  std::printf("golden loss ours %.7f, PyTorch %.7f\n", our_loss, golden_loss);

  loss.backward();
  Checker grads{golden, 1e-3, "gradients"};
  const auto params = model.named_parameters();
  for (const auto& [name, p] : params) grads.check("grad." + name, p.grad());
  grads.report();
  EXPECT_EQ(grads.count, int(params.size()));

  // BN running statistics were updated by the training-mode forward (unbiased variance).
  Checker buffers{golden, 1e-4, "BN buffers"};
  for (const auto& [name, b] : model.named_buffers()) buffers.check("after." + name, b);
  buffers.report();

  engine::optim::ParamGroup group{.name = "all", .weight_decay = 5e-4, .momentum = 0.9};
  for (const auto& [name, p] : params) {
    group.params.push_back(p);
    group.param_names.push_back(name);
  }
  std::vector<Tensor> before;
  for (const auto& [name, p] : params) before.push_back(p.clone());
  engine::optim::SGD sgd({group}, 0.01);
  sgd.step();
  Checker after{golden, 1e-4, "after SGD"};
  for (const auto& [name, p] : params) after.check("after." + name, p);
  after.report();
  // The update itself (a small fraction of each parameter), which the check above would barely
  // see: -lr * (grad + weight_decay * p) against PyTorch's after - before.
  Checker update{golden, 1e-3, "SGD update"};
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params[i].first;
    update.check_against("after." + name + " - before", params[i].second - before[i],
                         golden.at("after." + name) - before[i]);
  }
  update.report();
}

// By hand, once (needs the large files of `make_golden.py --resnet101-check DIR`, outside the
// repository): full-size ResNet-101 (torchvision architecture, random weights) in eval mode.
//   /usr/bin/python3 tools/make_golden.py --resnet101-check /tmp/r101
//   ENGINE_RESNET101_CHECK_DIR=/tmp/r101 ./build/tests/engine_unit_tests
//       --gtest_also_run_disabled_tests --gtest_filter='Golden.DISABLED_*'
TEST(Golden, DISABLED_ResNet101ForwardMatchesPyTorch) {
  const char* dir = std::getenv("ENGINE_RESNET101_CHECK_DIR");
  ASSERT_NE(dir, nullptr) << "set ENGINE_RESNET101_CHECK_DIR to the --resnet101-check folder";
  const auto io = engine::io::load_safetensors(std::string(dir) + "/resnet101_io.safetensors");
  auto model = resnet101(32, 1000, 0, /*random_init=*/false);
  LoadReport report = load_weights(*model, std::string(dir) + "/resnet101_weights.safetensors");
  std::printf("%s\n", report.summary().c_str());
  model->eval();
  ResNetFeatures f = model->forward_features(io.at("image"));
  // Against PyTorch's float32 output and against the float64 reference (the same network in
  // double precision): the second separates our rounding from the network's conditioning, as
  // PyTorch float32 vs float64 is printed by make_golden.py.
  for (const char* name : {"layer4", "logits"}) {
    const Tensor& ours = name == std::string("layer4") ? f.layer4 : f.logits;
    Comparison c32 = compare(ours, io.at(name));
    Comparison c64 = compare(ours, io.at(std::string(name) + "_f64").to(engine::DType::f32));
    std::printf(
        "ResNet-101 %s: vs PyTorch f32 max abs %.3g, scale %.3g, relative %.3g; "
        "vs float64 relative %.3g\n",
        name, c32.max_abs, c32.scale, c32.rel, c64.rel);
    EXPECT_LE(c64.rel, 1e-3) << name;
  }
}

}  // namespace
}  // namespace models
