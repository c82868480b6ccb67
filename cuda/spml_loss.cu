// CUDA kernels of the fused SPML loss (spml/loss_kernels.h; docs/spml-loss.md "CUDA kernels").
//
// Forward: one block per tile of 64 pixels. The tile's embeddings sit in shared memory; the
// candidate range (union of the pixels' ranges) is walked in chunks of 64 prototypes staged in
// shared memory; a 64×64 logit tile comes from FP32 FMAs (4×4 per thread). Four threads share a
// pixel, each taking every fourth segment of the chunk, and keep per relation an online
// log-sum-exp (running max, rescaled positive and negative sums, positive count); the four states
// merge by warp shuffles at the end and finish_pixel (spml/relation_rules.h, shared with the CPU)
// gives ℓ, ln num, ln den.
//
// Backward: a fixed number of blocks (kParts), each owning a fixed contiguous range of pixel
// tiles. Per chunk the logits are recomputed, G = dL/d⟨e, μ⟩ replaces them in shared memory, and
// G·μ accumulates into a shared [64, D] pixel-gradient tile while Gᵀ·e accumulates into the
// block's own [S_grad, D] partial in global memory (one writer per element). A second kernel sums
// the partials in block order. No float atomics anywhere, so reruns are bit-identical.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/runtime.h"
#include "spml/loss_kernels.h"
#include "spml/relation_rules.h"

