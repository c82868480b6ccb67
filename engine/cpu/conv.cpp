// Convolution as GEMM over NHWC. Output pixels are GEMM rows: an im2col row holds, for one output
// pixel, the input C-channel runs under every kernel tap (ordered group, kh, kw, c), so each copy
// is a contiguous run of C/groups values. A 1x1 stride-1 unpadded convolution needs no im2col:
// the NHWC input already is the [N*H*W, C] matrix. Rows are processed in tiles so the column
// buffers stay small (one per thread, allocated once per call and reused by every tile).
// Threads split the tiles; each runs im2col and then a single-threaded GEMM on its own tile
// (OpenBLAS's OpenMP build runs on the calling thread inside a parallel region, so nothing
// nests). One fork per call instead of barriers per tile matters on a 2-core machine shared with
// other work, and a tile's columns are read back from the cache of the core that wrote them.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/kernels/conv.h"
#include "engine/kernels/linalg.h"

namespace engine::cpu {

namespace {

// Column-buffer budget per tile. Small enough that a tile's columns stay mostly in L2/L3 between
// im2col and the GEMM that reads them, large enough that each GEMM is big.
constexpr int64_t kTileBytes = int64_t(4) << 20;
// Below this many elements copied per tile the OpenMP fork costs more than it saves.
constexpr int64_t kParallelElems = int64_t(1) << 14;
// Forward tiles per thread (dynamic schedule).
constexpr int64_t kTilesPerThread = 4;
// Convolutions smaller than this many FLOPs run on one thread.
constexpr double kParallelFlops = 4e6;

bool is_direct(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

int64_t tile_rows(int64_t rows, int64_t row_elems, size_t elem_size) {
  int64_t t = kTileBytes / std::max<int64_t>(1, row_elems * int64_t(elem_size));
  t = std::max<int64_t>(t, 32);
  return std::min(t, std::max<int64_t>(rows, 1));
}

// How a call splits its output rows: ntiles tiles of `tile` rows over nt threads, ntiles a
// multiple of nt (at least min_per_thread each) so that a static schedule is balanced.
struct TilePlan {
  int nt = 1;
  int64_t ntiles = 1, tile = 1;
};

TilePlan plan_tiles(const ConvGeometry& g, bool direct, size_t elem_size,
                    int64_t min_per_thread = 1) {
  const int64_t rows = g.n * g.ho * g.wo, ld = g.kh * g.kw * g.c;
  const double flops = 2.0 * double(rows) * double(g.o) * double(ld / g.groups);
  TilePlan p;
  p.nt = flops >= kParallelFlops ? omp_get_max_threads() : 1;
  // Every thread needs at least one row (the threaded paths split rows into equal shares).
  if (rows < p.nt) p.nt = 1;
  const int64_t max_tile = direct ? std::max<int64_t>(rows, 1) : tile_rows(rows, ld, elem_size);
  int64_t ntiles = (rows + max_tile - 1) / max_tile;
  ntiles = std::max<int64_t>(ntiles, p.nt > 1 ? min_per_thread * p.nt : 1);
  ntiles = (ntiles + p.nt - 1) / p.nt * p.nt;
  p.ntiles = std::max<int64_t>(1, std::min(ntiles, rows / p.nt * p.nt));
  p.tile = std::max<int64_t>(1, (rows + p.ntiles - 1) / p.ntiles);
  return p;
}

struct Pixel {
  int64_t n, oh, ow;
};

inline Pixel decode(const ConvGeometry& g, int64_t r) {
  int64_t ow = r % g.wo;
  int64_t t = r / g.wo;
  return {t / g.ho, t % g.ho, ow};
}

// Short runs (the stem's 3 channels) are cheaper as an inlined loop than a memcpy call.
template <typename T>
inline void copy_run(T* dst, const T* src, int64_t n) {
  if (n >= 64) {
    std::memcpy(dst, src, size_t(n) * sizeof(T));
    return;
  }
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Columns of output rows [r0, r0 + mt) into col [mt, KH*KW*C], on the calling thread.
template <typename T>
void im2col_rows(const ConvGeometry& g, const T* x, int64_t r0, int64_t mt, T* col) {
  const int64_t kk = g.kh * g.kw, cg = g.c / g.groups, ld = kk * g.c;
  for (int64_t i = 0; i < mt; ++i) {
    Pixel p = decode(g, r0 + i);
    T* dst = col + i * ld;
    const int64_t iw0 = p.ow * g.sw - g.pw;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ih = p.oh * g.sh - g.ph + ki * g.dh;
      const bool row_inside = ih >= 0 && ih < g.h;
      if (row_inside && g.groups == 1 && g.dw == 1 && iw0 >= 0 && iw0 + g.kw <= g.w) {
        // Undilated taps of one kernel row are adjacent pixels: a single run of KW*C values in
        // the input and in the column row alike.
        copy_run(dst + ki * g.kw * g.c, x + ((p.n * g.h + ih) * g.w + iw0) * g.c, g.kw * g.c);
        continue;
      }
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const int64_t iw = iw0 + kj * g.dw;
        const int64_t tap = ki * g.kw + kj;
        const bool inside = row_inside && iw >= 0 && iw < g.w;
        const T* src = x + ((p.n * g.h + ih) * g.w + iw) * g.c;
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          T* d = dst + (grp * kk + tap) * cg;
          if (inside) {
            copy_run(d, src + grp * cg, cg);
          } else {
            std::fill(d, d + cg, T(0));
          }
        }
      }
    }
  }
}

// im2col_rows split over the OpenMP threads.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t r0, int64_t mt, T* col) {
  const int64_t ld = g.kh * g.kw * g.c;
  const int64_t chunk = 16;
  const int64_t nchunks = (mt + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (mt * ld >= kParallelElems)
  for (int64_t t = 0; t < nchunks; ++t) {
    const int64_t i0 = t * chunk;
    im2col_rows(g, x, r0 + i0, std::min(chunk, mt - i0), col + i0 * ld);
  }
}

// dst[(pixel - pix_lo) * C + cc] += the col entries of rows [r0, r0 + mt) that land on input
// channel cc of `pixel`, for channels cc in [c0, c1). Every touched pixel must be >= pix_lo.
template <typename T>
void col2im_rows(const ConvGeometry& g, const T* col, int64_t r0, int64_t mt, int64_t c0,
                 int64_t c1, T* dst_base, int64_t pix_lo) {
  const int64_t kk = g.kh * g.kw, cg = g.c / g.groups, ld = kk * g.c;
  for (int64_t i = 0; i < mt; ++i) {
    Pixel p = decode(g, r0 + i);
    const T* src_row = col + i * ld;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      int64_t ih = p.oh * g.sh - g.ph + ki * g.dh;
      if (ih < 0 || ih >= g.h) continue;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        int64_t iw = p.ow * g.sw - g.pw + kj * g.dw;
        if (iw < 0 || iw >= g.w) continue;
        int64_t tap = ki * g.kw + kj;
        T* dst = dst_base + ((p.n * g.h + ih) * g.w + iw - pix_lo) * g.c;
        for (int64_t grp = c0 / cg; grp * cg < c1; ++grp) {
          const int64_t lo = std::max(c0, grp * cg), hi = std::min(c1, (grp + 1) * cg);
          // src[cc] is channel cc of group grp's run for this tap.
          const T* src = src_row + (grp * kk + tap) * cg - grp * cg;
#pragma omp simd
          for (int64_t cc = lo; cc < hi; ++cc) dst[cc] += src[cc];
        }
      }
    }
  }
}

