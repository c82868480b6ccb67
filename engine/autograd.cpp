#include "engine/autograd.h"

#include <unordered_map>

#include "engine/ops/elementwise.h"

namespace engine::autograd {

namespace {
thread_local bool t_grad_enabled = true;

// Adds incoming gradients into a leaf's .grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
      : Node("accumulate_grad", 1), leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(const std::vector<Tensor>& g) override {
    if (!g[0].defined()) return {};
    Meta& m = *leaf_->autograd;
    Tensor incoming = g[0];
    ENGINE_CHECK(incoming.shape() == leaf_->shape,
                 "accumulate_grad: gradient {} does not match leaf {}", incoming.desc(),
                 shape_str(leaf_->shape));
    if (!m.grad) {
      // Own the memory: the incoming gradient may alias another tensor.
      m.grad = incoming.clone().impl_ptr();
    } else {
      m.grad = add(Tensor(m.grad), incoming).impl_ptr();
    }
    return {};
  }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  Meta& m = *leaf.impl().autograd;
  if (auto acc = m.accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>(leaf.impl_ptr());
  m.accumulator = acc;
  return acc;
}

Edge edge_of(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  return {grad_accumulator(t), 0};
}
}  // namespace

bool grad_mode_enabled() {
  return t_grad_enabled;
}
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) {
  t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_enabled = prev_;
}

std::vector<Tensor> FunctionNode::apply(const std::vector<Tensor>& grad_outputs) {
  ENGINE_CHECK(!released_,
               "backward through '{}' a second time: its saved tensors were freed by the first "
               "backward; pass retain_graph=true to the first backward to run it again",
               name());
  return fn_(grad_outputs);
}

void FunctionNode::release() {
  fn_ = nullptr;
  released_ = true;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor*> outputs,
            BackwardFn fn) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<FunctionNode>(name, int(outputs.size()), std::move(fn));
  auto& edges = node->mutable_next_edges();
  edges.reserve(inputs.size());
  for (const Tensor& t : inputs) edges.push_back(edge_of(t));
  for (Tensor* out : outputs)
    node->outputs_info().push_back(out->defined()
                                       ? Node::OutputInfo{out->shape(), out->dtype(), out->device()}
                                       : Node::OutputInfo{});
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor& out = *outputs[i];
    if (!out.defined() || !is_floating(out.dtype())) continue;  // indices: not differentiable
    auto m = std::make_shared<Meta>();
    m->requires_grad = true;
    m->grad_fn = node;
    m->output_nr = int(i);
    out.impl().autograd = std::move(m);
  }
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph) {
  NoGradGuard no_grad;  // gradients are plain data: no double backward
  // Count, for every node reachable from the roots, how many edges point at it.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep;  // holds nodes alive while we run
  auto visit_root = [&](const Edge& e) {
    if (!e.node) return;
    if (keep.emplace(e.node.get(), e.node).second) stack.push_back(e.node.get());
  };
  std::vector<Edge> root_edges;
  for (const Tensor& r : roots) {
    root_edges.push_back(edge_of(r));
    visit_root(root_edges.back());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.node) continue;
      ++deps[e.node.get()];
      if (keep.emplace(e.node.get(), e.node).second) stack.push_back(e.node.get());
    }
  }
  // Pending gradient buffers per node output.
  std::unordered_map<Node*, std::vector<Tensor>> pending;
  auto add_grad = [&](Node* n, int slot, const Tensor& g) {
    auto& buf = pending[n];
    if (buf.empty()) buf.resize(size_t(n->num_outputs()));
    Tensor& b = buf[size_t(slot)];
    b = b.defined() ? add(b, g) : g;
  };
  std::vector<Node*> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (!root_edges[i].node) continue;
    add_grad(root_edges[i].node.get(), root_edges[i].input_nr, grads[i]);
  }
  for (auto& [n, _] : keep)
    if (deps[n] == 0) ready.push_back(n);
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    std::vector<Tensor> gin = std::move(pending[n]);
    pending.erase(n);
    if (gin.empty()) gin.resize(size_t(n->num_outputs()));
    bool any = false;
    for (const Tensor& g : gin) any = any || g.defined();
    std::vector<Tensor> gout;
    if (any) {
      // Outputs that no gradient reached contribute zeros, so backward functions always see
      // one defined gradient per output.
      auto& info = n->outputs_info();
      for (size_t i = 0; i < gin.size() && i < info.size(); ++i)
        if (!gin[i].defined())
          gin[i] = Tensor::empty(info[i].shape, info[i].dtype, info[i].device).zero_();
      gout = n->apply(gin);
    }
    if (!retain_graph) n->release();
    const auto& edges = n->next_edges();
    for (size_t i = 0; i < edges.size(); ++i) {
      Node* next = edges[i].node.get();
      if (!next) continue;
      if (i < gout.size() && gout[i].defined()) add_grad(next, edges[i].input_nr, gout[i]);
      if (--deps[next] == 0) ready.push_back(next);
    }
  }
}

}  // namespace engine::autograd
