// Indexing kernels on f32 values with int32/int64 indices. Accumulating kernels (scatter_add,
// index_add and with it segment_sum) use no float atomics: every output element is summed by one
// thread in a fixed order, so results are bitwise the same on every run whatever
// math_flags().deterministic says.
#include <cuda_runtime.h>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "cuda/kernel_util.h"
#include "cuda/launch.h"
#include "engine/error.h"
#include "engine/kernels/index.h"

namespace engine::cuda {

namespace {

// Sources per partial sum of index_add: small enough that one huge segment (a background region
// holding half an image) still spreads over many threads, large enough that most segments of a
// typical superpixel map fit one chunk and so match the CPU bitwise.
constexpr int64_t kChunk = 64;

template <typename I>
__global__ void find_bad_index_kernel(const I* __restrict__ idx, int64_t n, int64_t size,
                                      bool has_ignore, int64_t ignore,
                                      unsigned long long* __restrict__ first_bad) {
  ENGINE_CUDA_LOOP(i, n) {
    const int64_t v = int64_t(idx[i]);
    if (!(v >= 0 && v < size) && !(has_ignore && v == ignore))
      atomicMin(first_bad, (unsigned long long)i);
  }
}

template <typename I>
__global__ void gather_lines(const float* __restrict__ x, LineGeometry gx,
                             const I* __restrict__ idx, LineGeometry gi, float* __restrict__ out,
                             LineGeometry go, int64_t num_lines, int64_t n) {
  ENGINE_CUDA_LOOP(e, num_lines * n) {
    const int64_t l = e / n, j = e % n;
    const int64_t k = int64_t(idx[gi.lines.offset_of(l) + j * gi.dim_stride]);
    out[go.lines.offset_of(l) + j * go.dim_stride] =
        __ldg(x + gx.lines.offset_of(l) + k * gx.dim_stride);
  }
}

template <typename I>
__global__ void scatter_add_lines_serial(float* __restrict__ out, LineGeometry go,
                                         const I* __restrict__ idx, LineGeometry gi,
                                         const float* __restrict__ src, LineGeometry gs,
                                         int64_t num_lines, int64_t n) {
  ENGINE_CUDA_LOOP(l, num_lines) {
    float* ol = out + go.lines.offset_of(l);
    const I* il = idx + gi.lines.offset_of(l);
    const float* sl = src + gs.lines.offset_of(l);
    for (int64_t j = 0; j < n; ++j)
      ol[int64_t(il[j * gi.dim_stride]) * go.dim_stride] += sl[j * gs.dim_stride];
  }
}

// out [outer, n, inner] from x [outer, x_dim, inner]; V = float or float4 (inner in units of V).
template <typename V, typename I>
__global__ void index_select_rows(const V* __restrict__ x, int64_t outer, int64_t x_dim,
                                  int64_t inner, const I* __restrict__ idx, int64_t n,
                                  V* __restrict__ out) {
  ENGINE_CUDA_LOOP(e, outer * n * inner) {
    const int64_t c = e % inner, r = e / inner;
    const int64_t j = r % n, o = r / n;
    out[e] = __ldg(x + (o * x_dim + int64_t(idx[j])) * inner + c);
  }
}

template <typename I>
__global__ void make_sort_pairs(const I* __restrict__ idx, int64_t n, uint32_t* __restrict__ keys,
                                uint32_t* __restrict__ positions) {
  ENGINE_CUDA_LOOP(j, n) {
    keys[j] = uint32_t(idx[j]);
    positions[j] = uint32_t(j);
  }
}

// start[t] = first sorted position with key >= t, for t in [0, out_dim]; chunks[t] = number of
// kChunk-source chunks of target t (0 for t = out_dim, so an exclusive scan ends in the total).
__global__ void segment_bounds(const uint32_t* __restrict__ sorted_keys, int64_t n, int64_t out_dim,
                               uint32_t* __restrict__ start, uint32_t* __restrict__ chunks) {
  ENGINE_CUDA_LOOP(t, out_dim + 1) {
    auto lower = [&](int64_t key) {
      int64_t lo = 0, hi = n;
      while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (int64_t(sorted_keys[mid]) < key)
          lo = mid + 1;
        else
          hi = mid;
      }
      return lo;
    };
    const int64_t b = lower(t);
    start[t] = uint32_t(b);
    chunks[t] = t < out_dim ? uint32_t((lower(t + 1) - b + kChunk - 1) / kChunk) : 0u;
  }
}

// partial[o, chunk, c] = sum, in ascending source position, of the chunk's sources in a double.
// Chunks past the real total (max_chunks is an upper bound) write nothing and are never read.
__global__ void index_add_chunk_sums(const float* __restrict__ src, int64_t outer, int64_t n,
                                     int64_t inner, int64_t out_dim,
                                     const uint32_t* __restrict__ order,
                                     const uint32_t* __restrict__ start,
                                     const uint32_t* __restrict__ chunk_start, int64_t max_chunks,
                                     double* __restrict__ partial) {
  ENGINE_CUDA_LOOP(e, outer * max_chunks * inner) {
    const int64_t c = e % inner, r = e / inner;
    const int64_t chunk = r % max_chunks, o = r / max_chunks;
    if (chunk >= int64_t(chunk_start[out_dim])) continue;
    // Invariant chunk_start[lo] <= chunk < chunk_start[hi] (chunk_start[out_dim] is the total).
    int64_t lo = 0, hi = out_dim;
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (int64_t(chunk_start[mid]) <= chunk)
        lo = mid;
      else
        hi = mid;
    }
    // Empty targets before the owner share its chunk_start; the largest such t is the owner.
    const int64_t t = lo;
    const int64_t b = int64_t(start[t]) + (chunk - int64_t(chunk_start[t])) * kChunk;
    const int64_t seg_end = int64_t(start[t + 1]);
    const int64_t end = b + kChunk < seg_end ? b + kChunk : seg_end;
    const float* base = src + o * n * inner + c;
    double acc = 0.0;
#pragma unroll 4
    for (int64_t k = b; k < end; ++k) acc += double(__ldg(base + int64_t(order[k]) * inner));
    partial[e] = acc;
  }
}

