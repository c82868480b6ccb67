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
int device_count();
void* alloc(size_t nbytes, int device);
void free(void* p, int device);
void copy_h2d(void* dst, const void* src, size_t nbytes, int device);
void copy_d2h(void* dst, const void* src, size_t nbytes, int device);
void copy_d2d(void* dst, const void* src, size_t nbytes, int device);
void strided_copy(const void* src, DType src_dtype, const Layout& src_layout, void* dst,
                  DType dst_dtype, int device);
void fill(void* dst, DType dtype, int64_t n, double value, int device);
}  // namespace engine::cuda
