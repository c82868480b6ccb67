#include "engine/optim/sgd.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/common.h"
#include "engine/ops/elementwise.h"

namespace engine::optim {
namespace {

// The update is memory-bound (~20 bytes per element); below this size one core streams it in
// tens of microseconds and an OpenMP fork/join would cost more than it saves.
constexpr int64_t kParallelMin = int64_t(1) << 18;

// One fused read-modify-write pass over p (and buf). Hyper-parameters are passed in T so f32
// math matches PyTorch's f32 update; the branches are loop-invariant and the compiler unswitches
// them.
template <typename T>
void sgd_update(T* p, const T* g, T* buf, int64_t n, T lr, T wd, T momentum, T dampening,
                bool nesterov, bool first) {
  const T keep = T(1) - dampening;
  if (buf == nullptr) {
#pragma omp parallel for simd if (n >= kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
  } else if (first) {
#pragma omp parallel for simd if (n >= kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      T d = g[i] + wd * p[i];
      buf[i] = d;
      p[i] -= lr * (nesterov ? d + momentum * d : d);
    }
  } else {
#pragma omp parallel for simd if (n >= kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      T d = g[i] + wd * p[i];
      T b = momentum * buf[i] + keep * d;
      buf[i] = b;
      p[i] -= lr * (nesterov ? d + momentum * b : b);
    }
  }
}

// Hyper-parameters as 0-d f32 tensors on one device, made once per group and step, so that the
// element-wise ops of sgd_update_device upload nothing per parameter.
struct DeviceScalars {
  Device device = Device::cpu();
  Tensor lr, weight_decay, momentum, keep;
};

DeviceScalars device_scalars(const ParamGroup& g, double lr, Device device) {
  auto scalar = [&](double v) {
    return Tensor::from_vector(std::vector<float>{float(v)}, {}).to(device);
  };
  return {device, scalar(lr), scalar(g.weight_decay), scalar(g.momentum),
          scalar(1.0 - g.dampening)};
}

// The update of sgd_update on a CUDA parameter, from element-wise ops (CUDA kernels on the
// compute stream) written back with copy_: about five passes over the parameter instead of one.
void sgd_update_device(const Tensor& p, const Tensor& g, Tensor& buf, const ParamGroup& group,
                       const DeviceScalars& s, bool first) {
  Tensor d = group.weight_decay != 0 ? g + s.weight_decay * p : g;
  Tensor step = d;
  if (group.momentum != 0) {
    buf.copy_(first ? d : s.momentum * buf + s.keep * d);
    step = group.nesterov ? d + s.momentum * buf : buf;
  }
  Tensor target = p;
  target.copy_(p - s.lr * step);
}

void check_hyper(const ParamGroup& g) {
  auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
  ENGINE_CHECK(!bad(g.lr_scale), "SGD: group '{}' lr_scale must be finite and >= 0, got {}", g.name,
               g.lr_scale);
  ENGINE_CHECK(!bad(g.weight_decay), "SGD: group '{}' weight_decay must be finite and >= 0, got {}",
               g.name, g.weight_decay);
  ENGINE_CHECK(!bad(g.momentum), "SGD: group '{}' momentum must be finite and >= 0, got {}", g.name,
               g.momentum);
  ENGINE_CHECK(!bad(g.dampening), "SGD: group '{}' dampening must be finite and >= 0, got {}",
               g.name, g.dampening);
  ENGINE_CHECK(!g.nesterov || (g.momentum > 0 && g.dampening == 0),
               "SGD: group '{}' uses nesterov, which needs momentum > 0 and dampening 0 (got "
               "momentum {}, dampening {})",
               g.name, g.momentum, g.dampening);
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, double base_lr) : groups_(std::move(groups)) {
  set_lr(base_lr);
  std::set<std::string> group_names, param_names;
  std::set<const TensorImpl*> seen;
  for (ParamGroup& g : groups_) {
    ENGINE_CHECK(group_names.insert(g.name).second, "SGD: duplicate group name '{}'", g.name);
    check_hyper(g);
    ENGINE_CHECK(g.param_names.empty() || g.param_names.size() == g.params.size(),
                 "SGD: group '{}' has {} params but {} param_names", g.name, g.params.size(),
                 g.param_names.size());
    if (g.param_names.empty())
      for (size_t i = 0; i < g.params.size(); ++i)
        g.param_names.push_back(fmt::format("{}.{}", g.name, i));
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      const std::string& pn = g.param_names[i];
      ENGINE_CHECK(param_names.insert(pn).second, "SGD: duplicate parameter name '{}'", pn);
      ENGINE_CHECK(p.defined(), "SGD: group '{}' parameter '{}' is undefined", g.name, pn);
      ENGINE_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64,
                   "SGD: parameter '{}' {} must be f32 or f64", pn, p.desc());
#if ENGINE_WITH_CUDA
      ENGINE_CHECK(p.device().is_cpu() || (p.device().is_cuda() && p.dtype() == DType::f32),
                   "SGD: parameter '{}' {}: CUDA parameters must be f32", pn, p.desc());
#else
      if (!p.device().is_cpu()) ops::no_kernel("SGD", p);
#endif
      ENGINE_CHECK(p.is_contiguous(), "SGD: parameter '{}' {} must be contiguous", pn, p.desc());
      ENGINE_CHECK(seen.insert(p.impl_ptr().get()).second,
                   "SGD: parameter '{}' appears in more than one place (group '{}')", pn, g.name);
    }
  }
  buffers_.resize(groups_.size());
  for (size_t gi = 0; gi < groups_.size(); ++gi) buffers_[gi].resize(groups_[gi].params.size());
}

