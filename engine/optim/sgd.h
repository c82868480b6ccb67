// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay over
// parameter groups, with PyTorch's torch.optim.SGD semantics. For each parameter p with
// gradient g in a group with lr = base_lr * lr_scale:
//   d = g + weight_decay * p
//   if momentum != 0:  buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d
//                      d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
// A parameter whose .grad() is undefined is skipped (its buffer is left as it is).
//
// The groups express training recipes such as SPML's: head parameters at lr_scale 10,
// backbone weights at 1 with weight decay, BatchNorm betas at 2 without weight decay; frozen
// parameters (the stem and res2) are simply not given to the optimizer.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace engine::optim {

struct ParamGroup {
  std::string name{};
  // Contiguous leaves: f32 or f64 on the CPU, f32 on a CUDA device (builds with CUDA); each
  // parameter may appear in only one group. A parameter may change device after the optimizer
  // is built (layers::Module::to swaps its storage in place); its momentum buffer follows it on
  // the next step().
  std::vector<Tensor> params{};
  // Names identifying each parameter's momentum buffer in state() (e.g. the module's dotted
  // parameter names). Empty: "<group name>.<index>".
  std::vector<std::string> param_names{};
  double lr_scale = 1.0;  // this group's lr = base lr (set_lr) * lr_scale
  double weight_decay = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class SGD {
 public:
  // Validates the groups (hyper-parameters, parameter dtypes/devices, unique names, no
  // parameter in two groups); throws engine::Error naming the group and the problem.
  explicit SGD(std::vector<ParamGroup> groups, double base_lr = 0.0);

  // The base learning rate of the next step() (a schedule sets it every iteration).
  void set_lr(double base_lr);
  double lr() const { return base_lr_; }
  // base lr * the group's lr_scale.
  double group_lr(size_t group) const;
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // Updates every parameter with a gradient, in place, under NoGradGuard. CPU: one fused pass
  // over each parameter's memory (OpenMP-parallel for large ones). CUDA: the same arithmetic in
  // f32 from element-wise kernels (a few passes per parameter; results equal the CPU update up
  // to rounding).
  void step();
  // Drops every parameter's gradient (the next backward writes fresh ones).
  void zero_grad();

  // Momentum buffers (CPU copies) by parameter name, for checkpoints; parameters that have no
  // buffer yet (momentum 0, or never stepped with a gradient) are absent.
  std::vector<std::pair<std::string, Tensor>> state() const;
  // Replaces all momentum buffers: every name must be one of this optimizer's parameters with
  // momentum, shapes must match (dtypes and devices are converted to the parameter's); parameters
  // absent from `state` start without a buffer. Nothing changes when it throws.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 private:
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<Tensor>> buffers_;  // [group][param]; undefined until first step
  double base_lr_ = 0.0;
};

}  // namespace engine::optim