// grad_x += scatter of col [mt, KH*KW*C] (rows r0..r0+mt). Several output pixels hit the same
// input pixel, so threads split the channels rather than the rows: no two threads write the
// same element.
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, int64_t r0, int64_t mt, T* gx) {
  const int64_t ld = g.kh * g.kw * g.c;
  const int nt = (mt * ld >= kParallelElems && g.c >= 16) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    const int64_t c0 = g.c * tid / nth, c1 = g.c * (tid + 1) / nth;
    if (c0 < c1) col2im_rows(g, col, r0, mt, c0, c1, gx, 0);
  }
}

template <typename T>
std::unique_ptr<T[]> column_buffer(const ConvGeometry& g, int64_t tile) {
  return std::make_unique_for_overwrite<T[]>(size_t(tile * g.kh * g.kw * g.c));
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* weight, const T* bias, T* y) {
  const int64_t rows = g.n * g.ho * g.wo;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  const int64_t kcols = g.kh * g.kw * cg, ld = g.kh * g.kw * g.c;
  const bool direct = is_direct(g);
  // Tiles are handed out dynamically, several per thread, so that a thread slowed down by other
  // processes on its core does not hold up the whole call (each tile's output is independent,
  // so the result does not depend on the assignment).
  const TilePlan pl = plan_tiles(g, direct, sizeof(T), kTilesPerThread);
  const int nt = pl.nt;
  const int64_t ntiles = pl.ntiles, tile = pl.tile;
  std::unique_ptr<T[]> buf =
      direct ? nullptr : std::make_unique_for_overwrite<T[]>(size_t(nt * tile * ld));
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t t = 0; t < ntiles; ++t) {
    const int64_t r0 = t * tile;
    const int64_t mt = std::min(tile, rows - r0);
    if (mt <= 0) continue;
    T* col = direct ? nullptr : buf.get() + omp_get_thread_num() * tile * ld;
    const T* a = direct ? x + r0 * g.c : col;
    const int64_t lda = direct ? g.c : ld;
    const int64_t group_step = direct ? cg : kcols;
    if (!direct) im2col_rows(g, x, r0, mt, col);
    T* yt = y + r0 * g.o;
    if (bias) {
      for (int64_t i = 0; i < mt; ++i) std::memcpy(yt + i * g.o, bias, size_t(g.o) * sizeof(T));
    }
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      gemm<T>(false, true, mt, og, kcols, T(1), a + grp * group_step, lda,
              weight + grp * og * kcols, kcols, bias ? T(1) : T(0), yt + grp * og, g.o);
    }
  }
}

