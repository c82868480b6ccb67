// CPU resize kernels on dense NHWC. Each output row (n, oh) is a blend of at most two input rows;
// the innermost loop runs over the C contiguous channels so it vectorizes. The backward passes
// are gathers over input rows: every input row (n, ih) is owned by one thread, which sums the
// output rows that read it in increasing oh order, so they need no atomics and are deterministic.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/kernels/resize.h"

namespace engine::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

template <typename T>
struct Tap {
  int64_t i0, i1;
  T w0, w1;
};

template <typename T>
std::vector<Tap<T>> bilinear_taps(int64_t in, int64_t out, bool align_corners) {
  double scale = bilinear_scale(in, out, align_corners);
  std::vector<Tap<T>> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    BilinearTap t = bilinear_tap(o, in, scale, align_corners);
    taps[size_t(o)] = {t.i0, t.i1, T(t.w0), T(t.w1)};
  }
  return taps;
}

// For each input row, the (output row, weight) pairs that read it, in increasing output row.
template <typename T>
struct RowSources {
  std::vector<int64_t> begin;  // in + 1 offsets into rows/weights
  std::vector<int64_t> rows;
  std::vector<T> weights;
};

template <typename T>
RowSources<T> invert_taps(const std::vector<Tap<T>>& taps, int64_t in) {
  RowSources<T> s;
  std::vector<int64_t> count(size_t(in) + 1, 0);
  auto each = [&](auto&& f) {
    for (size_t o = 0; o < taps.size(); ++o) {
      const Tap<T>& t = taps[o];
      if (t.i0 == t.i1) {
        f(t.i0, int64_t(o), T(t.w0 + t.w1));
      } else {
        f(t.i0, int64_t(o), t.w0);
        f(t.i1, int64_t(o), t.w1);
      }
    }
  };
  each([&](int64_t i, int64_t, T) { ++count[size_t(i) + 1]; });
  for (size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
  s.begin = count;
  s.rows.resize(size_t(count.back()));
  s.weights.resize(size_t(count.back()));
  std::vector<int64_t> fill(count.begin(), count.end() - 1);
  each([&](int64_t i, int64_t o, T w) {
    int64_t k = fill[size_t(i)]++;
    s.rows[size_t(k)] = o;
    s.weights[size_t(k)] = w;
  });
  return s;
}

}  // namespace

template <typename T>
void resize_bilinear(const T* x, const ResizeDims& d, bool align_corners, T* out) {
  const auto th = bilinear_taps<T>(d.in_h, d.out_h, align_corners);
  const auto tw = bilinear_taps<T>(d.in_w, d.out_w, align_corners);
  const int64_t C = d.c, rows = d.n * d.out_h;
  const bool par = rows * d.out_w * C > kParallelMin;
#pragma omp parallel for if (par) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / d.out_h;
    const Tap<T>& h = th[size_t(r % d.out_h)];
    const T* r0 = x + (n * d.in_h + h.i0) * d.in_w * C;
    const T* r1 = x + (n * d.in_h + h.i1) * d.in_w * C;
    T* o = out + r * d.out_w * C;
    const T h0 = h.w0, h1 = h.w1;
    for (int64_t ow = 0; ow < d.out_w; ++ow, o += C) {
      const Tap<T>& w = tw[size_t(ow)];
      const T *a = r0 + w.i0 * C, *b = r0 + w.i1 * C;
      const T *e = r1 + w.i0 * C, *f = r1 + w.i1 * C;
      const T w0 = w.w0, w1 = w.w1;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        o[c] = h0 * (w0 * a[c] + w1 * b[c]) + h1 * (w0 * e[c] + w1 * f[c]);
    }
  }
}