void SGD::set_lr(double base_lr) {
  ENGINE_CHECK(std::isfinite(base_lr) && base_lr >= 0,
               "SGD: learning rate must be finite and >= 0, got {}", base_lr);
  base_lr_ = base_lr;
}

double SGD::group_lr(size_t group) const {
  ENGINE_CHECK(group < groups_.size(), "SGD: group index {} out of range ({} groups)", group,
               groups_.size());
  return base_lr_ * groups_[group].lr_scale;
}

void SGD::step() {
  autograd::NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    const double lr = group_lr(gi);
    std::optional<DeviceScalars> scalars;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      const std::string& pn = g.param_names[i];
      ENGINE_CHECK(
          grad.shape() == p.shape() && grad.dtype() == p.dtype() && grad.device() == p.device(),
          "SGD: parameter '{}' is {} but its gradient is {}", pn, p.desc(), grad.desc());
      grad = grad.contiguous();
      Tensor& buf = buffers_[gi][i];
      bool first = false;
      if (g.momentum != 0 && !buf.defined()) {
        buf = Tensor::empty(p.shape(), p.dtype(), p.device());
        first = true;
      }
      // The parameter moved (layers::Module::to) since the buffer was made: it follows.
      if (buf.defined() && buf.device() != p.device()) buf = buf.to(p.device()).contiguous();
      ops::dispatch_float(
          "SGD", p,
          [&](auto tag) {
            using T = decltype(tag);
            sgd_update<T>(p.data<T>(), grad.data<T>(), g.momentum != 0 ? buf.data<T>() : nullptr,
                          p.numel(), T(lr), T(g.weight_decay), T(g.momentum), T(g.dampening),
                          g.nesterov, first);
          },
          [&](auto) {
            if (!scalars || scalars->device != p.device())
              scalars = device_scalars(g, lr, p.device());
            sgd_update_device(p, grad, buf, g, *scalars, first);
          });
    }
  }
}

void SGD::zero_grad() {
  for (ParamGroup& g : groups_)
    for (Tensor& p : g.params) p.zero_grad();
}

std::vector<std::pair<std::string, Tensor>> SGD::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i)
      if (buffers_[gi][i].defined())
        out.emplace_back(groups_[gi].param_names[i], buffers_[gi][i].cpu().clone());
  return out;
}

void SGD::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  std::map<std::string, std::pair<size_t, size_t>> index;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i)
      index.emplace(groups_[gi].param_names[i], std::make_pair(gi, i));

  autograd::NoGradGuard no_grad;
  std::vector<std::vector<Tensor>> next(groups_.size());
  for (size_t gi = 0; gi < groups_.size(); ++gi) next[gi].resize(groups_[gi].params.size());
  for (const auto& [name, t] : state) {
    auto it = index.find(name);
    if (it == index.end()) {
      std::vector<std::string> known;
      for (const auto& [n, pos] : index) known.push_back(n);
      ENGINE_THROW("SGD load_state: '{}' is not a parameter of this optimizer (parameters: {})",
                   name, fmt::join(known, ", "));
    }
    auto [gi, i] = it->second;
    const Tensor& p = groups_[gi].params[i];
    ENGINE_CHECK(groups_[gi].momentum != 0,
                 "SGD load_state: '{}' has a momentum buffer but its group '{}' has momentum 0",
                 name, groups_[gi].name);
    ENGINE_CHECK(!next[gi][i].defined(), "SGD load_state: '{}' appears twice", name);
    ENGINE_CHECK(t.defined() && t.shape() == p.shape() && is_floating(t.dtype()),
                 "SGD load_state: buffer '{}' is {} but the parameter is {}", name,
                 t.defined() ? t.desc() : std::string("undefined"), p.desc());
    next[gi][i] = t.detach().to(p.device()).to(p.dtype()).clone();
  }
  buffers_ = std::move(next);
}

}  // namespace engine::optim
