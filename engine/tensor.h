// Tensor: a cheap shared handle to a Storage plus shape, strides (elements), offset (elements),
// dtype and device (DESIGN.md "Tensors"). Views share storage; contiguous() materializes.
// Activations are NHWC; convolution weights are [O, KH, KW, I].
//
// Every view and conversion here is differentiable (recorded by autograd) when an input requires
// grad; the math ops live in engine/ops/*.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace engine {

class Tensor;
class Generator;
namespace autograd {
class Node;
struct Meta;
}  // namespace autograd

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // elements
  int64_t offset = 0;  // elements
  DType dtype = DType::f32;
  std::shared_ptr<autograd::Meta> autograd;  // null for plain data tensors
};

class Tensor {
 public:
  Tensor() = default;  // undefined
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- creation (uninitialized / from host data) ---
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // A CPU tensor in page-locked memory when a CUDA device is present (see Storage), for
  // host->device copies that overlap compute (the loader's batches).
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::f32);
  bool is_pinned() const;
  // Copies `values` (row-major) into a new CPU tensor of `shape`.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

  // --- geometry ---
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  const Shape& strides() const { return impl().strides; }
  int64_t stride(int64_t dim) const;
  int64_t offset() const { return impl().offset; }
  int dim() const { return int(impl().shape.size()); }
  int64_t numel() const { return engine::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  // "[2, 3] f32 cpu"
  std::string desc() const;

  // --- data access ---
  // Pointer to the first element (storage + offset); no device or dtype check.
  void* raw_data() const;
  // Typed pointer to the first element; checks dtype (and nothing about contiguity).
  template <typename T>
  T* data() const;
  // The single element of a one-element tensor, converted to double (copies from device).
  double item() const;
  // Row-major copy to host of all elements, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // --- views (share storage; differentiable) ---
  Tensor reshape(const Shape& shape) const;  // one dim may be -1; copies when not viewable
  Tensor view(const Shape& shape) const;     // never copies; error when not viewable
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor permute(const std::vector<int>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  // Python-style slice: [start, end) with step > 0; start/end may be negative.
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes `dim`
  Tensor expand(const Shape& shape) const;          // -1 keeps a dim; new leading dims allowed
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;

  // --- copies and conversions (differentiable between floating dtypes) ---
  Tensor contiguous() const;  // itself if already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor cpu() const { return to(Device::cpu()); }

  // --- in-place writes (not recorded by autograd; refused on tensors that need grad while
  // grad mode is on) ---
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  // Copies src (broadcast to this shape, dtype converted) into this tensor's elements.
  Tensor& copy_(const Tensor& src);

  // --- autograd ---
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value = true);  // leaves only
  // A tensor sharing data with this one, cut from the graph.
  Tensor detach() const;
  bool is_leaf() const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  int output_nr() const;
  // Accumulated gradient of a leaf (undefined until a backward reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the gradient (next backward writes a fresh one)
  // Back-propagates from this tensor. Without `gradient` this must be a one-element tensor.
  // retain_graph keeps saved tensors so backward may run through the graph again.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  // --- debugging ---
  // Shape, dtype, device and (a summary of) the values.
  std::string str(int64_t max_per_dim = 6) const;

  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  TensorImpl& impl() const {
    ENGINE_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A tensor viewing `base`'s storage with new geometry (no autograd recording; ops use this).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

template <typename T>
T* Tensor::data() const {
  ENGINE_CHECK(DTypeOf<T>::value == dtype(), "data<{}>() on a tensor of dtype {}",
               dtype_name(DTypeOf<T>::value), dtype_name(dtype()));
  return static_cast<T*>(raw_data());
}

}  // namespace engine
