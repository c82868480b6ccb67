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

// CUDA kernels (cuda/index.cu): f32 values, I = int32_t or int64_t indices (one_hot and
// find_bad_index also take uint8_t labels), device pointers, all on the current device's compute
// stream. Same layouts and meaning as the CPU kernels above.
namespace engine::cuda {

// Position of the first value of idx[0, n) outside [0, size) that is not the ignore value (when
// has_ignore), or -1 if every value is valid; the bad value goes to *bad_value. Validation runs
// on the device (a kernel records the lowest bad position with atomicMin) and this call waits
// for it: one 8-byte device-to-host copy and a compute-stream synchronization per call (a second
// copy of one index only when a value is bad).
template <typename I>
int64_t find_bad_index(const I* idx, int64_t n, int64_t size, bool has_ignore, int64_t ignore,
                       int64_t* bad_value);

// One thread per output element, 64-bit offsets.
template <typename I>
void gather(const float* x, const LineGeometry& gx, const I* idx, const LineGeometry& gi,
            float* out, const LineGeometry& go, int64_t num_lines, int64_t n);

// Deterministic and bitwise equal to the CPU: one thread per line adds its n sources in j order
// (lines write disjoint parts of out), no atomics. Few long lines therefore run slowly.
template <typename I>
void scatter_add(float* out, const LineGeometry& go, const I* idx, const LineGeometry& gi,
                 const float* src, const LineGeometry& gs, int64_t num_lines, int64_t n);

// Dense row copy, float4 when inner and the pointers allow it.
template <typename I>
void index_select(const float* x, int64_t outer, int64_t x_dim, int64_t inner, const I* idx,
                  int64_t n, float* out);

// Deterministic without atomics (bitwise the same on every run): (idx[j], j) pairs are sorted
// stably by target with CUB's radix sort; each target's sources are cut into chunks of 64 in
// ascending j, a thread per (chunk, column) sums its chunk in a double, and a thread per
// (target, column) adds the chunk sums in order and adds that to out. A target with at most 64
// sources is then bitwise equal to the CPU; larger ones differ from it only by double rounding.
// Requires n and out_dim < 2^31 (checked). Scratch: about 16 bytes per index and 8 bytes per
// (chunk, column) partial sum, from the caching allocator.
template <typename I>
void index_add(float* out, int64_t outer, int64_t out_dim, int64_t inner, const I* idx, int64_t n,
               const float* src);

// out [n, num_classes] f32, as cpu::one_hot (labels already validated).
template <typename L>
void one_hot(const L* labels, int64_t n, int64_t num_classes, bool has_ignore, int64_t ignore_index,
             float* out);

}  // namespace engine::cuda
