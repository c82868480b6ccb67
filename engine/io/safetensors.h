// Reading and writing the safetensors format (https://github.com/huggingface/safetensors), used
// for imported weights (torchvision state dicts converted once) and checkpoints.
//
// Layout of a file:
//   8 bytes    N, the header length, unsigned 64-bit little-endian
//   N bytes    JSON object: {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
//              ..., "__metadata__": {"<key>": "<value>", ...}}   (metadata optional)
//   the buffer: each tensor's row-major little-endian bytes at [b, e) relative to the buffer's
//              start. The tensors tile the buffer exactly: no gaps, no overlaps, nothing after.
// Supported dtypes and their header names: F64, F32, F16, BF16, I64, I32, U8, BOOL.
// Shapes are stored as given (this engine's activations are NHWC and convolution weights
// [O, KH, KW, I]; converting torchvision's OIHW is the importer's job, not this file's).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace engine::io {

// "F32", "BF16", "BOOL", ... for a dtype.
const char* safetensors_dtype_name(DType dtype);
// The dtype for a header name; nullopt for names this engine does not support (I8, F8_E4M3, ...).
std::optional<DType> dtype_from_safetensors_name(std::string_view name);

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  std::string path;
  // In buffer order (for files this engine writes, the order they were saved in). Every tensor
  // is a contiguous CPU tensor owning its storage.
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;

  bool contains(std::string_view name) const;
  // The tensor called `name`; throws engine::Error naming the file and listing what it holds.
  const Tensor& at(std::string_view name) const;
  std::vector<std::string> names() const;
};

// Writes `tensors` (any device, layout and supported dtype; copied to contiguous CPU memory one
// at a time while writing) and string metadata to `path`. Names must be unique, non-empty and
// not "__metadata__". The file is replaced atomically (see atomic_file.h): if anything fails,
// an existing file at `path` is left as it was. Throws engine::Error naming the file.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file. Every structural problem (truncation, bad JSON, unknown
// dtype, bad shape, offsets that do not tile the buffer, size mismatches, duplicate names,
// invalid BOOL bytes) throws engine::Error naming the file and the offending entry.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace engine::io