namespace spml::cuda {

namespace {

constexpr int kTileP = 64;
constexpr int kTileS = 64;
constexpr int kThreads = 256;     // 16×16 for the tile products, 4 per pixel for the pair loop
constexpr int kLdG = kTileS + 4;  // logit tile row stride: 4q + sub hits 32 distinct banks
constexpr int kParts = 256;       // prototype-gradient partials: fixed, so results are too
constexpr int kMaxR = kMaxSpaceRelations;

// Odd row stride of the embedding tiles: the 16 rows a warp reads in a column fall in distinct
// banks.
__host__ __device__ inline int row_stride(int d) {
  return d | 1;
}

size_t smem_bytes(int d, bool backward) {
  const size_t ld = size_t(row_stride(d));
  size_t b = sizeof(int64_t) * kMaxR * kTileS +                            // segment keys
             sizeof(float) * (kTileP * ld + kTileS * ld + kTileP * kLdG);  // e, μ, logits/G
  if (backward) b += sizeof(float) * (kTileP * ld + kTileP) + sizeof(int32_t) * kTileP;
  return b;
}

struct Tiles {
  int64_t* seg_key;  // [kMaxR][kTileS]
  float* xs;         // [kTileP][ld] pixel embeddings
  float* ms;         // [kTileS][ld] prototypes of the chunk
  float* gs;         // [kTileP][kLdG] logits, then G
  float* es;         // [kTileP][ld] pixel-gradient accumulator (backward)
  float* go;         // [kTileP] fallback coefficient (backward)
  int32_t* own;      // [kTileP] own segment (backward)
};

__device__ Tiles carve(unsigned char* smem, int ld) {
  Tiles t;
  t.seg_key = reinterpret_cast<int64_t*>(smem);
  t.xs = reinterpret_cast<float*>(t.seg_key + kMaxR * kTileS);
  t.ms = t.xs + kTileP * ld;
  t.gs = t.ms + kTileS * ld;
  t.es = t.gs + kTileP * kLdG;
  t.go = t.es + kTileP * ld;
  t.own = reinterpret_cast<int32_t*>(t.go + kTileP);
  return t;
}

// rows × d values of row-major src starting at row0 into dst (stride ld); rows >= valid are 0.
__device__ void load_rows(float* dst, int ld, const float* src, int64_t row0, int rows, int valid,
                          int d) {
  const float* base = src + row0 * d;
  for (int e = threadIdx.x; e < rows * d; e += kThreads) {
    const int r = e / d, k = e - r * d;
    dst[r * ld + k] = r < valid ? base[e] : 0.f;
  }
}

__device__ void load_segment_keys(const ContrastArgs<float>& a, int64_t j0, int ns, int64_t* key) {
  const int t = threadIdx.x;
  if (t >= kTileS) return;
#pragma unroll
  for (int r = 0; r < kMaxR; ++r)
    if (r < a.num_relations)
      key[r * kTileS + t] = t < ns ? a.relations[r].segment_key[j0 + t] : int64_t(-1);
}

// gs[q][j] = ⟨xs[q], ms[j]⟩ for the full 64×64 tile (zero rows give zero dots).
__device__ void tile_dots(const float* xs, const float* ms, int ld, int d, float* gs) {
  const int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
  float acc[4][4] = {};
  for (int k = 0; k < d; ++k) {
    float x[4], m[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) x[i] = xs[(ty + 16 * i) * ld + k];
#pragma unroll
    for (int j = 0; j < 4; ++j) m[j] = ms[(tx + 16 * j) * ld + k];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(x[i], m[j], acc[i][j]);
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) gs[(ty + 16 * i) * kLdG + tx + 16 * j] = acc[i][j];
}

// Block-wide union of the candidate ranges of pixels [i0, i0 + np), clipped to the candidates.
__device__ void tile_range(const ContrastArgs<float>& a, int64_t i0, int np, int* lo_hi) {
  if (threadIdx.x == 0) {
    lo_hi[0] = INT_MAX;
    lo_hi[1] = 0;
  }
  __syncthreads();
  if (threadIdx.x < np) {
    atomicMin(&lo_hi[0], a.cand_lo[i0 + threadIdx.x]);
    atomicMax(&lo_hi[1], a.cand_hi[i0 + threadIdx.x]);
  }
  __syncthreads();
}

struct Online {
  float max, pos, neg;
  int count;
};

__device__ void merge_lanes(Online& s, int lane_mask) {
  const float m2 = __shfl_xor_sync(0xffffffffu, s.max, lane_mask);
  const float p2 = __shfl_xor_sync(0xffffffffu, s.pos, lane_mask);
  const float n2 = __shfl_xor_sync(0xffffffffu, s.neg, lane_mask);
  const int c2 = __shfl_xor_sync(0xffffffffu, s.count, lane_mask);
  const float m = fmaxf(s.max, m2);
  if (m == -INFINITY) {
    s.pos = s.neg = 0.f;
  } else {
    const float s1 = expf(s.max - m), s2 = expf(m2 - m);
    s.pos = s.pos * s1 + p2 * s2;
    s.neg = s.neg * s1 + n2 * s2;
  }
  s.max = m;
  s.count += c2;
}

__global__ void __launch_bounds__(kThreads)
    contrast_forward_kernel(ContrastArgs<float> a, float* loss, float* log_num, float* log_den,
                            uint8_t* fallback) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int lo_hi[2];
  const int d = int(a.dim), ld = row_stride(d), nr = a.num_relations;
  const Tiles sm = carve(smem, ld);
  const int64_t i0 = int64_t(blockIdx.x) * kTileP;
  const int np = int(min(int64_t(kTileP), a.num_pixels - i0));
  const int t = threadIdx.x, q = t >> 2, sub = t & 3;
  const bool valid = q < np;
  const int64_t i = i0 + q;

  int own = 0, lo = 0, hi = 0;
  int64_t pk[kMaxR];
  float kappa[kMaxR];
  int rule[kMaxR];
  Online st[kMaxR];
#pragma unroll
  for (int r = 0; r < kMaxR; ++r) {
    kappa[r] = r < nr ? float(a.relations[r].concentration) : 0.f;
    rule[r] = r < nr ? a.relations[r].rule : 0;
    pk[r] = (r < nr && valid) ? a.relations[r].pixel_key[i] : int64_t(-1);
    st[r] = Online{-INFINITY, 0.f, 0.f, 0};
  }
  if (valid) {
    own = a.own[i];
    lo = a.cand_lo[i];
    hi = a.cand_hi[i];
  }
  tile_range(a, i0, np, lo_hi);
  load_rows(sm.xs, ld, a.pixels, i0, kTileP, np, d);
  __syncthreads();  // the own-segment dot below reads rows other threads loaded
  const int64_t tlo = lo_hi[0], thi = min(int64_t(lo_hi[1]), a.num_candidates);

