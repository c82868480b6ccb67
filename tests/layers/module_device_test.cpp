// layers::Module::to on the CPU side: to(cpu) leaves a CPU module untouched (same handles, same
// storage, values, requires_grad, gradients), and a move to a CUDA device that cannot happen (no
// device, or a build without CUDA) throws and leaves the module as it was. The real moves are in
// tests/gpu/module_device_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/optim/sgd.h"
#include "layers/batch_norm.h"
#include "layers/bottleneck.h"
#include "layers/conv.h"
#include "layers/module.h"

namespace layers {
namespace {

using engine::Device;
using engine::Tensor;

struct Snapshot {
  std::vector<const engine::TensorImpl*> impls;
  std::vector<const engine::Storage*> storages;
  std::vector<std::vector<float>> values;
  std::vector<bool> requires_grad;
  std::vector<bool> has_grad;
};

Snapshot snapshot(const Module& m) {
  Snapshot s;
  for (const auto& [name, t] : m.state_dict()) {
    s.impls.push_back(t.impl_ptr().get());
    s.storages.push_back(t.storage().get());
    s.values.push_back(t.to_vector<float>());
    s.requires_grad.push_back(t.requires_grad());
    s.has_grad.push_back(t.grad().defined());
  }
  return s;
}

void expect_same(const Snapshot& a, const Snapshot& b) {
  ASSERT_EQ(a.impls.size(), b.impls.size());
  for (size_t i = 0; i < a.impls.size(); ++i) {
    EXPECT_EQ(a.impls[i], b.impls[i]) << "tensor " << i;
    EXPECT_EQ(a.storages[i], b.storages[i]) << "tensor " << i;
    EXPECT_EQ(a.values[i], b.values[i]) << "tensor " << i;
    EXPECT_EQ(a.requires_grad[i], b.requires_grad[i]) << "tensor " << i;
    EXPECT_EQ(a.has_grad[i], b.has_grad[i]) << "tensor " << i;
  }
}

std::unique_ptr<Bottleneck> make_block(engine::Generator& gen) {
  return std::make_unique<Bottleneck>(
      BottleneckOptions{
          .in_channels = 8, .width = 4, .out_channels = 16, .stride = 1, .downsample = true},
      gen);
}

TEST(ModuleDevice, ToCpuOnCpuModuleChangesNothing) {
  engine::Generator gen(7);
  auto block = make_block(gen);
  block->find_module("conv1")->set_requires_grad(false);
  // Gradients on the trainable parameters, so that keeping them is checked too.
  Tensor y = block->forward(engine::randn({2, 5, 5, 8}, gen));
  engine::sum(y * y).backward();
  Snapshot before = snapshot(*block);
  block->to(Device::cpu());
  expect_same(before, snapshot(*block));
  // Still a working module whose optimizer groups see the same tensors.
  engine::optim::SGD sgd({make_param_group(
                             *block, "all", [](const std::string&) { return true; }, 1.0, 0.0)},
                         0.1);
  sgd.step();
  Tensor w = block->find_tensor("conv2.weight");
  EXPECT_NE(w.to_vector<float>(), before.values[5]) << "the step reached the module's tensor";
}

TEST(ModuleDevice, FailedMoveLeavesTheModuleAsItWas) {
  if (engine::cuda_available()) GTEST_SKIP() << "a CUDA device is present: the move would work";
  engine::Generator gen(8);
  auto block = make_block(gen);
  Snapshot before = snapshot(*block);
  EXPECT_THROW(block->to(Device::cuda(0)), engine::Error);
  expect_same(before, snapshot(*block));
  for (const auto& [name, t] : block->state_dict()) EXPECT_TRUE(t.device().is_cpu()) << name;
}

}  // namespace
}  // namespace layers