template <typename T>
void resize_bilinear_backward(const T* grad_out, const ResizeDims& d, bool align_corners,
                              T* grad_in) {
  const auto th = bilinear_taps<T>(d.in_h, d.out_h, align_corners);
  const auto tw = bilinear_taps<T>(d.in_w, d.out_w, align_corners);
  const RowSources<T> src = invert_taps(th, d.in_h);
  const int64_t C = d.c, rows = d.n * d.in_h, in_row = d.in_w * C;
  const bool par = d.n * d.out_h * d.out_w * C > kParallelMin;
#pragma omp parallel for if (par) schedule(dynamic, 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / d.in_h, ih = r % d.in_h;
    T* gi = grad_in + r * in_row;
    std::fill(gi, gi + in_row, T(0));
    for (int64_t k = src.begin[size_t(ih)]; k < src.begin[size_t(ih) + 1]; ++k) {
      const T wh = src.weights[size_t(k)];
      const T* g = grad_out + (n * d.out_h + src.rows[size_t(k)]) * d.out_w * C;
      for (int64_t ow = 0; ow < d.out_w; ++ow, g += C) {
        const Tap<T>& w = tw[size_t(ow)];
        const T a = wh * w.w0, b = wh * w.w1;
        T* p0 = gi + w.i0 * C;
        T* p1 = gi + w.i1 * C;
        // Two loops: p0 and p1 coincide at the last column.
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) p0[c] += a * g[c];
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) p1[c] += b * g[c];
      }
    }
  }
}

template <typename U>
void resize_nearest(const U* x, const ResizeDims& d, U* out) {
  std::vector<int64_t> sw(size_t(d.out_w));
  for (int64_t ow = 0; ow < d.out_w; ++ow) sw[size_t(ow)] = nearest_source(ow, d.in_w, d.out_w);
  const int64_t C = d.c, rows = d.n * d.out_h;
  const bool par = rows * d.out_w * C > kParallelMin;
#pragma omp parallel for if (par) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / d.out_h;
    const int64_t ih = nearest_source(r % d.out_h, d.in_h, d.out_h);
    const U* xr = x + (n * d.in_h + ih) * d.in_w * C;
    U* o = out + r * d.out_w * C;
    for (int64_t ow = 0; ow < d.out_w; ++ow, o += C) {
      const U* s = xr + sw[size_t(ow)] * C;
      for (int64_t c = 0; c < C; ++c) o[c] = s[c];
    }
  }
}

template <typename T>
void resize_nearest_backward(const T* grad_out, const ResizeDims& d, T* grad_in) {
  std::vector<int64_t> sw(size_t(d.out_w));
  for (int64_t ow = 0; ow < d.out_w; ++ow) sw[size_t(ow)] = nearest_source(ow, d.in_w, d.out_w);
  // The output rows that copy input row ih form the range [first[ih], first[ih + 1]) because
  // nearest_source is nondecreasing in the output index.
  std::vector<int64_t> first(size_t(d.in_h) + 1, d.out_h);
  for (int64_t oh = d.out_h - 1; oh >= 0; --oh)
    first[size_t(nearest_source(oh, d.in_h, d.out_h))] = oh;
  for (int64_t ih = d.in_h - 1; ih >= 0; --ih)
    first[size_t(ih)] = std::min(first[size_t(ih)], first[size_t(ih) + 1]);
  const int64_t C = d.c, rows = d.n * d.in_h, in_row = d.in_w * C;
  const bool par = d.n * d.out_h * d.out_w * C > kParallelMin;
#pragma omp parallel for if (par) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / d.in_h, ih = r % d.in_h;
    T* gi = grad_in + r * in_row;
    std::fill(gi, gi + in_row, T(0));
    for (int64_t oh = first[size_t(ih)]; oh < first[size_t(ih) + 1]; ++oh) {
      const T* g = grad_out + (n * d.out_h + oh) * d.out_w * C;
      for (int64_t ow = 0; ow < d.out_w; ++ow, g += C) {
        T* p = gi + sw[size_t(ow)] * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) p[c] += g[c];
      }
    }
  }
}

#define ENGINE_INSTANTIATE_FLOAT(T)                                                 \
  template void resize_bilinear<T>(const T*, const ResizeDims&, bool, T*);          \
  template void resize_bilinear_backward<T>(const T*, const ResizeDims&, bool, T*); \
  template void resize_nearest_backward<T>(const T*, const ResizeDims&, T*);
ENGINE_INSTANTIATE_FLOAT(float)
ENGINE_INSTANTIATE_FLOAT(double)
#undef ENGINE_INSTANTIATE_FLOAT

template void resize_nearest<uint8_t>(const uint8_t*, const ResizeDims&, uint8_t*);
template void resize_nearest<uint16_t>(const uint16_t*, const ResizeDims&, uint16_t*);
template void resize_nearest<uint32_t>(const uint32_t*, const ResizeDims&, uint32_t*);
template void resize_nearest<uint64_t>(const uint64_t*, const ResizeDims&, uint64_t*);

}  // namespace engine::cpu