  for (int64_t j0 = tlo; j0 < thi; j0 += kTileS) {
    const int ns = int(min(int64_t(kTileS), thi - j0));
    load_rows(sm.ms, ld, a.prototypes, j0, kTileS, ns, d);
    load_segment_keys(a, j0, ns, sm.seg_key);
    __syncthreads();
    tile_dots(sm.xs, sm.ms, ld, d, sm.gs);
    __syncthreads();
    if (valid) {
      for (int j = sub; j < ns; j += 4) {
        const int64_t g = j0 + j;
        if (g < lo || g >= hi) continue;
        const float dot = sm.gs[q * kLdG + j];
#pragma unroll
        for (int r = 0; r < kMaxR; ++r) {
          if (r >= nr || pk[r] < 0) continue;
          const int32_t c =
              classify_pair(rule[r], pk[r], own, sm.seg_key[r * kTileS + j], int32_t(g));
          if (c == kPairSkip) continue;
          const float l = kappa[r] * dot;
          float e;
          if (l > st[r].max) {
            const float s = expf(st[r].max - l);
            st[r].pos *= s;
            st[r].neg *= s;
            st[r].max = l;
            e = 1.f;
          } else {
            e = expf(l - st[r].max);
          }
          if (c == kPairPositive) {
            st[r].pos += e;
            ++st[r].count;
          } else {
            st[r].neg += e;
          }
        }
      }
    }
    __syncthreads();  // the next chunk overwrites ms, seg_key and gs
  }

#pragma unroll
  for (int r = 0; r < kMaxR; ++r) {
    merge_lanes(st[r], 1);
    merge_lanes(st[r], 2);
  }
  if (!valid || sub != 0) return;
  const float* mu = a.prototypes + int64_t(own) * d;
  const float* e = sm.xs + q * ld;
  float own_dot = 0.f;
  for (int k = 0; k < d; ++k) own_dot = fmaf(e[k], mu[k], own_dot);
#pragma unroll
  for (int r = 0; r < kMaxR; ++r) {
    if (r >= nr) continue;
    const int64_t o = i * nr + r;
    if (pk[r] < 0) {
      loss[o] = log_num[o] = log_den[o] = 0.f;
      fallback[o] = 0;
      continue;
    }
    const LogNumDen<float> f =
        finish_pixel<float>(st[r].count, st[r].max, st[r].pos, st[r].neg, kappa[r] * own_dot);
    log_num[o] = f.log_num;
    log_den[o] = f.log_den;
    loss[o] = f.log_den - f.log_num;
    fallback[o] = st[r].count == 0;
  }
}

__global__ void __launch_bounds__(kThreads)
    contrast_backward_kernel(ContrastArgs<float> a, const float* grad_loss, const float* log_num,
                             const float* log_den, const uint8_t* fallback, float* grad_pixels,
                             float* partial, int parts) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int lo_hi[2];
  const int d = int(a.dim), ld = row_stride(d), nr = a.num_relations;
  const Tiles sm = carve(smem, ld);
  const int t = threadIdx.x, q = t >> 2, sub = t & 3, ty = t >> 4, tx = t & 15;
  const int64_t sg = a.num_grad;
  const int64_t tiles = (a.num_pixels + kTileP - 1) / kTileP;
  float* part = partial + int64_t(blockIdx.x) * sg * d;

  float kappa[kMaxR];
  int rule[kMaxR];
#pragma unroll
  for (int r = 0; r < kMaxR; ++r) {
    kappa[r] = r < nr ? float(a.relations[r].concentration) : 0.f;
    rule[r] = r < nr ? a.relations[r].rule : 0;
  }

