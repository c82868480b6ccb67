// CPU pooling kernels. Forward: one (n, oh) output row per parallel task. Backward: one
// (n, ih) input row per task, each input pixel gathering from the outputs that can reach it.
#include "engine/kernels/pool.h"

#include <cmath>
#include <limits>
#include <vector>

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;

// For each input coordinate i in [0, size): the outputs o in [0, out) with
// o * stride - pad + k * dilation == i for some k < kernel, as CSR lists (begin[i]..begin[i+1]).
struct Reach {
  std::vector<int64_t> begin, outs;
};

Reach reach(int64_t size, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
            int64_t dilation) {
  Reach r;
  r.begin.reserve(size_t(size + 1));
  for (int64_t i = 0; i < size; ++i) {
    r.begin.push_back(int64_t(r.outs.size()));
    for (int64_t k = 0; k < kernel; ++k) {
      int64_t t = i + pad - k * dilation;
      if (t < 0 || t % stride != 0) continue;
      int64_t o = t / stride;
      if (o < out) r.outs.push_back(o);
    }
  }
  r.begin.push_back(int64_t(r.outs.size()));
  return r;
}

// Contiguous range [lo[i], hi[i]) of bins containing input coordinate i (bins monotone).
void bin_ranges(const int64_t* start, const int64_t* end, int64_t bins, int64_t size,
                std::vector<int64_t>& lo, std::vector<int64_t>& hi) {
  lo.assign(size_t(size), 0);
  hi.assign(size_t(size), 0);
  int64_t a = 0, b = 0;
  for (int64_t i = 0; i < size; ++i) {
    while (a < bins && end[a] <= i) ++a;
    while (b < bins && start[b] <= i) ++b;
    lo[size_t(i)] = a;
    hi[size_t(i)] = b;
  }
}
}  // namespace

template <typename T>
void max_pool2d(const T* x, const PoolShape& s, const PoolWindow& win, T* out, int64_t* argmax) {
  const int64_t C = s.c, OW = s.out_w;
  const T neg_inf = -std::numeric_limits<T>::infinity();
#pragma omp parallel for collapse(2) if (s.n * s.out_h * OW * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      const T* xn = x + n * s.h * s.w * C;
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t o = ((n * s.out_h + oh) * OW + ow) * C;
        T* best = out + o;
        int64_t* arg = argmax + o;
        for (int64_t c = 0; c < C; ++c) {
          best[c] = neg_inf;
          arg[c] = -1;
        }
        for (int64_t kh = 0; kh < win.kernel_h; ++kh) {
          int64_t ih = oh * win.stride_h - win.pad_h + kh * win.dilation_h;
          if (ih < 0 || ih >= s.h) continue;
          for (int64_t kw = 0; kw < win.kernel_w; ++kw) {
            int64_t iw = ow * win.stride_w - win.pad_w + kw * win.dilation_w;
            if (iw < 0 || iw >= s.w) continue;
            const T* xp = xn + (ih * s.w + iw) * C;
            const int64_t pos = ih * s.w + iw;
            for (int64_t c = 0; c < C; ++c) {
              T v = xp[c];
              bool take = v > best[c] || v != v;  // NaN propagates, as in PyTorch
              best[c] = take ? v : best[c];
              arg[c] = take ? pos : arg[c];
            }
          }
        }
      }
    }
  }
}

