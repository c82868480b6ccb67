#include "apps/common/dense_views.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "data/transforms.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/join.h"
#include "engine/ops/normalize.h"
#include "engine/ops/resize.h"

namespace apps {

using engine::Tensor;

namespace {

// Window start positions along one axis of `padded` pixels (spec §7: ends at
// linspace(window, padded, ceil((padded − window) / window) + 1)).
std::vector<int64_t> window_starts(int64_t padded, int64_t window) {
  if (padded <= window) return {0};
  const int64_t n = (padded - window + window - 1) / window + 1;
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < n; ++i) {
    const double end = double(window) + double(padded - window) * double(i) / double(n - 1);
    starts.push_back(int64_t(std::llround(end)) - window);
  }
  return starts;
}

// Where the model's parameters are (the CPU for a model without any).
engine::Device device_of(const models::EmbeddingModel& model) {
  const std::vector<Tensor> params = model.parameters();
  return params.empty() ? engine::Device::cpu() : params.front().device();
}

// Runs `net` (normalized image [1, h, w, 3] on `device` -> per-pixel output [1, h, w, K] at the
// input size) over the view and returns [sH, sW, K] on the CPU, aligned with the scaled image.
Tensor run_view(const Tensor& rgb, const View& view, int64_t window, engine::Device device,
                const std::function<Tensor(const Tensor&)>& net) {
  ENGINE_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.dtype() == engine::DType::u8,
               "dense view: expected an RGB image u8 [H, W, 3], got {}", rgb.desc());
  ENGINE_CHECK(view.scale > 0 && std::isfinite(view.scale), "dense view: scale {} must be > 0",
               view.scale);
  engine::autograd::NoGradGuard no_grad;
  const int64_t h = rgb.size(0), w = rgb.size(1);
  const int64_t sh = std::max<int64_t>(1, std::llround(view.scale * double(h)));
  const int64_t sw = std::max<int64_t>(1, std::llround(view.scale * double(w)));
  Tensor x = data::normalize_images(rgb.unsqueeze(0));
  if (sh != h || sw != w) x = engine::resize_bilinear(x, sh, sw, false);
  if (view.flip) x = flip_width(x.select(0, 0)).unsqueeze(0);
  if (window <= 0) {
    Tensor y = net(x.to(device)).to(engine::Device::cpu()).select(0, 0);
    return view.flip ? flip_width(y) : y.contiguous();
  }
  const int64_t ph = std::max(sh, window), pw = std::max(sw, window);
  if (ph != sh || pw != sw) x = engine::pad(x, {{0, 0}, {0, ph - sh}, {0, pw - sw}, {0, 0}}, 0.0);
  Tensor sum, count = engine::zeros({ph, pw, 1}, engine::DType::f32);
  for (int64_t y0 : window_starts(ph, window)) {
    for (int64_t x0 : window_starts(pw, window)) {
      Tensor crop = x.narrow(1, y0, window).narrow(2, x0, window).contiguous();
      Tensor out = net(crop.to(device)).to(engine::Device::cpu()).select(0, 0);
      if (!sum.defined()) sum = engine::zeros({ph, pw, out.size(2)}, engine::DType::f32);
      Tensor dst = sum.narrow(0, y0, window).narrow(1, x0, window);
      Tensor cnt = count.narrow(0, y0, window).narrow(1, x0, window);
      const int64_t k = out.size(2);
      const float* src = out.contiguous().data<float>();
      for (int64_t i = 0; i < window; ++i) {
        float* drow = dst.data<float>() + i * dst.stride(0);
        float* crow = cnt.data<float>() + i * cnt.stride(0);
        const float* srow = src + i * window * k;
        for (int64_t j = 0; j < window; ++j) {
          for (int64_t c = 0; c < k; ++c) drow[j * k + c] += srow[j * k + c];
          crow[j] += 1.0f;
        }
      }
    }
  }
  Tensor avg = (sum / count).narrow(0, 0, sh).narrow(1, 0, sw);
  return view.flip ? flip_width(avg) : avg.contiguous();
}

// Embedding upsampled to the input's size and re-normalized: [1, h, w, 3] -> [1, h, w, D].
Tensor embed_as_input(models::EmbeddingModel& model, const Tensor& x) {
  Tensor e = model.forward(x).embedding;
  if (e.size(1) != x.size(1) || e.size(2) != x.size(2))
    e = engine::resize_bilinear(e, x.size(1), x.size(2), false);
  return engine::l2_normalize(e, -1);
}

}  // namespace

Tensor flip_width(const Tensor& hwc) {
  ENGINE_CHECK(hwc.dim() == 3, "flip_width: expected [H, W, C], got {}", hwc.desc());
  Tensor src = hwc.contiguous();
  Tensor out = Tensor::empty(src.shape(), src.dtype());
  const int64_t h = src.size(0), w = src.size(1);
  const size_t px = size_t(src.size(2)) * engine::dtype_size(src.dtype());
  const auto* s = static_cast<const unsigned char*>(src.raw_data());
  auto* d = static_cast<unsigned char*>(out.raw_data());
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j)
      std::memcpy(d + (i * w + j) * px, s + (i * w + (w - 1 - j)) * px, px);
  return out;
}

Tensor embed_view(models::EmbeddingModel& model, const Tensor& rgb, const View& view,
                  int64_t window) {
  Tensor e = run_view(rgb, view, window, device_of(model),
                      [&](const Tensor& x) { return embed_as_input(model, x); });
  // Averaging overlapping windows shortens vectors; bring them back to the sphere.
  return window > 0 ? engine::l2_normalize(e, -1) : e;
}

Tensor logits_view(models::EmbeddingModel& model, models::SoftmaxClassifier& classifier,
                   const Tensor& rgb, const View& view, int64_t window) {
  return run_view(rgb, view, window, device_of(model),
                  [&](const Tensor& x) { return classifier.forward(embed_as_input(model, x)); });
}

}  // namespace apps