  const int64_t tile_begin = int64_t(blockIdx.x) * tiles / parts;
  const int64_t tile_end = int64_t(blockIdx.x + 1) * tiles / parts;
  for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
    const int64_t i0 = tile * kTileP;
    const int np = int(min(int64_t(kTileP), a.num_pixels - i0));
    const bool valid = q < np;
    const int64_t i = i0 + q;
    int own = 0, lo = 0, hi = 0;
    int64_t pk[kMaxR];
    float coef[kMaxR], lnum[kMaxR], lden[kMaxR];
#pragma unroll
    for (int r = 0; r < kMaxR; ++r) {
      pk[r] = -1;
      coef[r] = lnum[r] = lden[r] = 0.f;
      if (r < nr && valid) {
        const int64_t o = i * nr + r;
        pk[r] = a.relations[r].pixel_key[i];
        // A zero coefficient marks a (pixel, relation) that contributes nothing.
        if (pk[r] >= 0 && grad_loss[o] != 0.f) coef[r] = grad_loss[o] * kappa[r];
        lnum[r] = log_num[o];
        lden[r] = log_den[o];
      }
    }
    if (valid) {
      own = a.own[i];
      lo = a.cand_lo[i];
      hi = a.cand_hi[i];
    }
    tile_range(a, i0, np, lo_hi);
    load_rows(sm.xs, ld, a.pixels, i0, kTileP, np, d);
    for (int e = t; e < kTileP * ld; e += kThreads) sm.es[e] = 0.f;
    __syncthreads();
    // Fallback numerator S_own: d(−ln S_own)/dl_own = −1 plus its share of the denominator.
    if (t < kTileP) {
      float go = 0.f;
      int32_t own_t = 0;
      if (t < np) {
        const int64_t it = i0 + t;
        own_t = a.own[it];
        const float* mu = a.prototypes + int64_t(own_t) * d;
        const float* e = sm.xs + t * ld;
        float own_dot = 0.f;
        for (int k = 0; k < d; ++k) own_dot = fmaf(e[k], mu[k], own_dot);
#pragma unroll
        for (int r = 0; r < kMaxR; ++r) {
          if (r >= nr) continue;
          const int64_t o = it * nr + r;
          if (a.relations[r].pixel_key[it] < 0 || !fallback[o] || grad_loss[o] == 0.f) continue;
          go += grad_loss[o] * kappa[r] * (expf(kappa[r] * own_dot - log_den[o]) - 1.f);
        }
      }
      sm.go[t] = go;
      sm.own[t] = own_t;
    }
    __syncthreads();  // go and own are read after the chunks, which may be none
    const int64_t tlo = lo_hi[0], thi = min(int64_t(lo_hi[1]), a.num_candidates);