// out[o, t, c] = float(double(out) + sum of t's chunk sums in order); targets without sources
// are left untouched, as on the CPU.
__global__ void index_add_targets(float* __restrict__ out, int64_t outer, int64_t out_dim,
                                  int64_t inner, const uint32_t* __restrict__ chunk_start,
                                  int64_t max_chunks, const double* __restrict__ partial) {
  ENGINE_CUDA_LOOP(e, outer * out_dim * inner) {
    const int64_t c = e % inner, r = e / inner;
    const int64_t t = r % out_dim, o = r / out_dim;
    const int64_t cb = chunk_start[t], ce = chunk_start[t + 1];
    if (cb == ce) continue;
    double acc = 0.0;
    for (int64_t k = cb; k < ce; ++k) acc += partial[(o * max_chunks + k) * inner + c];
    out[e] = float(double(out[e]) + acc);
  }
}

template <typename L>
__global__ void one_hot_rows(const L* __restrict__ labels, int64_t n, int64_t num_classes,
                             bool has_ignore, int64_t ignore, float* __restrict__ out) {
  ENGINE_CUDA_LOOP(e, n * num_classes) {
    const int64_t i = e / num_classes, c = e % num_classes;
    const int64_t v = int64_t(labels[i]);
    out[e] = (v == c && !(has_ignore && v == ignore)) ? 1.0f : 0.0f;
  }
}

}  // namespace

