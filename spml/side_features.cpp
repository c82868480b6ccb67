#include "spml/side_features.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/join.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"
#include "engine/ops/resize.h"

namespace spml {

using engine::Tensor;

namespace {

float linspace_centered(int64_t i, int64_t size) {
  return size > 1 ? static_cast<float>(i) / static_cast<float>(size - 1) - 0.5f : 0.0f;
}

// The reference's "Gaussian": weights grow with the distance from the centre (the centre gets
// 0), normalized to sum 1. Depthwise: [3, 5, 5, 1].
Tensor distance_smoothing_kernel() {
  std::vector<float> k(25);
  double total = 0;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) total += k[y * 5 + x] = std::hypot(y - 2.0f, x - 2.0f);
  for (float& v : k) v = static_cast<float>(v / total);
  std::vector<float> w;
  for (int c = 0; c < 3; ++c) w.insert(w.end(), k.begin(), k.end());
  return Tensor::from_vector(w, {3, 5, 5, 1});
}

}  // namespace

Tensor location_features(int64_t n, int64_t h, int64_t w, engine::Device device) {
  ENGINE_CHECK(n >= 0 && h > 0 && w > 0, "location_features: bad size n={} h={} w={}", n, h, w);
  std::vector<float> v(static_cast<size_t>(n * h * w * 2));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        size_t i = static_cast<size_t>(((b * h + y) * w + x) * 2);
        v[i] = linspace_centered(y, h);
        v[i + 1] = linspace_centered(x, w);
      }
  return Tensor::from_vector(v, {n, h, w, 2}).to(device);
}

Tensor color_features(const Tensor& images, int64_t h, int64_t w) {
  ENGINE_CHECK(images.dim() == 4 && images.shape()[3] == 3 && images.shape()[1] >= 5 &&
                   images.shape()[2] >= 5,
               "color_features: images must be [N, H, W, 3] with H, W >= 5, got {}", images.desc());
  engine::autograd::NoGradGuard no_grad;
  engine::Conv2dParams params;
  params.groups = 3;
  Tensor kernel = distance_smoothing_kernel().to(images.dtype()).to(images.device());
  Tensor smooth = engine::conv2d(images.detach(), kernel, Tensor(), params);
  Tensor resized = engine::resize_bilinear(smooth, h, w, /*align_corners=*/false);
  Tensor centered = resized - engine::mean(resized, {1, 2}, /*keepdim=*/true);
  Tensor scale = engine::amax(engine::abs(centered), {1, 2}, /*keepdim=*/true);
  // A flat channel has scale 0: leave it at 0 rather than dividing by zero.
  return centered / engine::maximum(scale, engine::full_like(scale, 1e-12));
}

Tensor with_side_features(const Tensor& embedding, const Tensor& side) {
  ENGINE_CHECK(embedding.dim() == 4 && side.dim() == 4,
               "with_side_features: expected [N, h, w, D] "
               "and [N, h, w, S], got {} and {}",
               embedding.desc(), side.desc());
  for (int d = 0; d < 3; ++d)
    ENGINE_CHECK(embedding.shape()[d] == side.shape()[d],
                 "with_side_features: embedding {} and side features {} differ in N, h or w",
                 embedding.desc(), side.desc());
  return engine::l2_normalize(engine::concat({embedding, side.to(embedding.dtype())}, 3), 3);
}

}  // namespace spml