    for (int64_t j0 = tlo; j0 < thi; j0 += kTileS) {
      const int ns = int(min(int64_t(kTileS), thi - j0));
      load_rows(sm.ms, ld, a.prototypes, j0, kTileS, ns, d);
      load_segment_keys(a, j0, ns, sm.seg_key);
      __syncthreads();
      tile_dots(sm.xs, sm.ms, ld, d, sm.gs);
      __syncthreads();
      // G in place of the logits; each thread rewrites only the entries it read.
      for (int j = sub; j < kTileS; j += 4) {
        const int64_t g = j0 + j;
        float gv = 0.f;
        if (valid && j < ns && g >= lo && g < hi) {
          const float dot = sm.gs[q * kLdG + j];
#pragma unroll
          for (int r = 0; r < kMaxR; ++r) {
            if (r >= nr || coef[r] == 0.f) continue;
            const int32_t c =
                classify_pair(rule[r], pk[r], own, sm.seg_key[r * kTileS + j], int32_t(g));
            if (c == kPairSkip) continue;
            const float l = kappa[r] * dot;
            const float pd = expf(l - lden[r]);
            const float pn = c == kPairPositive ? expf(l - lnum[r]) : 0.f;
            gv += coef[r] * (pd - pn);
          }
        }
        sm.gs[q * kLdG + j] = gv;
      }
      __syncthreads();
      // dL/de += G·μ: each es element has one owner thread, so no synchronization between chunks.
      for (int c0 = 0; c0 < d; c0 += 64) {
        float acc[4][4] = {};
        for (int j = 0; j < ns; ++j) {
          float gq[4], m[4];
#pragma unroll
          for (int u = 0; u < 4; ++u) gq[u] = sm.gs[(ty + 16 * u) * kLdG + j];
#pragma unroll
          for (int v = 0; v < 4; ++v) {
            const int col = c0 + tx + 16 * v;
            m[v] = col < d ? sm.ms[j * ld + col] : 0.f;
          }
#pragma unroll
          for (int u = 0; u < 4; ++u)
#pragma unroll
            for (int v = 0; v < 4; ++v) acc[u][v] = fmaf(gq[u], m[v], acc[u][v]);
        }
#pragma unroll
        for (int u = 0; u < 4; ++u)
#pragma unroll
          for (int v = 0; v < 4; ++v) {
            const int col = c0 + tx + 16 * v;
            if (col < d) sm.es[(ty + 16 * u) * ld + col] += acc[u][v];
          }
      }
      // dL/dμ += Gᵀ·e into this block's partial (one owner thread per element).
      if (j0 < sg) {
        const int ng = int(min(int64_t(ns), sg - j0));
        for (int c0 = 0; c0 < d; c0 += 64) {
          float acc[4][4] = {};
          for (int p = 0; p < np; ++p) {
            float gj[4], x[4];
#pragma unroll
            for (int u = 0; u < 4; ++u) gj[u] = sm.gs[p * kLdG + ty + 16 * u];
#pragma unroll
            for (int v = 0; v < 4; ++v) {
              const int col = c0 + tx + 16 * v;
              x[v] = col < d ? sm.xs[p * ld + col] : 0.f;
            }
#pragma unroll
            for (int u = 0; u < 4; ++u)
#pragma unroll
              for (int v = 0; v < 4; ++v) acc[u][v] = fmaf(gj[u], x[v], acc[u][v]);
          }
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            const int row = ty + 16 * u;
            if (row >= ng) continue;
            float* dst = part + (j0 + row) * d;
#pragma unroll
            for (int v = 0; v < 4; ++v) {
              const int col = c0 + tx + 16 * v;
              if (col < d) dst[col] += acc[u][v];
            }
          }
        }
      }
      __syncthreads();  // the next chunk overwrites ms, seg_key and gs
    }

    // Own-segment fallback terms, then the tile's pixel gradients out.
    for (int e = t; e < np * d; e += kThreads) {
      const int p = e / d, k = e - p * d;
      float v = sm.es[p * ld + k];
      const float go = sm.go[p];
      if (go != 0.f) v += go * a.prototypes[int64_t(sm.own[p]) * d + k];
      grad_pixels[i0 * d + e] = v;
    }
    // One thread per column walks the pixels in order: several pixels may share a segment.
    for (int k = t; k < d; k += kThreads) {
      for (int p = 0; p < np; ++p) {
        const float go = sm.go[p];
        if (go != 0.f) part[int64_t(sm.own[p]) * d + k] += go * sm.xs[p * ld + k];
      }
    }
    __syncthreads();  // the next tile reloads xs, es, go, own and the range
  }
}

__global__ void sum_partials(const float* partial, int parts, int64_t n, float* out) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n;
       k += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int b = 0; b < parts; ++b) s += partial[int64_t(b) * n + k];
    out[k] = s;
  }
}

