// Indexing kernels: gather / scatter-add along one dim, row selection and deterministic row
// accumulation (index_select / index_add / segment sum), one-hot encoding.
//
// Index values reach these kernels already validated (engine/ops/index.cpp checks every value
// and raises an error naming it), so kernels never bounds-check. I is int32_t or int64_t.
#pragma once

#include <cstdint>

#include "engine/kernels/layout.h"

namespace engine {

// A tensor seen as "lines" along one dim: `lines` covers every coordinate except that dim (its
// shape is the index tensor's shape without the dim, its strides the tensor's own), and element
// j of a line sits j * dim_stride further. Lets gather/scatter walk strided views without copies.
struct LineGeometry {
  Layout lines;
  int64_t dim_stride = 0;
};

}  // namespace engine

namespace engine::cpu {

// out[line, j] = x[line, idx[line, j]] for every line of the index (n elements per line).
template <typename T, typename I>
void gather(const T* x, const LineGeometry& gx, const I* idx, const LineGeometry& gi, T* out,
            const LineGeometry& go, int64_t num_lines, int64_t n);

// out[line, idx[line, j]] += src[line, j]. Lines write disjoint parts of out, so lines run in
// parallel and each line adds in j order: the result does not depend on the thread count.
template <typename T, typename I>
void scatter_add(T* out, const LineGeometry& go, const I* idx, const LineGeometry& gi, const T* src,
                 const LineGeometry& gs, int64_t num_lines, int64_t n);

// Dense x [outer, x_dim, inner] -> out [outer, n, inner]: out[o, j, :] = x[o, idx[j], :].
template <typename T, typename I>
void index_select(const T* x, int64_t outer, int64_t x_dim, int64_t inner, const I* idx, int64_t n,
                  T* out);

// Dense out [outer, out_dim, inner] += src [outer, n, inner] routed by idx[n]:
// out[o, idx[j], :] += src[o, j, :]. Deterministic without atomics, bitwise independent of the
// thread count: every output element sums its sources in ascending j in a double, then adds to
// out (parallel over column blocks with a cache-resident accumulator, or over target rows after
// a stable counting sort when out_dim is large or columns are too few for the threads). With
// outer = 1 this is the segment sum x [P, D], ids [P] -> [S, D].
template <typename T, typename I>
void index_add(T* out, int64_t outer, int64_t out_dim, int64_t inner, const I* idx, int64_t n,
               const T* src);

// out [n, num_classes] = 0, and 1 at labels[i] where 0 <= labels[i] < num_classes unless it is
// the ignore value (all-zero row; so are the validated out-of-range ignore values).
// L is uint8_t, int32_t or int64_t.
template <typename T, typename L>
void one_hot(const L* labels, int64_t n, int64_t num_classes, bool has_ignore, int64_t ignore_index,
             T* out);

}  // namespace engine::cpu

// The CUDA contract (cuda/index.cu, the CUDA backend issue): float values, int32/int64 indices.
namespace engine::cuda {
void gather(const float* x, const LineGeometry& gx, const int64_t* idx, const LineGeometry& gi,
            float* out, const LineGeometry& go, int64_t num_lines, int64_t n);
void scatter_add(float* out, const LineGeometry& go, const int64_t* idx, const LineGeometry& gi,
                 const float* src, const LineGeometry& gs, int64_t num_lines, int64_t n);
void index_select(const float* x, int64_t outer, int64_t x_dim, int64_t inner, const int64_t* idx,
                  int64_t n, float* out);
void index_add(float* out, int64_t outer, int64_t out_dim, int64_t inner, const int64_t* idx,
               int64_t n, const float* src);
}  // namespace engine::cuda
