// CUDA mean-field inference of the dense CRF (spml/crf_kernels.h; docs/stage2.md "CUDA").
//
// The lattices come from the host (their hash table is the only part that needs sequential
// insertion); everything per iteration runs here. Each filter is splat (a CSR gather over
// vertices: no atomics, so reruns are bit-identical), d+1 blur passes ping-ponging between two
// [M, C] buffers, and a slice that also applies the normalization, the Potts weight and the
// running sum of messages. One thread per (vertex or pixel, class) element with the class
// fastest, so a warp reads contiguous class rows. The operation order per element is the CPU's
// (spml/permutohedral.cpp); results differ only by rounding (FMA contraction, expf/logf).
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include "cuda/allocator.h"
#include "cuda/launch.h"
#include "engine/kernels/softmax.h"
#include "spml/crf_kernels.h"

namespace spml::cuda {

namespace {

using engine::cuda::global_thread;
using engine::cuda::grid_for;
using engine::cuda::grid_threads;
using engine::cuda::kBlock;
using engine::cuda::stream;

// -ln U = ln(clip(p, prob_clip, 1)); NaN (bad input) becomes the clip value.
__global__ void neg_unary_kernel(const float* probs, int64_t n, float prob_clip, float* out) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    float v = probs[i];
    if (isnan(v)) v = prob_clip;
    v = v < prob_clip ? prob_clip : (v > 1.0f ? 1.0f : v);
    out[i] = logf(v);
  }
}

// a[v, l] = Σ_{slots s of v} w_s · in[p_s, l] · in_scale[p_s], p_s = s / d1. in == nullptr reads
// ones (the normalization's K·1); in_scale == nullptr means 1.
template <typename Idx>
__global__ void splat_kernel(const float* in, const float* in_scale, Idx c, int d1,
                             const int64_t* gather_offset, const int32_t* gather_slot,
                             const float* splat_weight, Idx m, float* a) {
  const Idx total = m * c;
  for (Idx e = Idx(global_thread()); e < total; e += Idx(grid_threads())) {
    const Idx v = e / c, l = e - v * c;
    const int64_t end = __ldg(gather_offset + v + 1);
    float acc = 0.0f;
    for (int64_t s = __ldg(gather_offset + v); s < end; ++s) {
      const int32_t slot = __ldg(gather_slot + s);
      const Idx p = Idx(slot / d1);
      float x = in ? __ldg(in + p * c + l) : 1.0f;
      if (in_scale) x *= __ldg(in_scale + p);
      acc += __ldg(splat_weight + slot) * x;
    }
    a[e] = acc;
  }
}

// One [1 2 1]/4 pass along a lattice direction; nb = that direction's [M, 2] neighbours.
template <typename Idx>
__global__ void blur_kernel(const float* src, const int32_t* nb, Idx c, Idx m, float* dst) {
  const Idx total = m * c;
  for (Idx e = Idx(global_thread()); e < total; e += Idx(grid_threads())) {
    const Idx v = e / c, l = e - v * c;
    const int32_t i1 = __ldg(nb + 2 * v), i2 = __ldg(nb + 2 * v + 1);
    float o = 0.5f * src[e];
    if (i1 >= 0) o += 0.25f * src[Idx(i1) * c + l];
    if (i2 >= 0) o += 0.25f * src[Idx(i2) * c + l];
    dst[e] = o;
  }
}

// out[i, l] = (base ? base[i, l] : 0) + weight · (out_scale ? out_scale[i] : 1) · Σ_k w_ik ·
// a[v_ik, l]. base may alias out (each element is read before it is written, by one thread).
template <typename Idx>
__global__ void slice_kernel(const float* a, const int32_t* splat_vertex, const float* splat_weight,
                             int d1, Idx n, Idx c, const float* base, const float* out_scale,
                             float weight, float* out) {
  const Idx total = n * c;
  for (Idx e = Idx(global_thread()); e < total; e += Idx(grid_threads())) {
    const Idx i = e / c, l = e - i * c;
    float o = 0.0f;
    for (int k = 0; k < d1; ++k) {
      const Idx slot = i * Idx(d1) + Idx(k);
      o += __ldg(splat_weight + slot) * a[Idx(__ldg(splat_vertex + slot)) * c + l];
    }
    const float s = out_scale ? weight * __ldg(out_scale + i) : weight;
    out[e] = (base ? base[e] : 0.0f) + s * o;
  }
}

__global__ void inv_sqrt_kernel(float* x, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) x[i] = 1.0f / sqrtf(x[i] + 1e-20f);
}