template <typename I>
int64_t find_bad_index(const I* idx, int64_t n, int64_t size, bool has_ignore, int64_t ignore,
                       int64_t* bad_value) {
  if (n <= 0) return -1;
  const int device = current_device();
  Scratch flag(sizeof(unsigned long long));
  CUDA_CHECK(cudaMemsetAsync(flag.as<void>(), 0xff, sizeof(unsigned long long), stream()));
  find_bad_index_kernel<I><<<grid_for(n), kBlock, 0, stream()>>>(idx, n, size, has_ignore, ignore,
                                                                 flag.as<unsigned long long>());
  ENGINE_CUDA_LAUNCH_CHECK();
  unsigned long long first = 0;
  copy_d2h(&first, flag.as<void>(), sizeof(first), device);
  if (first == ULLONG_MAX) return -1;
  I value{};
  copy_d2h(&value, idx + first, sizeof(I), device);
  *bad_value = int64_t(value);
  return int64_t(first);
}

template <typename I>
void gather(const float* x, const LineGeometry& gx, const I* idx, const LineGeometry& gi,
            float* out, const LineGeometry& go, int64_t num_lines, int64_t n) {
  if (num_lines * n == 0) return;
  gather_lines<I>
      <<<grid_for(num_lines * n), kBlock, 0, stream()>>>(x, gx, idx, gi, out, go, num_lines, n);
  ENGINE_CUDA_LAUNCH_CHECK();
}

template <typename I>
void scatter_add(float* out, const LineGeometry& go, const I* idx, const LineGeometry& gi,
                 const float* src, const LineGeometry& gs, int64_t num_lines, int64_t n) {
  if (num_lines * n == 0) return;
  scatter_add_lines_serial<I>
      <<<grid_for(num_lines), kBlock, 0, stream()>>>(out, go, idx, gi, src, gs, num_lines, n);
  ENGINE_CUDA_LAUNCH_CHECK();
}

template <typename I>
void index_select(const float* x, int64_t outer, int64_t x_dim, int64_t inner, const I* idx,
                  int64_t n, float* out) {
  if (outer * n * inner == 0) return;
  if (inner % 4 == 0 && aligned16(x) && aligned16(out)) {
    const int64_t inner4 = inner / 4;
    index_select_rows<float4, I><<<grid_for(outer * n * inner4), kBlock, 0, stream()>>>(
        reinterpret_cast<const float4*>(x), outer, x_dim, inner4, idx, n,
        reinterpret_cast<float4*>(out));
  } else {
    index_select_rows<float, I>
        <<<grid_for(outer * n * inner), kBlock, 0, stream()>>>(x, outer, x_dim, inner, idx, n, out);
  }
  ENGINE_CUDA_LAUNCH_CHECK();
}

