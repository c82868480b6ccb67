// CPU kernels of the fused SPML loss (spml/loss_kernels.h). Engine-free apart from the raw GEMM
// kernel and the vectorizable exp of the softmax kernels.
#include "spml/loss_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/kernels/linalg.h"
#include "engine/kernels/softmax.h"
#include "spml/relations.h"

namespace spml::cpu {

namespace {

// 64 pixels × 256 segments of logits (64 KiB in f32) stay in L2 next to the GEMM's panels.
constexpr int64_t kTileP = 64;
constexpr int64_t kTileS = 256;
// Fixed partial count for prototype gradients: deterministic whatever the thread count.
constexpr int64_t kMaxPartials = 16;

struct RowState {
  double max = -std::numeric_limits<double>::infinity();
  double pos = 0.0, neg = 0.0;
  int64_t num_pos = 0;
};

template <typename T>
T dot(const T* a, const T* b, int64_t d) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < d; ++k) s += a[k] * b[k];
  return s;
}

// Pair classes of one pixel against candidates [j0, j0 + ns), kPairSkip outside [jl, jh).
inline void classify_row(const KernelRelation& r, int64_t pixel_key, int32_t own, int64_t j0,
                         int64_t ns, int64_t jl, int64_t jh, int8_t* cls) {
  for (int64_t j = 0; j < ns; ++j) {
    const int64_t g = j0 + j;
    cls[j] = (g >= jl && g < jh)
                 ? int8_t(classify_pair(r.rule, pixel_key, own, r.segment_key[g], int32_t(g)))
                 : int8_t(kPairSkip);
  }
}

template <typename T>
void tile_range(const ContrastArgs<T>& a, int64_t i0, int64_t np, int64_t& lo, int64_t& hi) {
  lo = a.num_candidates;
  hi = 0;
  for (int64_t i = i0; i < i0 + np; ++i) {
    lo = std::min<int64_t>(lo, a.cand_lo[i]);
    hi = std::max<int64_t>(hi, a.cand_hi[i]);
  }
  hi = std::min(hi, a.num_candidates);
}

template <typename T>
void check_args(const ContrastArgs<T>& a) {
  ENGINE_CHECK(a.num_relations >= 0 && a.num_relations <= kMaxSpaceRelations,
               "spml contrast kernel: {} relations; at most {} per call", a.num_relations,
               kMaxSpaceRelations);
  ENGINE_CHECK(a.num_grad <= a.num_candidates,
               "spml contrast kernel: num_grad {} exceeds num_candidates {}", a.num_grad,
               a.num_candidates);
}

}  // namespace

