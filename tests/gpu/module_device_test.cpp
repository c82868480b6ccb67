// layers::Module::to on a CUDA device: handles keep their identity (optimizer groups built before
// the move keep working, momentum buffers follow), views and tied tensors keep sharing one
// storage, gradients and requires_grad move along, and a round trip is bit-exact; a tiny
// EmbeddingModel on the device gives the CPU forward (and gradients) within f32 tolerance, and
// SGD on CUDA parameters matches the CPU update. Skipped without a GPU.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/embedding_model.h"
#include "tests/gpu/cuda_test_util.h"

namespace layers {
namespace {

using engine::Device;
using engine::Tensor;
using engine::testing::expect_close;
using engine::testing::expect_identical;

const Device kCuda = Device::cuda(0);

// A parameter, a buffer viewing row 1 of it (shared storage, offset 3), a frozen parameter and a
// child layer.
class Tied : public Module {
 public:
  explicit Tied(engine::Generator& gen) : Module("Tied") {
    w = register_parameter("w", engine::randn({4, 3}, gen));
    row = register_buffer("w_row", w.detach().select(0, 1));
    frozen = register_parameter("frozen", engine::randn({5}, gen));
    frozen.set_requires_grad(false);
    conv = register_module(
        "conv",
        std::make_shared<Conv2d>(
            Conv2dOptions{
                .in_channels = 2, .out_channels = 3, .kernel = 3, .padding = 1, .bias = true},
            gen));
  }
  Tensor w, row, frozen;
  std::shared_ptr<Conv2d> conv;
};

class ModuleDeviceCuda : public engine::testing::CudaTest {};

TEST_F(ModuleDeviceCuda, MovesInPlaceKeepingIdentitySharingAndGradients) {
  engine::Generator gen(11);
  Tied m(gen);
  Tensor grad = engine::randn({4, 3}, gen);
  m.w.set_grad(grad);
  std::vector<std::pair<std::string, Tensor>> before;
  for (const auto& [name, t] : m.state_dict()) before.emplace_back(name, t.clone());
  std::vector<const engine::TensorImpl*> impls;
  for (const auto& [name, t] : m.state_dict()) impls.push_back(t.impl_ptr().get());

  m.to(kCuda);
  auto after = m.state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    const auto& [name, t] = after[i];
    EXPECT_EQ(t.device(), kCuda) << name;
    EXPECT_EQ(t.impl_ptr().get(), impls[i]) << name << ": the handle was replaced";
    expect_identical(t, before[i].second, name.c_str());
  }
  // The layer's own members are the registered handles.
  EXPECT_EQ(m.conv->weight().device(), kCuda);
  EXPECT_TRUE(m.w.requires_grad());
  EXPECT_FALSE(m.frozen.requires_grad());
  EXPECT_TRUE(m.conv->bias().requires_grad());
  // The view still shares the parameter's storage at the same offset.
  EXPECT_EQ(m.row.storage().get(), m.w.storage().get());
  EXPECT_EQ(m.row.offset(), 3);
  ASSERT_TRUE(m.w.grad().defined());
  EXPECT_EQ(m.w.grad().device(), kCuda);
  expect_identical(m.w.grad(), grad, "w.grad");
  {
    engine::autograd::NoGradGuard no_grad;
    Tensor w = m.w;
    w.copy_(engine::zeros({4, 3}));
  }
  EXPECT_EQ(m.row.to_vector<float>(), std::vector<float>(3, 0.0f)) << "view lost its storage";

  // Forward works on the device, and the round trip back is exact.
  Tensor y = m.conv->forward(engine::randn({1, 4, 4, 2}, gen).to(kCuda));
  EXPECT_EQ(y.device(), kCuda);
  m.to(Device::cpu());
  for (const auto& [name, t] : m.state_dict()) EXPECT_TRUE(t.device().is_cpu()) << name;
  EXPECT_EQ(m.row.storage().get(), m.w.storage().get());
  expect_identical(m.conv->weight(), before[3].second, "conv.weight after the round trip");
}

// SGD built on CPU parameters, stepped once, then the module moves: the next steps run on the
// device with the momentum buffer moved along, and give the all-CPU result.
TEST_F(ModuleDeviceCuda, SgdBuiltBeforeTheMoveKeepsWorking) {
  auto run = [](bool move) {
    engine::Generator gen(12);
    Tied m(gen);
    engine::optim::ParamGroup g = make_param_group(
        m, "all", [](const std::string&) { return true; }, 1.0, 5e-3);
    g.momentum = 0.9;
    g.nesterov = true;
    engine::optim::SGD sgd({g}, 0.1);
    engine::Generator grads(13);
    for (int step = 0; step < 3; ++step) {
      if (move && step == 1) m.to(kCuda);
      for (const auto& [name, p] : m.named_parameters()) {
        Tensor t = p;
        if (t.requires_grad()) t.set_grad(engine::randn(t.shape(), grads).to(t.device()));
      }
      sgd.step();
    }
    std::vector<std::pair<std::string, Tensor>> out;
    for (const auto& [name, p] : m.named_parameters()) out.emplace_back(name, p.cpu());
    for (const auto& [name, b] : sgd.state()) {
      EXPECT_TRUE(b.device().is_cpu()) << "SGD::state() gives CPU copies";
      out.emplace_back("momentum." + name, b);
    }
    return out;
  };
  auto cpu = run(false), gpu = run(true);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(gpu[i].first, cpu[i].first);
    expect_close(gpu[i].second, cpu[i].second, 1e-6, 1e-5, cpu[i].first.c_str());
  }
}

models::ResNetConfig tiny_backbone() {
  return {.blocks = {1, 1, 1, 1}, .stem = models::Stem::deep, .output_stride = 8, .width = 4};
}

TEST_F(ModuleDeviceCuda, TinyEmbeddingModelForwardAndBackwardMatchCpu) {
  engine::testing::StrictFp32 strict;
  models::EmbeddingModelConfig config{.backbone = tiny_backbone(), .embedding_dim = 8, .seed = 3};
  models::EmbeddingModel cpu(config), gpu(config);
  gpu.to(kCuda);
  engine::Generator gen(14);
  Tensor image = engine::randn({2, 33, 33, 3}, gen);
  Tensor weights = engine::randn({2, 10, 10, 8}, gen);

  for (bool training : {true, false}) {
    cpu.train(training);
    gpu.train(training);
    cpu.zero_grad();
    gpu.zero_grad();
    models::EmbeddingOutput a = cpu.forward(image);
    models::EmbeddingOutput b = gpu.forward(image.to(kCuda));
    ASSERT_EQ(b.embedding.device(), kCuda);
    expect_close(b.embedding, a.embedding, 1e-4, 0, training ? "embedding (train)" : "embedding");
    expect_close(b.raw, a.raw, 1e-4, 1e-4, "raw");
    engine::sum(a.embedding * weights).backward();
    engine::sum(b.embedding * weights.to(kCuda)).backward();
    auto pa = cpu.named_parameters(), pb = gpu.named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      ASSERT_TRUE(pb[i].second.grad().defined()) << pb[i].first;
      expect_close(pb[i].second.grad(), pa[i].second.grad(), 1e-3, 1e-3, pa[i].first.c_str());
    }
  }
  // BatchNorm's running statistics were updated on the device like on the CPU.
  auto ba = cpu.named_buffers(), bb = gpu.named_buffers();
  for (size_t i = 0; i < ba.size(); ++i)
    expect_close(bb[i].second, ba[i].second, 1e-5, 1e-4, ba[i].first.c_str());
}

}  // namespace
}  // namespace layers