template <typename Idx>
struct Launcher {
  // `a` and `b` hold [M, C] floats each. The filter's result is sliced into `out` as slice_kernel
  // describes.
  static void filter(const CrfLatticeArgs& k, const float* in, const float* in_scale, int64_t c,
                     float* a, float* b, const float* base, const float* out_scale, float weight,
                     float* out) {
    const int d1 = k.dim + 1;
    const Idx m = Idx(k.vertices), n = Idx(k.points), cc = Idx(c);
    const unsigned gm = grid_for(k.vertices * c), gn = grid_for(k.points * c);
    splat_kernel<Idx><<<gm, kBlock, 0, stream()>>>(in, in_scale, cc, d1, k.gather_offset,
                                                   k.gather_slot, k.splat_weight, m, a);
    ENGINE_CUDA_LAUNCH_CHECK();
    for (int j = 0; j < d1; ++j) {
      blur_kernel<Idx>
          <<<gm, kBlock, 0, stream()>>>(a, k.blur_neighbor + int64_t(j) * k.vertices * 2, cc, m, b);
      ENGINE_CUDA_LAUNCH_CHECK();
      std::swap(a, b);
    }
    slice_kernel<Idx><<<gn, kBlock, 0, stream()>>>(a, k.splat_vertex, k.splat_weight, d1, n, cc,
                                                   base, out_scale, weight, out);
    ENGINE_CUDA_LAUNCH_CHECK();
  }
};

void filter(const CrfLatticeArgs& k, const float* in, const float* in_scale, int64_t c, float* a,
            float* b, const float* base, const float* out_scale, float weight, float* out) {
  // 32-bit element indices (cheaper divisions) whenever every index of this filter fits.
  const int64_t widest = std::max({k.vertices * c, k.points * c, k.points * (k.dim + 1)});
  if (widest < int64_t(INT_MAX))
    Launcher<uint32_t>::filter(k, in, in_scale, c, a, b, base, out_scale, weight, out);
  else
    Launcher<int64_t>::filter(k, in, in_scale, c, a, b, base, out_scale, weight, out);
}

float* as_float(const engine::cuda::DeviceBuffer& b) {
  return static_cast<float*>(b.get());
}

}  // namespace

void dense_crf_mean_field(const float* probs, int64_t points, int64_t classes, float prob_clip,
                          const CrfLatticeArgs* kernels, int num_kernels, int iterations,
                          float* q) {
  if (points == 0 || classes == 0) return;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  const int64_t nc = points * classes;
  const size_t f = sizeof(float);
  engine::cuda::DeviceBuffer unary(size_t(nc) * f, device);
  neg_unary_kernel<<<grid_for(nc), kBlock, 0, stream()>>>(probs, nc, prob_clip, as_float(unary));
  ENGINE_CUDA_LAUNCH_CHECK();
  engine::cuda::softmax_rows(as_float(unary), points, classes, false, q);
  if (iterations == 0 || num_kernels == 0) return;

  int64_t max_vertices = 1;
  for (int t = 0; t < num_kernels; ++t) max_vertices = std::max(max_vertices, kernels[t].vertices);
  engine::cuda::DeviceBuffer logits(size_t(nc) * f, device),
      norm(size_t(points) * size_t(num_kernels) * f, device),
      a(size_t(max_vertices * classes) * f, device), b(size_t(max_vertices * classes) * f, device);

  // D_m^-1/2 = 1/sqrt(K_m 1), once per lattice.
  for (int t = 0; t < num_kernels; ++t) {
    float* nt = as_float(norm) + int64_t(t) * points;
    filter(kernels[t], nullptr, nullptr, 1, as_float(a), as_float(b), nullptr, nullptr, 1.0f, nt);
    inv_sqrt_kernel<<<grid_for(points), kBlock, 0, stream()>>>(nt, points);
    ENGINE_CUDA_LAUNCH_CHECK();
  }

  for (int it = 0; it < iterations; ++it) {
    for (int t = 0; t < num_kernels; ++t) {
      const float* nt = as_float(norm) + int64_t(t) * points;
      // The first message starts from -U, later ones add to the running sum in place.
      const float* base = t == 0 ? as_float(unary) : as_float(logits);
      filter(kernels[t], q, nt, classes, as_float(a), as_float(b), base, nt, kernels[t].weight,
             as_float(logits));
    }
    engine::cuda::softmax_rows(as_float(logits), points, classes, false, q);
  }
}

}  // namespace spml::cuda