template <typename I>
void index_add(float* out, int64_t outer, int64_t out_dim, int64_t inner, const I* idx, int64_t n,
               const float* src) {
  if (n == 0 || inner == 0 || outer == 0 || out_dim == 0) return;
  ENGINE_CHECK(n < (int64_t(1) << 31) && out_dim < (int64_t(1) << 31),
               "index_add (cuda): index length {} and target size {} must be < 2^31", n, out_dim);
  cudaStream_t s = stream();
  Scratch keys_in(size_t(n) * 4), pos_in(size_t(n) * 4), keys_out(size_t(n) * 4),
      order(size_t(n) * 4);
  Scratch start(size_t(out_dim + 1) * 4), chunks(size_t(out_dim + 1) * 4),
      chunk_start(size_t(out_dim + 1) * 4);
  // Keys only need the bits of out_dim - 1: fewer radix passes.
  int end_bit = 1;
  while (end_bit < 32 && (uint64_t(out_dim - 1) >> end_bit) != 0) ++end_bit;
  size_t sort_bytes = 0, scan_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys_in.as<uint32_t>(),
                                             keys_out.as<uint32_t>(), pos_in.as<uint32_t>(),
                                             order.as<uint32_t>(), int(n), 0, end_bit, s));
  CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, chunks.as<uint32_t>(),
                                           chunk_start.as<uint32_t>(), int(out_dim + 1), s));
  Scratch temp(std::max<size_t>({sort_bytes, scan_bytes, 16}));

  make_sort_pairs<I>
      <<<grid_for(n), kBlock, 0, s>>>(idx, n, keys_in.as<uint32_t>(), pos_in.as<uint32_t>());
  ENGINE_CUDA_LAUNCH_CHECK();
  // LSD radix sort is stable: equal targets keep ascending source positions.
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.as<void>(), sort_bytes, keys_in.as<uint32_t>(),
                                             keys_out.as<uint32_t>(), pos_in.as<uint32_t>(),
                                             order.as<uint32_t>(), int(n), 0, end_bit, s));
  segment_bounds<<<grid_for(out_dim + 1), kBlock, 0, s>>>(
      keys_out.as<uint32_t>(), n, out_dim, start.as<uint32_t>(), chunks.as<uint32_t>());
  ENGINE_CUDA_LAUNCH_CHECK();
  CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.as<void>(), scan_bytes, chunks.as<uint32_t>(),
                                           chunk_start.as<uint32_t>(), int(out_dim + 1), s));
  // Upper bound of sum over targets of ceil(len / kChunk), known without a device round trip.
  const int64_t max_chunks = n / kChunk + std::min(out_dim, n);
  Scratch partial(size_t(outer * max_chunks * inner) * sizeof(double));
  index_add_chunk_sums<<<grid_for(outer * max_chunks * inner), kBlock, 0, s>>>(
      src, outer, n, inner, out_dim, order.as<uint32_t>(), start.as<uint32_t>(),
      chunk_start.as<uint32_t>(), max_chunks, partial.as<double>());
  ENGINE_CUDA_LAUNCH_CHECK();
  index_add_targets<<<grid_for(outer * out_dim * inner), kBlock, 0, s>>>(
      out, outer, out_dim, inner, chunk_start.as<uint32_t>(), max_chunks, partial.as<double>());
  ENGINE_CUDA_LAUNCH_CHECK();
}

template <typename L>
void one_hot(const L* labels, int64_t n, int64_t num_classes, bool has_ignore, int64_t ignore_index,
             float* out) {
  if (n * num_classes == 0) return;
  one_hot_rows<L><<<grid_for(n * num_classes), kBlock, 0, stream()>>>(
      labels, n, num_classes, has_ignore, ignore_index, out);
  ENGINE_CUDA_LAUNCH_CHECK();
}

#define ENGINE_CUDA_INDEX_INSTANTIATE(I)                                                    \
  template void gather<I>(const float*, const LineGeometry&, const I*, const LineGeometry&, \
                          float*, const LineGeometry&, int64_t, int64_t);                   \
  template void scatter_add<I>(float*, const LineGeometry&, const I*, const LineGeometry&,  \
                               const float*, const LineGeometry&, int64_t, int64_t);        \
  template void index_select<I>(const float*, int64_t, int64_t, int64_t, const I*, int64_t, \
                                float*);                                                    \
  template void index_add<I>(float*, int64_t, int64_t, int64_t, const I*, int64_t, const float*);
ENGINE_CUDA_INDEX_INSTANTIATE(int32_t)
ENGINE_CUDA_INDEX_INSTANTIATE(int64_t)
#undef ENGINE_CUDA_INDEX_INSTANTIATE

template int64_t find_bad_index<uint8_t>(const uint8_t*, int64_t, int64_t, bool, int64_t, int64_t*);
template int64_t find_bad_index<int32_t>(const int32_t*, int64_t, int64_t, bool, int64_t, int64_t*);
template int64_t find_bad_index<int64_t>(const int64_t*, int64_t, int64_t, bool, int64_t, int64_t*);
template void one_hot<uint8_t>(const uint8_t*, int64_t, int64_t, bool, int64_t, float*);
template void one_hot<int32_t>(const int32_t*, int64_t, int64_t, bool, int64_t, float*);
template void one_hot<int64_t>(const int64_t*, int64_t, int64_t, bool, int64_t, float*);

}  // namespace engine::cuda
