// Sort and top-k along one dim with CUB's segmented stable sort. Lines [outer, n, inner] are
// gathered into contiguous segments of (key, position) pairs, sorted per segment, and the picks
// gathered back from x. Keys are canonicalized first (-0 -> +0 so that zeros tie as on the CPU;
// every NaN -> +NaN so that NaN orders above +inf in both directions), and the stable sort keeps
// equal keys in position order: ties go to the lower index, as in cpu::sort / cpu::topk.
// The keys are sorted as their order-preserving uint32 bit patterns, not as floats: CUB sorts
// small and medium segments with a warp merge sort that compares keys with `<`, under which a
// NaN compares equal to everything and would not move to the end; integer keys order the same
// way in the radix (large segment) and merge paths.
// Scratch memory comes from the caching allocator (DESIGN.md: every device allocation goes
// through it).
#include <cuda_runtime.h>

#include <cstdint>
#include <cub/device/device_segmented_sort.cuh>

#include "cuda/allocator.h"

#include "cuda/kernel_util.h"
#include "engine/kernels/sort.h"

namespace engine::cuda {

namespace {

__global__ void sort_gather_lines(const float* __restrict__ x, int64_t outer, int64_t n,
                                  int64_t inner, uint32_t* __restrict__ keys,
                                  int64_t* __restrict__ positions) {
  ENGINE_CUDA_LOOP(i, outer * inner * n) {
    const int64_t seg = i / n, j = i % n;
    const int64_t o = seg / inner, in = seg % inner;
    float v = x[(o * n + j) * inner + in];
    if (v != v) v = __int_as_float(0x7fc00000);
    if (v == 0.f) v = 0.f;
    // Unsigned order of the bits = float order: negatives flipped, positives above them.
    const uint32_t u = __float_as_uint(v);
    keys[i] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    positions[i] = j;
  }
}

__global__ void sort_segment_offsets(int64_t* offsets, int64_t segments, int64_t length) {
  ENGINE_CUDA_LOOP(i, segments + 1) offsets[i] = i * length;
}

// The first k positions of every sorted segment (length n) into segments of length k.
__global__ void sort_take_prefix(const int64_t* __restrict__ sorted, int64_t segments, int64_t n,
                                 int64_t k, int64_t* __restrict__ out) {
  ENGINE_CUDA_LOOP(i, segments * k) out[i] = sorted[(i / k) * n + i % k];
}

// values/indices [outer, k, inner] from the positions [segments, k] (segment = o * inner + in).
__global__ void sort_scatter_lines(const float* __restrict__ x, const int64_t* __restrict__ picks,
                                   int64_t outer, int64_t n, int64_t inner, int64_t k,
                                   float* __restrict__ values, int64_t* __restrict__ indices) {
  ENGINE_CUDA_LOOP(i, outer * k * inner) {
    const int64_t in = i % inner;
    const int64_t j = (i / inner) % k;
    const int64_t o = i / (inner * k);
    const int64_t p = picks[(o * inner + in) * k + j];
    values[i] = x[(o * n + p) * inner + in];
    indices[i] = p;
  }
}

struct Scratch {
  DeviceBuffer buffer;
  void* ptr;
  Scratch(size_t bytes, cudaStream_t) : buffer(bytes, current_device()), ptr(buffer.get()) {}
};

size_t align256(size_t b) {
  return (b + 255) / 256 * 256;
}

void sort_lines(const float* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool descending,
                bool by_position, float* values, int64_t* indices) {
  const int64_t segments = outer * inner, total = segments * n;
  if (segments == 0 || k == 0) return;
  cudaStream_t stream = current_stream();
  const uint32_t* fk = nullptr;
  const int64_t* ik = nullptr;
  const int64_t* off = nullptr;
  size_t temp_sort = 0, temp_pos = 0;
  if (descending)
    CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairsDescending(
        nullptr, temp_sort, fk, (uint32_t*)nullptr, ik, (int64_t*)nullptr, total, segments, off,
        off + 1, stream));
  else
    CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairs(nullptr, temp_sort, fk, (uint32_t*)nullptr,
                                                         ik, (int64_t*)nullptr, total, segments,
                                                         off, off + 1, stream));
  if (by_position)
    CUDA_CHECK(cub::DeviceSegmentedSort::SortKeys(nullptr, temp_pos, ik, (int64_t*)nullptr,
                                                  segments * k, segments, off, off + 1, stream));
  const size_t b_keys = align256(size_t(total) * sizeof(uint32_t));
  const size_t b_pos = align256(size_t(total) * sizeof(int64_t));
  const size_t b_off = align256(size_t(segments + 1) * sizeof(int64_t));
  const size_t b_temp = align256(std::max(temp_sort, temp_pos));
  Scratch scratch(2 * b_keys + 2 * b_pos + 2 * b_off + b_temp, stream);
  char* p = static_cast<char*>(scratch.ptr);
  uint32_t* keys_in = reinterpret_cast<uint32_t*>(p);
  uint32_t* keys_out = reinterpret_cast<uint32_t*>(p + b_keys);
  int64_t* pos_in = reinterpret_cast<int64_t*>(p + 2 * b_keys);
  int64_t* pos_out = reinterpret_cast<int64_t*>(p + 2 * b_keys + b_pos);
  int64_t* offsets = reinterpret_cast<int64_t*>(p + 2 * b_keys + 2 * b_pos);
  int64_t* offsets_k = reinterpret_cast<int64_t*>(p + 2 * b_keys + 2 * b_pos + b_off);
  void* temp = p + 2 * b_keys + 2 * b_pos + 2 * b_off;