template <typename T>
void contrast_forward(const ContrastArgs<T>& a, T* loss, T* log_num, T* log_den,
                      uint8_t* fallback) {
  check_args(a);
  const int64_t p = a.num_pixels, d = a.dim, nr = a.num_relations;
  const int64_t tiles = (p + kTileP - 1) / kTileP;
#pragma omp parallel if (tiles > 1)
  {
    std::vector<T> dots(size_t(kTileP * kTileS));
    std::vector<int8_t> cls(static_cast<size_t>(kTileS));
    std::vector<RowState> state(size_t(kTileP * kMaxSpaceRelations));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t i0 = t * kTileP, np = std::min(kTileP, p - i0);
      std::fill(state.begin(), state.end(), RowState{});
      int64_t lo, hi;
      tile_range(a, i0, np, lo, hi);
      for (int64_t j0 = lo; j0 < hi; j0 += kTileS) {
        const int64_t ns = std::min(kTileS, hi - j0);
        engine::cpu::gemm<T>(false, true, np, ns, d, T(1), a.pixels + i0 * d, d,
                             a.prototypes + j0 * d, d, T(0), dots.data(), ns);
        for (int64_t r = 0; r < nr; ++r) {
          const KernelRelation& rel = a.relations[r];
          const T kappa = T(rel.concentration);
          for (int64_t q = 0; q < np; ++q) {
            const int64_t i = i0 + q;
            const int64_t pk = rel.pixel_key[i];
            const int64_t jl = std::max<int64_t>(a.cand_lo[i], j0);
            const int64_t jh = std::min<int64_t>(a.cand_hi[i], j0 + ns);
            if (pk < 0 || jl >= jh) continue;
            classify_row(rel, pk, a.own[i], j0, ns, jl, jh, cls.data());
            const T* row = dots.data() + q * ns;
            T cmax = -std::numeric_limits<T>::infinity();
            int64_t npos = 0;
            for (int64_t j = 0; j < ns; ++j) {
              cmax = cls[j] != kPairSkip ? std::max(cmax, row[j]) : cmax;
              npos += cls[j] == kPairPositive;
            }
            if (cmax == -std::numeric_limits<T>::infinity()) continue;
            RowState& st = state[q * kMaxSpaceRelations + r];
            const double m = std::max(st.max, double(kappa * cmax));
            if (m > st.max) {
              const double scale = std::exp(st.max - m);
              st.pos *= scale;
              st.neg *= scale;
              st.max = m;
            }
            const T mt = T(m);
            T pos = 0, neg = 0;
#pragma omp simd reduction(+ : pos, neg)
            for (int64_t j = 0; j < ns; ++j) {
              const T e = engine::cpu::exp_vec(kappa * row[j] - mt);
              pos += cls[j] == kPairPositive ? e : T(0);
              neg += cls[j] == kPairNegative ? e : T(0);
            }
            st.pos += pos;
            st.neg += neg;
            st.num_pos += npos;
          }
        }
      }
      for (int64_t q = 0; q < np; ++q) {
        const int64_t i = i0 + q;
        const T own_dot = dot(a.pixels + i * d, a.prototypes + int64_t(a.own[i]) * d, d);
        for (int64_t r = 0; r < nr; ++r) {
          const KernelRelation& rel = a.relations[r];
          const int64_t o = i * nr + r;
          if (rel.pixel_key[i] < 0) {
            loss[o] = log_num[o] = log_den[o] = T(0);
            fallback[o] = 0;
            continue;
          }
          const RowState& st = state[q * kMaxSpaceRelations + r];
          const auto f = finish_pixel<double>(st.num_pos, st.max, st.pos, st.neg,
                                              rel.concentration * double(own_dot));
          log_num[o] = T(f.log_num);
          log_den[o] = T(f.log_den);
          loss[o] = T(f.log_den - f.log_num);
          fallback[o] = st.num_pos == 0;
        }
      }
    }
  }
}

