// Image files: decoding photos (JPEG, PNG) and label/region maps (PNG), and writing predictions,
// overlays and synthetic data. Every error is an engine::Error that names the file and says what
// was expected. Tensors are CPU, dense, NHWC without the batch dim.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace data {

// Decodes a JPEG or PNG (any bit depth or colour type; grey and palette are expanded) to
// u8 [H, W, 3] RGB. Missing, truncated or corrupt files raise an error naming the file.
engine::Tensor read_image(const std::string& path);

// How a label PNG stored its ids.
enum class LabelEncoding : uint8_t { grayscale, palette };
struct LabelMap {
  engine::Tensor ids;  // u8 [H, W]: raw class ids (palette indices for a palette PNG)
  LabelEncoding encoding = LabelEncoding::grayscale;
};
// Reads a label PNG as raw ids, whether 8-bit grayscale or palette (indices are kept, never
// turned into colours). Other PNG types (RGB, 16-bit) raise an error naming the file and type.
LabelMap read_label_png(const std::string& path);

// Reads an over-segmentation region map: an 8- or 16-bit grayscale PNG of region ids, to
// i32 [H, W].
engine::Tensor read_region_png(const std::string& path);

// The Pascal VOC colour of class `id` in 0..255 (VOC's bit-interleaved colour map; 255 = ignore
// comes out as (224, 224, 192), the cream "void" colour of VOC's files).
std::array<uint8_t, 3> voc_color(int id);

// Writes u8 [H, W] ids as a palette PNG with the VOC palette (readable by read_label_png and by
// any image viewer in colour).
void write_label_png(const std::string& path, const engine::Tensor& ids);
// Writes i32 [H, W] region ids in [0, 65535] as a 16-bit grayscale PNG (8-bit when all < 256).
void write_region_png(const std::string& path, const engine::Tensor& regions);
// Writes u8 [H, W, 3] RGB as PNG or JPEG (quality 1..100).
void write_png(const std::string& path, const engine::Tensor& rgb);
void write_jpeg(const std::string& path, const engine::Tensor& rgb, int quality = 92);

// The image blended with the VOC colours of `ids` (u8 [H, W]; 255 left unblended), alpha in
// [0, 1] the weight of the label colour. Returns u8 [H, W, 3].
engine::Tensor overlay(const engine::Tensor& rgb, const engine::Tensor& ids, float alpha = 0.5f);

}  // namespace data
