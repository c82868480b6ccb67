// Module: a tree of named parameters, buffers and child modules, registered in order, with the
// dotted names torchvision's state_dict uses ("layer3.22.bn2.running_mean"). Layer: a module
// with a single-tensor forward; Sequential: layers named "0", "1", ... run in order.
//
// Parameters and buffers are Tensor handles shared with the layer that owns them; loading
// weights writes into their storage in place and to(device) swaps their storage in place, so
// optimizer groups built earlier stay valid.
// BatchNorm's num_batches_tracked is not kept (momentum is always given), so it is in no
// state_dict here; the weight importer ignores it in files (models/weights.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/optim/sgd.h"
#include "engine/tensor.h"

namespace layers {

using engine::Tensor;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // "Conv2d", "Bottleneck", ... (for error messages and printing).
  const std::string& type_name() const { return type_name_; }

  // Dotted names, in registration order: a module's own parameters first, then each child's
  // (recursively). `prefix` keeps only names starting with it ("layer3." or "backbone.").
  NamedTensors named_parameters(const std::string& prefix = "") const;
  NamedTensors named_buffers(const std::string& prefix = "") const;
  std::vector<Tensor> parameters(const std::string& prefix = "") const;
  // Parameters and buffers in torchvision's state_dict order: per module its parameters, then
  // its buffers, then its children.
  NamedTensors state_dict() const;
  // Number of parameter elements.
  int64_t num_parameters() const;

  // Direct children in registration order, and lookups by dotted path ("layer1.0.bn1");
  // the empty path is this module. find_* return nullptr when absent.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  Module* find_module(const std::string& path);
  const Module* find_module(const std::string& path) const;
  // A parameter or buffer by dotted name; undefined tensor when absent.
  Tensor find_tensor(const std::string& name) const;

  // Training mode for this module and all descendants (BatchNorm uses batch statistics and
  // Dropout drops only in training mode). Modules start in training mode.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // requires_grad of every parameter under this module (false: frozen, gets no gradient).
  void set_requires_grad(bool on);
  // Drops every parameter's gradient.
  void zero_grad();

  // Moves every parameter and buffer of this module and its descendants to `device`, in place:
  // each registered Tensor handle keeps its identity (the layers' members, optimizer groups built
  // earlier, anything else holding a copy of the handle see the moved data), its shape, strides,
  // offset, dtype and requires_grad. Tensors sharing one storage still share one storage
  // afterwards (the whole storage is copied once). A defined gradient moves along; SGD momentum
  // buffers follow their parameter on the next step(). So model->to(device) may run before or
  // after the optimizer is built; it must not run while a graph that saved these tensors is
  // alive (between forward and backward): saved tensors keep the old storage. Tensors already
  // on `device` are left alone, so to(cpu) on a CPU module does nothing. Not recorded by
  // autograd. Errors (a build without CUDA, an unavailable device) come from Tensor::to.
  void to(engine::Device device);

 protected:
  // Names are non-empty, contain no '.', and are unique among this module's parameters,
  // buffers and children. Parameters must be leaves; they are marked requires_grad.
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void check_new_name(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& base, bool params, bool buffers, NamedTensors& out) const;

  std::string type_name_;
  bool training_ = true;
  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one input and one output.
class Layer : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// Children named "0", "1", ... (torch.nn.Sequential's names); forward runs them in order.
class Sequential : public Layer {
 public:
  Sequential() : Layer("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Layer>> items);
  void push_back(std::shared_ptr<Layer> layer);
  size_t size() const { return items_.size(); }
  Layer& operator[](size_t i) const;
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<Layer>> items_;
};

// One optimizer group from the trainable (requires_grad) parameters of `module` whose dotted
// names satisfy `select`, with their names as param_names (prefixed by `name_prefix`, e.g. the
// module's path in a bigger model). Momentum, dampening and nesterov are left at their defaults
// for the caller to set.
engine::optim::ParamGroup make_param_group(const Module& module, std::string group_name,
                                           const std::function<bool(const std::string&)>& select,
                                           double lr_scale, double weight_decay,
                                           const std::string& name_prefix = "");

}  // namespace layers
