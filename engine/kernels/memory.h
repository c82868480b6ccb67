// Raw memory per backend: allocation, copies and fills, on bytes. Storage calls these.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/dtype.h"
#include "engine/kernels/layout.h"

namespace engine::cpu {
// 64-byte aligned; throws engine::Error with the size on failure. Blocks of 1 MiB and more are
// cached for reuse after free (up to 4 GiB idle); empty_cache() returns idle blocks to the
// system.
void* alloc(size_t nbytes);
void free(void* p);
void empty_cache();
size_t cached_bytes();
// dst[i] = convert(src[layout.offset_of(i)]) for i < numel(layout); dtype conversion included.
void strided_copy(const void* src, DType src_dtype, const Layout& src_layout, void* dst,
                  DType dst_dtype);
// Fills n elements of dtype with value (converted from double).
void fill(void* dst, DType dtype, int64_t n, double value);
}  // namespace engine::cpu

namespace engine::cuda {
// Number of CUDA devices; 0 (never an error) without a driver or a GPU.
int device_count();
// Device memory from the caching allocator (cuda/allocator.h): reused after free without a
// cudaMalloc, ordered on the device's compute stream. Out of memory throws engine::Error stating
// the request and the allocator's statistics.
void* alloc(size_t nbytes, int device);
void free(void* p, int device);
// Copies on the device's compute stream, ordered after the kernels queued there. copy_d2h returns
// once the data is on the host. copy_h2d from pageable memory returns once the source has been
// read; from a pinned buffer (alloc_pinned) it is asynchronous: keep the buffer unchanged until
// the stream has passed the copy (free_pinned takes care of reuse).
void copy_h2d(void* dst, const void* src, size_t nbytes, int device);
void copy_d2h(void* dst, const void* src, size_t nbytes, int device);
void copy_d2d(void* dst, const void* src, size_t nbytes, int device);
void strided_copy(const void* src, DType src_dtype, const Layout& src_layout, void* dst,
                  DType dst_dtype, int device);
// The reverse direction, without conversion: dst[dst_layout.offset_of(i)] = src[i] for
// i < numel(dst_layout), elements of elem_size bytes (1, 2, 4 or 8); src is dense. Writes through
// a strided view (Tensor::copy_ into a non-contiguous device tensor).
void strided_scatter(const void* src, int elem_size, void* dst, const Layout& dst_layout,
                     int device);
void fill(void* dst, DType dtype, int64_t n, double value, int device);
// Page-locked host memory (fast, asynchronous host<->device copies), cached for reuse: a freed
// buffer is handed out again only after the current device's compute stream has passed the point
// of the free. empty_cache() (engine/kernels/runtime.h) returns cached buffers to the system.
void* alloc_pinned(size_t nbytes);
void free_pinned(void* p);
}  // namespace engine::cuda
