// Indexing ops. Values are f32/f64 (differentiable); index tensors are i32 or i64 and never
// differentiable. Negative dims count from the end. Every index value is checked: a value
// outside [0, size) raises an error naming the op, the value, the dim, its size and the shape.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/tensor.h"

namespace engine {

// torch.gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along `dim`. index has as many
// dims as x and is no larger than x in the other dims; out has index's shape.
// Backward: scatter_add of the gradient into zeros shaped like x.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

// base + src scattered along `dim`: out[..., index[..., j, ...], ...] += src[..., j, ...].
// src has index's shape; index has as many dims as base and is no larger in the other dims.
// Repeated indices accumulate. Differentiable w.r.t. base (identity) and src (gather).
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);

// Picks slices of x along `dim` by a 1-D index [n]: out has x's shape with size n at `dim`.
// Backward: index_add into zeros.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

// base + src accumulated along `dim` by a 1-D index [n]: out[..., index[j], ...] += src[..., j,
// ...]; src has base's shape with size n at `dim`. Deterministic (no atomics; each output row sums
// its sources in index order). Differentiable w.r.t. base (identity) and src (index_select).
Tensor index_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);

// Segment sum (SPML segment pooling): x [P, D] (e.g. pixel embeddings), ids [P] in
// [0, num_segments) -> [num_segments, D], row s = sum of the rows of x with id s (empty segments
// are zero). Deterministic for any thread count. Backward: gathers gradient rows by ids.
Tensor segment_sum(const Tensor& x, const Tensor& ids, int64_t num_segments);

// labels (u8, i32 or i64, any shape [...]) -> [..., num_classes] of `dtype` (f32 or f64): 1 at
// the label, 0 elsewhere. A label equal to ignore_index gives an all-zero row; any other label
// outside [0, num_classes) is an error. Not differentiable.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::f32,
               std::optional<int64_t> ignore_index = std::nullopt);

}  // namespace engine