void check_args(const ContrastArgs<float>& a, const char* what) {
  ENGINE_CHECK(a.num_relations >= 0 && a.num_relations <= kMaxSpaceRelations,
               "spml CUDA contrast {}: {} relations; at most {} per call", what, a.num_relations,
               kMaxSpaceRelations);
  ENGINE_CHECK(a.num_grad >= 0 && a.num_grad <= a.num_candidates,
               "spml CUDA contrast {}: num_grad {} outside [0, num_candidates {}]", what,
               a.num_grad, a.num_candidates);
  ENGINE_CHECK(a.num_candidates < int64_t(INT_MAX),
               "spml CUDA contrast {}: {} candidates; segment ids are 32-bit", what,
               a.num_candidates);
  ENGINE_CHECK(a.dim >= 0, "spml CUDA contrast {}: dim {} < 0", what, a.dim);
}

// Opts the kernel into the dynamic shared memory it needs (beyond the 48 KiB default).
template <typename Kernel>
void reserve_smem(Kernel kernel, size_t bytes, int64_t d, const char* what) {
  int device = 0, limit = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  ENGINE_CHECK(bytes <= size_t(limit),
               "spml CUDA contrast {}: embedding dim {} needs {} bytes of shared memory per block; "
               "the device allows {}",
               what, d, bytes, limit);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

}  // namespace

void contrast_forward(const ContrastArgs<float>& a, float* loss, float* log_num, float* log_den,
                      uint8_t* fallback) {
  check_args(a, "forward");
  if (a.num_pixels == 0 || a.num_relations == 0) return;
  const size_t bytes = smem_bytes(int(a.dim), false);
  reserve_smem(contrast_forward_kernel, bytes, a.dim, "forward");
  const int64_t tiles = (a.num_pixels + kTileP - 1) / kTileP;
  ENGINE_CHECK(tiles <= int64_t(INT_MAX), "spml CUDA contrast forward: {} pixels is too many",
               a.num_pixels);
  contrast_forward_kernel<<<unsigned(tiles), kThreads, bytes, engine::cuda::current_stream()>>>(
      a, loss, log_num, log_den, fallback);
  CUDA_CHECK(cudaGetLastError());
}

void contrast_backward(const ContrastArgs<float>& a, const float* grad_loss, const float* log_num,
                       const float* log_den, const uint8_t* fallback, float* grad_pixels,
                       float* grad_prototypes) {
  check_args(a, "backward");
  cudaStream_t stream = engine::cuda::current_stream();
  const int64_t n = a.num_grad * a.dim;
  if (a.num_pixels == 0 || a.num_relations == 0) {
    if (a.num_pixels > 0)
      CUDA_CHECK(
          cudaMemsetAsync(grad_pixels, 0, size_t(a.num_pixels * a.dim) * sizeof(float), stream));
    if (n > 0) CUDA_CHECK(cudaMemsetAsync(grad_prototypes, 0, size_t(n) * sizeof(float), stream));
    return;
  }
  const size_t bytes = smem_bytes(int(a.dim), true);
  reserve_smem(contrast_backward_kernel, bytes, a.dim, "backward");
  const int64_t tiles = (a.num_pixels + kTileP - 1) / kTileP;
  const int parts = int(std::min<int64_t>(tiles, kParts));
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  // At least one float so that the pointer is valid when there are no current segments.
  engine::cuda::DeviceBuffer partial(std::max<size_t>(size_t(parts) * size_t(n), 1) * sizeof(float),
                                     device);
  float* part = static_cast<float*>(partial.get());
  if (n > 0)
    CUDA_CHECK(cudaMemsetAsync(part, 0, size_t(parts) * size_t(n) * sizeof(float), stream));
  contrast_backward_kernel<<<unsigned(parts), kThreads, bytes, stream>>>(
      a, grad_loss, log_num, log_den, fallback, grad_pixels, part, parts);
  CUDA_CHECK(cudaGetLastError());
  if (n > 0) {
    sum_partials<<<engine::cuda::grid_for(n), engine::cuda::kBlock, 0, stream>>>(part, parts, n,
                                                                                 grad_prototypes);
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace spml::cuda
