#include "apps/common/overlay.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <vector>

#include "data/image_io.h"
#include "engine/error.h"

namespace apps {

using engine::DType;
using engine::Tensor;

Tensor overlay(const Tensor& rgb, const Tensor& labels, float alpha, IgnoreStyle ignore) {
  ENGINE_CHECK(std::isfinite(alpha) && alpha >= 0.f && alpha <= 1.f,
               "overlay: alpha {} is outside [0, 1]", alpha);
  ENGINE_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.dtype() == DType::u8,
               "overlay: expected an image u8 [H, W, 3], got {}", rgb.desc());
  ENGINE_CHECK(labels.dim() == 2 && labels.dtype() == DType::u8,
               "overlay: expected labels u8 [H, W], got {}", labels.desc());
  ENGINE_CHECK(labels.size(0) == rgb.size(0) && labels.size(1) == rgb.size(1),
               "overlay: the image {} and the labels {} differ in size", rgb.desc(), labels.desc());
  Tensor im = rgb.contiguous(), lb = labels.contiguous();
  Tensor out = Tensor::empty(im.shape(), DType::u8);
  // Per label, the blend of each possible image value: no float math per pixel.
  std::vector<std::array<std::array<uint8_t, 256>, 3>> table(256);
  for (int id = 0; id < 256; ++id) {
    const bool keep = id == 255 && ignore == IgnoreStyle::image;
    const std::array<uint8_t, 3> c =
        id == 255 ? std::array<uint8_t, 3>{255, 255, 255} : data::voc_color(id);
    for (int ch = 0; ch < 3; ++ch)
      for (int v = 0; v < 256; ++v)
        table[size_t(id)][size_t(ch)][size_t(v)] =
            keep ? uint8_t(v)
                 : uint8_t(std::lround(double(v) * (1.0 - alpha) + double(c[size_t(ch)]) * alpha));
  }
  const uint8_t* s = im.data<uint8_t>();
  const uint8_t* l = lb.data<uint8_t>();
  uint8_t* d = out.data<uint8_t>();
  const int64_t n = lb.numel();
  for (int64_t p = 0; p < n; ++p) {
    const auto& t = table[l[p]];
    for (int ch = 0; ch < 3; ++ch) d[3 * p + ch] = t[size_t(ch)][s[3 * p + ch]];
  }
  return out;
}

void write_overlay(const std::string& path, const Tensor& rgb, const Tensor& labels, float alpha,
                   IgnoreStyle ignore) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  ENGINE_CHECK(ext == ".png" || ext == ".jpg" || ext == ".jpeg",
               "overlay '{}': expected a .png, .jpg or .jpeg file name", path);
  Tensor o = overlay(rgb, labels, alpha, ignore);
  if (ext == ".png")
    data::write_png(path, o);
  else
    data::write_jpeg(path, o, 92);
}

}  // namespace apps