  sort_gather_lines<<<grid_for(total), kThreads, 0, stream>>>(x, outer, n, inner, keys_in, pos_in);
  ENGINE_CUDA_LAUNCH_CHECK();
  sort_segment_offsets<<<grid_for(segments + 1), kThreads, 0, stream>>>(offsets, segments, n);
  ENGINE_CUDA_LAUNCH_CHECK();
  if (descending)
    CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairsDescending(
        temp, temp_sort, keys_in, keys_out, pos_in, pos_out, total, segments, offsets, offsets + 1,
        stream));
  else
    CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairs(temp, temp_sort, keys_in, keys_out, pos_in,
                                                         pos_out, total, segments, offsets,
                                                         offsets + 1, stream));
  const int64_t* picks = pos_out;
  if (k < n || by_position) {
    // pos_in is free again: the first k of each segment, then (top-k unsorted) back in
    // position order.
    sort_take_prefix<<<grid_for(segments * k), kThreads, 0, stream>>>(pos_out, segments, n, k,
                                                                      pos_in);
    ENGINE_CUDA_LAUNCH_CHECK();
    picks = pos_in;
    if (by_position) {
      sort_segment_offsets<<<grid_for(segments + 1), kThreads, 0, stream>>>(offsets_k, segments, k);
      ENGINE_CUDA_LAUNCH_CHECK();
      CUDA_CHECK(cub::DeviceSegmentedSort::SortKeys(temp, temp_pos, pos_in, pos_out, segments * k,
                                                    segments, offsets_k, offsets_k + 1, stream));
      picks = pos_out;
    }
  }
  sort_scatter_lines<<<grid_for(outer * k * inner), kThreads, 0, stream>>>(
      x, picks, outer, n, inner, k, values, indices);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace

void sort(const float* x, int64_t outer, int64_t n, int64_t inner, bool descending, float* values,
          int64_t* indices) {
  sort_lines(x, outer, n, inner, n, descending, false, values, indices);
}

void topk(const float* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest,
          bool sorted, float* values, int64_t* indices) {
  sort_lines(x, outer, n, inner, k, largest, !sorted, values, indices);
}

}  // namespace engine::cuda
