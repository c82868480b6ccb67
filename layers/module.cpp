#include "layers/module.h"

#include <map>

#include "engine/autograd.h"
#include "engine/error.h"

namespace layers {

void Module::check_new_name(const std::string& name) const {
  ENGINE_CHECK(!name.empty() && name.find('.') == std::string::npos,
               "{}: invalid member name '{}' (non-empty, no '.')", type_name_, name);
  auto taken = [&](const NamedTensors& v) {
    for (const auto& [n, t] : v)
      if (n == name) return true;
    return false;
  };
  bool child = false;
  for (const auto& [n, m] : children_) child = child || n == name;
  ENGINE_CHECK(!taken(params_) && !taken(buffers_) && !child,
               "{}: member name '{}' registered twice", type_name_, name);
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  ENGINE_CHECK(value.defined(), "{}: parameter '{}' is undefined", type_name_, name);
  ENGINE_CHECK(value.is_leaf(), "{}: parameter '{}' must be a leaf tensor", type_name_, name);
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  ENGINE_CHECK(value.defined(), "{}: buffer '{}' is undefined", type_name_, name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  ENGINE_CHECK(module != nullptr, "{}: child '{}' is null", type_name_, name);
  module->train(training_);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& base, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(base + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(base + n, t);
  for (const auto& [n, m] : children_) m->collect(base + n + ".", params, buffers, out);
}

static NamedTensors filter_prefix(NamedTensors all, const std::string& prefix) {
  if (prefix.empty()) return all;
  NamedTensors out;
  for (auto& e : all)
    if (e.first.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(e));
  return out;
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
  NamedTensors out;
  collect("", true, false, out);
  return filter_prefix(std::move(out), prefix);
}

NamedTensors Module::named_buffers(const std::string& prefix) const {
  NamedTensors out;
  collect("", false, true, out);
  return filter_prefix(std::move(out), prefix);
}

std::vector<Tensor> Module::parameters(const std::string& prefix) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(prefix)) out.push_back(t);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

const Module* Module::find_module(const std::string& path) const {
  if (path.empty()) return this;
  size_t dot = path.find('.');
  std::string head = path.substr(0, dot);
  for (const auto& [n, m] : children_)
    if (n == head) return dot == std::string::npos ? m.get() : m->find_module(path.substr(dot + 1));
  return nullptr;
}

Module* Module::find_module(const std::string& path) {
  return const_cast<Module*>(static_cast<const Module*>(this)->find_module(path));
}

Tensor Module::find_tensor(const std::string& name) const {
  size_t dot = name.rfind('.');
  const Module* owner = dot == std::string::npos ? this : find_module(name.substr(0, dot));
  if (owner == nullptr) return Tensor();
  std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
  for (const auto& [n, t] : owner->params_)
    if (n == leaf) return t;
  for (const auto& [n, t] : owner->buffers_)
    if (n == leaf) return t;
  return Tensor();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::set_requires_grad(bool on) {
  for (auto& [n, t] : named_parameters()) {
    Tensor p = t;
    if (!on) p.zero_grad();
    p.set_requires_grad(on);
  }
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) {
    Tensor p = t;
    p.zero_grad();
  }
}

void Module::to(engine::Device device) {
  engine::autograd::NoGradGuard no_grad;
  // Storage-level move keyed by the old storage: views and tied weights keep sharing memory, and
  // every handle's offset and strides stay valid because the new storage has the same bytes.
  // Every copy is made before any handle changes, so a failed copy (no device, out of memory)
  // leaves the module as it was.
  std::map<std::shared_ptr<engine::Storage>, std::shared_ptr<engine::Storage>> moved;
  std::vector<std::pair<Tensor, Tensor>> grads;  // (tensor, its gradient on `device`)
  NamedTensors all = state_dict();
  for (auto& [name, t] : all) {
    if (t.device() == device) continue;
    const std::shared_ptr<engine::Storage>& old = t.impl().storage;
    if (moved.find(old) == moved.end()) {
      // The whole storage as one u8 vector: Tensor::to copies it byte for byte.
      auto bytes = std::make_shared<engine::TensorImpl>();
      bytes->storage = old;
      bytes->shape = {int64_t(old->nbytes())};
      bytes->strides = {1};
      bytes->dtype = engine::DType::u8;
      moved.emplace(old, Tensor(bytes).to(device).storage());
    }
    Tensor grad = t.grad();
    if (grad.defined()) grads.emplace_back(t, grad.detach().to(device));
  }
  for (auto& [name, t] : all)
    if (t.device() != device) t.impl().storage = moved.at(t.impl().storage);
  for (auto& [t, g] : grads) t.set_grad(g);
}

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> items) : Sequential() {
  for (auto& l : items) push_back(std::move(l));
}

void Sequential::push_back(std::shared_ptr<Layer> layer) {
  register_module(std::to_string(items_.size()), layer);
  items_.push_back(std::move(layer));
}

Layer& Sequential::operator[](size_t i) const {
  ENGINE_CHECK(i < items_.size(), "Sequential: index {} out of range (size {})", i, items_.size());
  return *items_[i];
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& l : items_) y = l->forward(y);
  return y;
}

engine::optim::ParamGroup make_param_group(const Module& module, std::string group_name,
                                           const std::function<bool(const std::string&)>& select,
                                           double lr_scale, double weight_decay,
                                           const std::string& name_prefix) {
  engine::optim::ParamGroup g;
  g.name = std::move(group_name);
  g.lr_scale = lr_scale;
  g.weight_decay = weight_decay;
  for (const auto& [n, t] : module.named_parameters()) {
    if (!t.requires_grad() || !select(n)) continue;
    g.params.push_back(t);
    g.param_names.push_back(name_prefix + n);
  }
  return g;
}

}  // namespace layers
