// Prediction overlays: the image blended with the Pascal VOC colours of a label map, for a quick
// look at predictions (apps/predict --overlays) and reports.
#pragma once

#include <string>

#include "engine/tensor.h"

namespace apps {

// How pixels labelled 255 ("no label": knn clusters that got no vote, ignored GT) are drawn.
enum class IgnoreStyle {
  image,  // the image pixel, unblended (the default: nothing is claimed there)
  white,  // blended with white (255, 255, 255) like a class colour, to make the holes visible
};

// rgb u8 [H, W, 3], labels u8 [H, W] -> u8 [H, W, 3]: each pixel is
// round((1 − alpha)·rgb + alpha·colour(label)) per channel with data::voc_color (label 255 as
// `ignore` says). alpha in [0, 1]: 0 gives the image, 1 the colour map. Errors name the
// mismatched shapes.
engine::Tensor overlay(const engine::Tensor& rgb, const engine::Tensor& labels, float alpha = 0.5f,
                       IgnoreStyle ignore = IgnoreStyle::image);

// Writes overlay(...) to `path`: JPEG for .jpg/.jpeg (quality 92), PNG for .png; other extensions
// are an error naming the path.
void write_overlay(const std::string& path, const engine::Tensor& rgb, const engine::Tensor& labels,
                   float alpha = 0.5f, IgnoreStyle ignore = IgnoreStyle::image);

}  // namespace apps
