// Define-by-run autograd (DESIGN.md "Ops, kernels, autograd").
//
// An op whose inputs need gradients records a Node: a backward function holding the op's saved
// tensors (always detached, so no reference cycles) and edges to its inputs' nodes. Leaves that
// require grad get an accumulator node that adds into their .grad(). Tensor::backward() runs the
// nodes reachable from the root in reverse topological order and frees each node's saved
// tensors as soon as it has run (unless retain_graph).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace engine::autograd {

// Gradient recording is on by default, per thread.
bool grad_mode_enabled();

// Turns recording off in its scope (the optimizer, clustering and evaluation use it).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

class Node;

struct Edge {
  std::shared_ptr<Node> node;  // null: that input needs no gradient
  int input_nr = 0;            // which output of `node` the input is
};

// Backward function: receives one gradient per output of the op (undefined where no gradient
// flowed to that output) and returns one gradient per input (undefined where not needed).
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

class Node {
 public:
  Node(std::string name, int num_outputs) : name_(std::move(name)), num_outputs_(num_outputs) {}
  virtual ~Node() = default;
  const std::string& name() const { return name_; }
  int num_outputs() const { return num_outputs_; }
  const std::vector<Edge>& next_edges() const { return next_; }
  // Shape, dtype and device of each output, so that outputs no gradient reached get zeros.
  struct OutputInfo {
    Shape shape;
    DType dtype = DType::f32;
    Device device;
  };
  std::vector<OutputInfo>& outputs_info() { return outputs_; }
  std::vector<Edge>& mutable_next_edges() { return next_; }

  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
  // Drops saved tensors; a later apply() then raises a clear error.
  virtual void release() {}

 private:
  std::string name_;
  int num_outputs_;
  std::vector<Edge> next_;
  std::vector<OutputInfo> outputs_;
};

// The node an op records: a backward closure that owns the saved tensors.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, int num_outputs, BackwardFn fn)
      : Node(std::move(name), num_outputs), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
  void release() override;

 private:
  BackwardFn fn_;
  bool released_ = false;
};

// Per-tensor autograd state.
struct Meta {
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;     // null for leaves
  int output_nr = 0;                 // which output of grad_fn this tensor is
  std::shared_ptr<TensorImpl> grad;  // leaves: accumulated gradient
  std::weak_ptr<Node> accumulator;   // leaves: cached accumulator node
};

// True when recording is on and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Records an op: `outputs` become non-leaf tensors with a FunctionNode as grad_fn whose edges
// point at `inputs` (undefined inputs and those not needing grad get null edges). Does nothing
// when no input needs grad. The closure must capture saved tensors via save().
void record(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor*> outputs,
            BackwardFn fn);

// What a backward closure may keep of a tensor: its data, cut from the graph.
inline Tensor save(const Tensor& t) {
  return t.defined() ? t.detach() : Tensor();
}

// Runs backward from `roots` seeded with `grads` (same shapes). Used by Tensor::backward.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

}  // namespace engine::autograd