template <typename T>
void max_pool2d_backward(const T* dy, const int64_t* argmax, const PoolShape& s,
                         const PoolWindow& win, T* dx) {
  const int64_t C = s.c, OW = s.out_w;
  Reach rh = reach(s.h, s.out_h, win.kernel_h, win.stride_h, win.pad_h, win.dilation_h);
  Reach rw = reach(s.w, OW, win.kernel_w, win.stride_w, win.pad_w, win.dilation_w);
#pragma omp parallel for collapse(2) if (s.n * s.h * s.w * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t ih = 0; ih < s.h; ++ih) {
      for (int64_t iw = 0; iw < s.w; ++iw) {
        T* g = dx + ((n * s.h + ih) * s.w + iw) * C;
        for (int64_t c = 0; c < C; ++c) g[c] = T(0);
        const int64_t pos = ih * s.w + iw;
        for (int64_t a = rh.begin[size_t(ih)]; a < rh.begin[size_t(ih + 1)]; ++a) {
          int64_t oh = rh.outs[size_t(a)];
          for (int64_t b = rw.begin[size_t(iw)]; b < rw.begin[size_t(iw + 1)]; ++b) {
            int64_t o = ((n * s.out_h + oh) * OW + rw.outs[size_t(b)]) * C;
            const T* gy = dy + o;
            const int64_t* arg = argmax + o;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) g[c] += arg[c] == pos ? gy[c] : T(0);
          }
        }
      }
    }
  }
}

template <typename T>
void avg_pool2d(const T* x, const PoolShape& s, const AvgBins& bins, T* out) {
  const int64_t C = s.c, OW = s.out_w;
  // Double accumulation: adaptive bins can cover a whole feature map (thousands of terms).
#pragma omp parallel if (s.n * s.h * s.w * C > kParallelMin)
  {
    std::vector<double> acc(static_cast<size_t>(C));
    double* a = acc.data();
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        const T* xn = x + n * s.h * s.w * C;
        for (int64_t ow = 0; ow < OW; ++ow) {
          for (int64_t c = 0; c < C; ++c) a[c] = 0.0;
          for (int64_t ih = bins.h_start[oh]; ih < bins.h_end[oh]; ++ih) {
            for (int64_t iw = bins.w_start[ow]; iw < bins.w_end[ow]; ++iw) {
              const T* xp = xn + (ih * s.w + iw) * C;
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) a[c] += double(xp[c]);
            }
          }
          const double scale = bins.inv_count[oh * OW + ow];
          T* o = out + ((n * s.out_h + oh) * OW + ow) * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) o[c] = T(a[c] * scale);
        }
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward(const T* dy, const PoolShape& s, const AvgBins& bins, T* dx) {
  const int64_t C = s.c, OW = s.out_w;
  std::vector<int64_t> h_lo, h_hi, w_lo, w_hi;
  bin_ranges(bins.h_start, bins.h_end, s.out_h, s.h, h_lo, h_hi);
  bin_ranges(bins.w_start, bins.w_end, OW, s.w, w_lo, w_hi);
#pragma omp parallel for collapse(2) if (s.n * s.h * s.w * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t ih = 0; ih < s.h; ++ih) {
      for (int64_t iw = 0; iw < s.w; ++iw) {
        T* g = dx + ((n * s.h + ih) * s.w + iw) * C;
        for (int64_t c = 0; c < C; ++c) g[c] = T(0);
        for (int64_t oh = h_lo[size_t(ih)]; oh < h_hi[size_t(ih)]; ++oh) {
          for (int64_t ow = w_lo[size_t(iw)]; ow < w_hi[size_t(iw)]; ++ow) {
            const T* gy = dy + ((n * s.out_h + oh) * OW + ow) * C;
            const T scale = T(bins.inv_count[oh * OW + ow]);
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) g[c] += gy[c] * scale;
          }
        }
      }
    }
  }
}

#define ENGINE_INSTANTIATE(T)                                                               \
  template void max_pool2d<T>(const T*, const PoolShape&, const PoolWindow&, T*, int64_t*); \
  template void max_pool2d_backward<T>(const T*, const int64_t*, const PoolShape&,          \
                                       const PoolWindow&, T*);                              \
  template void avg_pool2d<T>(const T*, const PoolShape&, const AvgBins&, T*);              \
  template void avg_pool2d_backward<T>(const T*, const PoolShape&, const AvgBins&, T*);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
