// NumPy .npy files (format version 1.0): the arrays apps/infer writes (embeddings, logits) so
// that Python users can np.load() them, and a reader for the same subset (tests, tools).
#pragma once

#include <string>

#include "engine/tensor.h"

namespace data {

// Writes a CPU tensor of dtype f32 ('<f4'), i32 ('<i4'), i64 ('<i8') or u8 ('|u1') in C order
// with its shape (any rank, NHWC stays NHWC). The header is padded so that the data starts at a
// multiple of 64 bytes. The file appears atomically (temporary file, then rename).
void write_npy(const std::string& path, const engine::Tensor& tensor);

// The .npy header (magic, version, length, dict) that write_npy puts before the data.
std::string npy_header(const engine::Tensor& tensor);

// Reads a little-endian, C-order .npy file (version 1, 2 or 3) of dtype '<f4', '<i4', '<i8' or
// '|u1' into a CPU tensor. Anything else (Fortran order, big-endian, object arrays, truncated
// data) raises an error naming the file and what was found.
engine::Tensor read_npy(const std::string& path);

}  // namespace data