template <typename T>
void conv2d_backward_input(const ConvGeometry& g, const T* grad_y, const T* weight, T* grad_x) {
  const int64_t rows = g.n * g.ho * g.wo;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  const int64_t kcols = g.kh * g.kw * cg, ld = g.kh * g.kw * g.c;
  if (is_direct(g)) {
    // Output rows and input pixels coincide: tiles of rows write disjoint slices of grad_x.
    const TilePlan pl = plan_tiles(g, true, sizeof(T), kTilesPerThread);
#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.nt) if (pl.nt > 1)
    for (int64_t t = 0; t < pl.ntiles; ++t) {
      const int64_t r0 = t * pl.tile;
      const int64_t mt = std::min(pl.tile, rows - r0);
      if (mt <= 0) continue;
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        gemm<T>(false, false, mt, cg, og, T(1), grad_y + r0 * g.o + grp * og, g.o,
                weight + grp * og * cg, cg, T(0), grad_x + r0 * g.c + grp * cg, g.c);
      }
    }
    return;
  }
  const TilePlan pl = plan_tiles(g, false, sizeof(T));
  const int64_t pixels = g.n * g.h * g.w;
  if (pl.nt == 1) {
    std::fill(grad_x, grad_x + pixels * g.c, T(0));
    std::unique_ptr<T[]> buf = column_buffer<T>(g, pl.tile);
    for (int64_t r0 = 0; r0 < rows; r0 += pl.tile) {
      const int64_t mt = std::min(pl.tile, rows - r0);
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        gemm<T>(false, false, mt, kcols, og, T(1), grad_y + r0 * g.o + grp * og, g.o,
                weight + grp * og * kcols, kcols, T(0), buf.get() + grp * kcols, ld);
      }
      col2im_add(g, buf.get(), r0, mt, grad_x);
    }
    return;
  }
  // Threads own contiguous row ranges and scatter into private copies of the input pixels those
  // rows reach (their ranges overlap only in a band of kernel height), summed at the end.
  const int nt = pl.nt;
  const int64_t rows_per_thread = pl.ntiles / nt * pl.tile;
  std::vector<int64_t> lo(size_t(nt), 0), hi(size_t(nt), 0);
  int64_t priv_total = 0;
  std::vector<int64_t> priv_off(size_t(nt), 0);
  for (int t = 0; t < nt; ++t) {
    const int64_t r_begin = std::min(rows, t * rows_per_thread);
    const int64_t r_end = std::min(rows, (t + 1) * rows_per_thread);
    if (r_begin < r_end) {
      Pixel first = decode(g, r_begin), last = decode(g, r_end - 1);
      const int64_t ih_lo = std::clamp<int64_t>(first.oh * g.sh - g.ph, 0, g.h);
      const int64_t ih_hi =
          std::clamp<int64_t>(last.oh * g.sh - g.ph + (g.kh - 1) * g.dh + 1, 0, g.h);
      lo[size_t(t)] = (first.n * g.h + ih_lo) * g.w;
      hi[size_t(t)] = std::max(lo[size_t(t)], (last.n * g.h + ih_hi) * g.w);
    }
    priv_off[size_t(t)] = priv_total;
    priv_total += (hi[size_t(t)] - lo[size_t(t)]) * g.c;
  }
  std::unique_ptr<T[]> priv = std::make_unique_for_overwrite<T[]>(size_t(priv_total));
  std::unique_ptr<T[]> buf = std::make_unique_for_overwrite<T[]>(size_t(nt * pl.tile * ld));
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num();
    T* mine = priv.get() + priv_off[size_t(tid)];
    std::fill(mine, mine + (hi[size_t(tid)] - lo[size_t(tid)]) * g.c, T(0));
    T* col = buf.get() + tid * pl.tile * ld;
    const int64_t r_end = std::min(rows, (tid + 1) * rows_per_thread);
    for (int64_t r0 = std::min(rows, tid * rows_per_thread); r0 < r_end; r0 += pl.tile) {
      const int64_t mt = std::min(pl.tile, r_end - r0);
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        gemm<T>(false, false, mt, kcols, og, T(1), grad_y + r0 * g.o + grp * og, g.o,
                weight + grp * og * kcols, kcols, T(0), col + grp * kcols, ld);
      }
      col2im_rows(g, col, r0, mt, 0, g.c, mine, lo[size_t(tid)]);
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t p = 0; p < pixels; ++p) {
      T* d = grad_x + p * g.c;
      std::fill(d, d + g.c, T(0));
      for (int t = 0; t < nt; ++t) {
        if (p < lo[size_t(t)] || p >= hi[size_t(t)]) continue;
        const T* s = priv.get() + priv_off[size_t(t)] + (p - lo[size_t(t)]) * g.c;
#pragma omp simd
        for (int64_t cc = 0; cc < g.c; ++cc) d[cc] += s[cc];
      }
    }
  }
}

