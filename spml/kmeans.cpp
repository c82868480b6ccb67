#include "spml/kmeans.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/index.h"
#include "engine/ops/linalg.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"

namespace spml {

using engine::Tensor;

namespace {

// round(linspace(0, k-1, n)[i]), rounding halves to even as torch.round does.
int grid_coordinate(int64_t i, int64_t n, int k) {
  if (n <= 1) return 0;
  double v = static_cast<double>(i) * (k - 1) / static_cast<double>(n - 1);
  return static_cast<int>(std::nearbyint(v));
}

void check_inputs(const Tensor& features, const Tensor& valid, const KMeansConfig& config) {
  ENGINE_CHECK(features.defined() && features.dim() == 4,
               "spherical_kmeans: features must be [N, h, w, F], got {}",
               features.defined() ? features.desc() : "undefined");
  ENGINE_CHECK(config.grid >= 1 && config.iterations >= 0,
               "spherical_kmeans: grid must be >= 1 and iterations >= 0, got grid {} and {} "
               "iterations",
               config.grid, config.iterations);
  if (!valid.defined()) return;
  const engine::Shape& s = features.shape();
  ENGINE_CHECK(valid.dtype() == engine::DType::u8 && valid.dim() == 3 && valid.shape()[0] == s[0] &&
                   valid.shape()[1] == s[1] && valid.shape()[2] == s[2],
               "spherical_kmeans: valid must be u8 [{}, {}, {}] to match features {}, got {}", s[0],
               s[1], s[2], features.desc(), valid.desc());
}

}  // namespace

Tensor kmeans_grid(int64_t h, int64_t w, int grid) {
  ENGINE_CHECK(h > 0 && w > 0 && grid >= 1, "kmeans_grid: bad size {}x{} or grid {}", h, w, grid);
  std::vector<int32_t> ids(static_cast<size_t>(h * w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      ids[static_cast<size_t>(y * w + x)] =
          grid_coordinate(y, h, grid) + grid * grid_coordinate(x, w, grid);
  return Tensor::from_vector(ids, {h, w});
}

Tensor spherical_kmeans(const Tensor& features, const Tensor& valid, const KMeansConfig& config) {
  check_inputs(features, valid, config);
  engine::autograd::NoGradGuard no_grad;
  const int64_t n = features.shape()[0], h = features.shape()[1], w = features.shape()[2];
  const int64_t f = features.shape()[3], k = int64_t{config.grid} * config.grid;
  engine::Device device = features.device();

  // Padding pixels get zero vectors: they then add nothing to any prototype, whatever cluster the
  // E-step gives them, and the result marks them -1.
  Tensor x = features.detach().to(engine::DType::f32).reshape({n, h * w, f});
  if (valid.defined()) x = x * valid.to(device).to(engine::DType::f32).reshape({n, h * w, 1});

  Tensor assign = kmeans_grid(h, w, config.grid)
                      .to(engine::DType::i64)
                      .reshape({1, h * w})
                      .expand({n, h * w})
                      .contiguous()
                      .to(device);
  for (int it = 0; it < config.iterations; ++it) {
    Tensor members = engine::one_hot(assign, k, engine::DType::f32);  // [n, hw, k]
    Tensor sums = engine::matmul(members.transpose(1, 2), x);         // [n, k, f]
    Tensor prototypes = engine::l2_normalize(sums, 2);                // empty -> 0
    Tensor scores = engine::matmul(x, prototypes.transpose(1, 2));    // [n, hw, k]
    assign = engine::argmax(scores, 2);
  }

  Tensor ids = assign.to(engine::Device::cpu()).to(engine::DType::i32).reshape({n, h, w});
  if (valid.defined()) {
    Tensor v = valid.to(engine::Device::cpu()).contiguous();
    const uint8_t* vp = v.data<uint8_t>();
    int32_t* ip = ids.data<int32_t>();
    for (int64_t i = 0; i < ids.numel(); ++i)
      if (!vp[i]) ip[i] = -1;
  }
  return ids;
}

}  // namespace spml