template <typename T>
void contrast_backward(const ContrastArgs<T>& a, const T* grad_loss, const T* log_num,
                       const T* log_den, const uint8_t* fallback, T* grad_pixels,
                       T* grad_prototypes) {
  check_args(a);
  const int64_t p = a.num_pixels, d = a.dim, nr = a.num_relations, sg = a.num_grad;
  const int64_t tiles = (p + kTileP - 1) / kTileP;
  const int64_t parts = std::max<int64_t>(1, std::min(tiles, kMaxPartials));
  std::vector<T> partial(size_t(parts * sg * d), T(0));
  std::fill(grad_pixels, grad_pixels + p * d, T(0));
#pragma omp parallel if (parts > 1)
  {
    std::vector<T> dots(size_t(kTileP * kTileS)), g(size_t(kTileP * kTileS));
    std::vector<int8_t> cls(static_cast<size_t>(kTileS));
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < parts; ++b) {
      T* part = partial.data() + b * sg * d;
      for (int64_t t = b * tiles / parts; t < (b + 1) * tiles / parts; ++t) {
        const int64_t i0 = t * kTileP, np = std::min(kTileP, p - i0);
        int64_t lo, hi;
        tile_range(a, i0, np, lo, hi);
        for (int64_t j0 = lo; j0 < hi; j0 += kTileS) {
          const int64_t ns = std::min(kTileS, hi - j0);
          engine::cpu::gemm<T>(false, true, np, ns, d, T(1), a.pixels + i0 * d, d,
                               a.prototypes + j0 * d, d, T(0), dots.data(), ns);
          std::fill(g.begin(), g.begin() + np * ns, T(0));
          bool any = false;
          for (int64_t r = 0; r < nr; ++r) {
            const KernelRelation& rel = a.relations[r];
            const T kappa = T(rel.concentration);
            for (int64_t q = 0; q < np; ++q) {
              const int64_t i = i0 + q, o = i * nr + r;
              const int64_t pk = rel.pixel_key[i];
              const int64_t jl = std::max<int64_t>(a.cand_lo[i], j0);
              const int64_t jh = std::min<int64_t>(a.cand_hi[i], j0 + ns);
              if (pk < 0 || jl >= jh || grad_loss[o] == T(0)) continue;
              any = true;
              classify_row(rel, pk, a.own[i], j0, ns, jl, jh, cls.data());
              const T coef = grad_loss[o] * kappa, ln = log_num[o], ld = log_den[o];
              const T* row = dots.data() + q * ns;
              T* grow = g.data() + q * ns;
#pragma omp simd
              for (int64_t j = 0; j < ns; ++j) {
                const T l = kappa * row[j];
                const T pd = engine::cpu::exp_vec(l - ld);
                const T pn = cls[j] == kPairPositive ? engine::cpu::exp_vec(l - ln) : T(0);
                grow[j] += cls[j] != kPairSkip ? coef * (pd - pn) : T(0);
              }
            }
          }
          if (!any) continue;
          // dL/de = G·μ and dL/dμ = Gᵀ·e over the tile (κ is inside G).
          engine::cpu::gemm<T>(false, false, np, d, ns, T(1), g.data(), ns, a.prototypes + j0 * d,
                               d, T(1), grad_pixels + i0 * d, d);
          if (j0 < sg) {
            const int64_t ng = std::min(ns, sg - j0);
            engine::cpu::gemm<T>(true, false, ng, d, np, T(1), g.data(), ns, a.pixels + i0 * d, d,
                                 T(1), part + j0 * d, d);
          }
        }
        // Fallback numerator S_own: d(−ln S_own)/dl_own = −1 plus its share of the denominator.
        for (int64_t q = 0; q < np; ++q) {
          const int64_t i = i0 + q;
          const T* e = a.pixels + i * d;
          const int64_t own = a.own[i];
          const T* mu = a.prototypes + own * d;
          T go = 0;
          for (int64_t r = 0; r < nr; ++r) {
            const int64_t o = i * nr + r;
            if (a.relations[r].pixel_key[i] < 0 || !fallback[o] || grad_loss[o] == T(0)) continue;
            const T kappa = T(a.relations[r].concentration);
            const T l_own = kappa * dot(e, mu, d);
            go += grad_loss[o] * kappa * (std::exp(l_own - log_den[o]) - T(1));
          }
          if (go == T(0)) continue;
          T* ge = grad_pixels + i * d;
          T* gm = part + own * d;
          for (int64_t k = 0; k < d; ++k) {
            ge[k] += go * mu[k];
            gm[k] += go * e[k];
          }
        }
      }
    }
  }
  const int64_t n = sg * d;
#pragma omp parallel for schedule(static) if (n * parts > (1 << 16))
  for (int64_t k = 0; k < n; ++k) {
    T s = 0;
    for (int64_t b = 0; b < parts; ++b) s += partial[b * n + k];
    grad_prototypes[k] = s;
  }
}

size_t contrast_forward_scratch_bytes(int64_t num_relations, int threads, size_t elem) {
  return size_t(threads) * (size_t(kTileP * kTileS) * elem + size_t(kTileS) +
                            size_t(kTileP * kMaxSpaceRelations) * sizeof(RowState));
}

size_t contrast_backward_scratch_bytes(int64_t num_pixels, int64_t num_grad, int64_t dim,
                                       int threads, size_t elem) {
  const int64_t tiles = (num_pixels + kTileP - 1) / kTileP;
  const int64_t parts = std::max<int64_t>(1, std::min(tiles, kMaxPartials));
  return size_t(parts * num_grad * dim) * elem +
         size_t(threads) * (2 * size_t(kTileP * kTileS) * elem + size_t(kTileS));
}

template void contrast_forward<float>(const ContrastArgs<float>&, float*, float*, float*, uint8_t*);
template void contrast_forward<double>(const ContrastArgs<double>&, double*, double*, double*,
                                       uint8_t*);
template void contrast_backward<float>(const ContrastArgs<float>&, const float*, const float*,
                                       const float*, const uint8_t*, float*, float*);
template void contrast_backward<double>(const ContrastArgs<double>&, const double*, const double*,
                                        const double*, const uint8_t*, double*, double*);

}  // namespace spml::cpu