template <typename T>
void conv2d_backward_weight(const ConvGeometry& g, const T* x, const T* grad_y, T* grad_weight) {
  const int64_t rows = g.n * g.ho * g.wo;
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  const int64_t kcols = g.kh * g.kw * cg, ld = g.kh * g.kw * g.c;
  if (rows == 0) {
    std::fill(grad_weight, grad_weight + g.o * kcols, T(0));
    return;
  }
  const bool direct = is_direct(g);
  const TilePlan pl = plan_tiles(g, direct, sizeof(T));
  const int64_t wsize = g.o * kcols;
  if (pl.nt == 1) {
    // One pass of GEMMs accumulating over the rows.
    std::unique_ptr<T[]> buf = direct ? nullptr : column_buffer<T>(g, pl.tile);
    for (int64_t r0 = 0; r0 < rows; r0 += pl.tile) {
      const int64_t mt = std::min(pl.tile, rows - r0);
      const T* a = direct ? x + r0 * g.c : buf.get();
      const int64_t lda = direct ? g.c : ld;
      const int64_t group_step = direct ? cg : kcols;
      if (!direct) im2col(g, x, r0, mt, buf.get());
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        gemm<T>(true, false, og, kcols, mt, T(1), grad_y + r0 * g.o + grp * og, g.o,
                a + grp * group_step, lda, r0 == 0 ? T(0) : T(1), grad_weight + grp * og * kcols,
                kcols);
      }
    }
    return;
  }
  // Each thread accumulates its tiles into a private weight gradient; the copies are summed.
  const int nt = pl.nt;
  std::unique_ptr<T[]> partial = std::make_unique_for_overwrite<T[]>(size_t(nt * wsize));
  std::unique_ptr<T[]> buf =
      direct ? nullptr : std::make_unique_for_overwrite<T[]>(size_t(nt * pl.tile * ld));
  const int64_t tiles_per_thread = pl.ntiles / nt;
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num();
    T* gw = partial.get() + tid * wsize;
    T* col = direct ? nullptr : buf.get() + tid * pl.tile * ld;
    bool first = true;
    for (int64_t t = tid * tiles_per_thread; t < (tid + 1) * tiles_per_thread; ++t) {
      const int64_t r0 = t * pl.tile;
      const int64_t mt = std::min(pl.tile, rows - r0);
      if (mt <= 0) break;
      const T* a = direct ? x + r0 * g.c : col;
      if (!direct) im2col_rows(g, x, r0, mt, col);
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        gemm<T>(true, false, og, kcols, mt, T(1), grad_y + r0 * g.o + grp * og, g.o,
                a + grp * (direct ? cg : kcols), direct ? g.c : ld, first ? T(0) : T(1),
                gw + grp * og * kcols, kcols);
      }
      first = false;
    }
    if (first) std::fill(gw, gw + wsize, T(0));
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsize; ++i) {
      T acc = T(0);
      for (int t = 0; t < nt; ++t) acc += partial[size_t(t * wsize + i)];
      grad_weight[i] = acc;
    }
  }
}

#define ENGINE_CONV_INSTANTIATE(T)                                                        \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);    \
  template void conv2d_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*);
ENGINE_CONV_INSTANTIATE(float)
ENGINE_CONV_INSTANTIATE(double)
#undef ENGINE_CONV_INSTANTIATE

}  // namespace engine::cpu
