#include "spml/random_walk.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif
#include "engine/ops/resize.h"

namespace spml {

using engine::Tensor;

namespace {

constexpr int64_t kParallelMin = 1 << 14;

std::string describe(const Tensor& t) {
  return t.defined() ? t.desc() : "undefined";
}

// f32 [h, w, D] -> contiguous f32 [N, D] with unit rows (zero rows stay zero).
Tensor normalized_rows(const Tensor& view, int64_t n, int64_t d) {
  Tensor e = view.contiguous().clone().view({n, d});
  float* p = e.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    float* r = p + i * d;
    double ss = 0.0;
    for (int64_t k = 0; k < d; ++k) ss += double(r[k]) * r[k];
    if (ss <= 0.0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int64_t k = 0; k < d; ++k) r[k] *= inv;
  }
  return e;
}

#if ENGINE_WITH_CUDA
// Strict FP32 GEMMs for the walk's lifetime, whatever the process-wide flag: TF32's ~1e-3 error in
// the cosines becomes ~10% in the affinities once exp(beta·power·(cos − 1)) has magnified it, and
// 64 TF32 propagation products would add more. The flag is process-wide, so this assumes no other
// thread plans GEMMs meanwhile (true of the stage-2 apps).
class StrictFp32 {
 public:
  StrictFp32() : saved_(engine::cuda::math_flags()) {
    engine::cuda::MathFlags f = saved_;
    f.allow_tf32 = false;
    engine::cuda::set_math_flags(f);
  }
  ~StrictFp32() { engine::cuda::set_math_flags(saved_); }
  StrictFp32(const StrictFp32&) = delete;
  StrictFp32& operator=(const StrictFp32&) = delete;

 private:
  engine::cuda::MathFlags saved_;
};
#endif

// The walk's matrix from views on a CUDA device: the CPU path's arithmetic as engine ops there
// (cuBLAS GEMM for the cosines, element-wise kernels; the column sums accumulate in f64 as on the
// CPU). Each step replaces the previous temporary, so at most three N×N buffers live at once.
Tensor device_transition(const std::vector<Tensor>& views, const RandomWalkConfig& config,
                         int64_t n, int64_t d) {
  Tensor a;
  const double inv_views = 1.0 / double(views.size());
  for (const Tensor& v : views) {
    Tensor e = v.contiguous().reshape({n, d});
    const Tensor norm = engine::sqrt(engine::sum(e * e, {1}, true));
    // A zero row stays zero, as in normalized_rows.
    e = e / engine::maximum(norm, engine::scalar_like(1e-30, norm));
    Tensor t = engine::matmul(e, e.transpose(0, 1));
    t = t - 1.0;
    t = engine::mul(t, config.beta);
    t = engine::exp(t);
    t = engine::mul(t, inv_views);
    a = a.defined() ? a + t : t;
  }
  a = engine::pow(a, double(config.power));
  const Tensor colsum = engine::sum(a, {0}, true);
  const Tensor inv = engine::where(engine::gt(colsum, 0.0), engine::div(1.0, colsum),
                                   engine::scalar_like(0.0, colsum));
  return a * inv;
}

}  // namespace

Tensor random_walk_transition(const std::vector<Tensor>& views, const RandomWalkConfig& config) {
  ENGINE_CHECK(!views.empty(), "random_walk_transition: no embedding views");
  ENGINE_CHECK(config.power >= 1 && config.squarings >= 0 && config.squarings <= 16 &&
                   std::isfinite(config.beta),
               "random_walk_transition: bad config (beta {}, power {}, squarings {})", config.beta,
               config.power, config.squarings);
  const Tensor& v0 = views[0];
  ENGINE_CHECK(v0.defined() && v0.dim() == 3 && v0.dtype() == engine::DType::f32,
               "random_walk_transition: view 0 must be f32 [h, w, D], got {}", describe(v0));
  const int64_t h = v0.shape()[0], w = v0.shape()[1], d = v0.shape()[2], n = h * w;
  ENGINE_CHECK(n >= 1 && d >= 1, "random_walk_transition: empty view {}", v0.desc());
  ENGINE_CHECK(n <= kRandomWalkMaxPixels,
               "random_walk_transition: {}x{} = {} pixels exceeds the dense-walk limit {}; "
               "resize the embedding to 1/8 of the image first",
               h, w, n, kRandomWalkMaxPixels);
  engine::autograd::NoGradGuard no_grad;
  for (size_t vi = 1; vi < views.size(); ++vi) {
    const Tensor& v = views[vi];
    ENGINE_CHECK(v.defined() && v.dtype() == engine::DType::f32 && v.shape() == v0.shape() &&
                     v.device() == v0.device(),
                 "random_walk_transition: view {} must be f32 {} on {} like view 0, got {}", vi,
                 v0.desc(), v0.device().str(), describe(v));
  }
#if ENGINE_WITH_CUDA
  if (v0.device().is_cuda()) {
    StrictFp32 strict;
    return device_transition(views, config, n, d);
  }
#endif
  Tensor a = Tensor::empty({n, n});
  float* ap = a.data<float>();
  const float inv_views = 1.0f / static_cast<float>(views.size());
  for (size_t vi = 0; vi < views.size(); ++vi) {
    const Tensor& v = views[vi];
    Tensor e = normalized_rows(v, n, d);
    Tensor g = engine::matmul(e, e.transpose(0, 1));  // cosines [N, N]
    const float* gp = g.data<float>();
    const float beta = config.beta;
    const bool first = vi == 0;
#pragma omp parallel for if (n * n > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n * n; ++i) {
      const float aff = std::exp(beta * (gp[i] - 1.0f)) * inv_views;
      ap[i] = first ? aff : ap[i] + aff;
    }
  }
  // exp(100·(cos − 1)) for a single view: only near-identical embeddings keep any weight.
  const float power = static_cast<float>(config.power);
  std::vector<double> colsum(static_cast<size_t>(n), 0.0);
#pragma omp parallel for if (n * n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n * n; ++i) ap[i] = std::pow(ap[i], power);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = ap + i * n;
    for (int64_t j = 0; j < n; ++j) colsum[static_cast<size_t>(j)] += row[j];
  }
  std::vector<float> inv(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    const double s = colsum[static_cast<size_t>(j)];
    inv[static_cast<size_t>(j)] = s > 0.0 ? static_cast<float>(1.0 / s) : 0.0f;
  }
#pragma omp parallel for if (n * n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float* row = ap + i * n;
    for (int64_t j = 0; j < n; ++j) row[j] *= inv[static_cast<size_t>(j)];
  }
  return a;
}

Tensor random_walk(const std::vector<Tensor>& views, const Tensor& scores,
                   const RandomWalkConfig& config) {
  ENGINE_CHECK(!views.empty() && views[0].defined() && views[0].dim() == 3,
               "random_walk: need at least one f32 [h, w, D] view, got {}",
               views.empty() ? std::string("none") : describe(views[0]));
  const int64_t h = views[0].shape()[0], w = views[0].shape()[1];
  ENGINE_CHECK(scores.defined() && scores.dim() == 3 && scores.dtype() == engine::DType::f32 &&
                   scores.shape()[0] == h && scores.shape()[1] == w &&
                   scores.device() == views[0].device(),
               "random_walk: scores must be f32 [{}, {}, C] on the embedding's device ({}), got {}",
               h, w, views[0].device().str(), describe(scores));
  const int64_t c = scores.shape()[2];
  ENGINE_CHECK(c >= 1, "random_walk: scores have no classes: {}", scores.desc());
  engine::autograd::NoGradGuard no_grad;
  Tensor t = random_walk_transition(views, config);
  // out[j] = Σ_i T_ij s[i]  <=>  S ← Tᵀ S.
  Tensor tt = t.transpose(0, 1);
  Tensor s = scores.contiguous().reshape({h * w, c});
  const int steps = 1 << config.squarings;
#if ENGINE_WITH_CUDA
  std::optional<StrictFp32> strict;
  if (s.device().is_cuda()) strict.emplace();
#endif
  for (int k = 0; k < steps; ++k) s = engine::matmul(tt, s);
  return s.reshape({h, w, c});
}

Tensor normalize_seed_scores(const Tensor& probs, const std::vector<bool>& present) {
  ENGINE_CHECK(probs.defined() && probs.dim() == 3 && probs.dtype() == engine::DType::f32 &&
                   probs.device() == engine::Device::cpu(),
               "normalize_seed_scores: probs must be CPU f32 [h, w, C], got {}", describe(probs));
  const int64_t c = probs.shape()[2], n = probs.shape()[0] * probs.shape()[1];
  ENGINE_CHECK(static_cast<int64_t>(present.size()) == c,
               "normalize_seed_scores: present has {} entries for {} classes", present.size(), c);
  Tensor out = probs.contiguous().clone();
  float* p = out.data<float>();
  std::vector<float> mx(static_cast<size_t>(c), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < c; ++l) mx[l] = std::max(mx[l], p[i * c + l]);
  std::vector<float> scale(static_cast<size_t>(c));
  for (int64_t l = 0; l < c; ++l) scale[l] = (present[l] && mx[l] > 0.0f) ? 1.0f / mx[l] : 0.0f;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < c; ++l) p[i * c + l] *= scale[l];
  return out;
}

Tensor cam_seed_scores(const Tensor& cams, float alpha) {
  ENGINE_CHECK(cams.defined() && cams.dim() == 3 && cams.dtype() == engine::DType::f32 &&
                   cams.device() == engine::Device::cpu(),
               "cam_seed_scores: cams must be CPU f32 [h, w, C-1], got {}", describe(cams));
  const int64_t h = cams.shape()[0], w = cams.shape()[1], f = cams.shape()[2];
  Tensor src = cams.contiguous();
  const float* cp = src.data<float>();
  Tensor out = Tensor::empty({h, w, f + 1});
  float* o = out.data<float>();
  for (int64_t i = 0; i < h * w; ++i) {
    float mx = 0.0f;
    for (int64_t l = 0; l < f; ++l) {
      mx = std::max(mx, cp[i * f + l]);
      o[i * (f + 1) + l + 1] = cp[i * f + l];
    }
    o[i * (f + 1)] = std::pow(std::max(1.0f - mx, 0.0f), alpha);
  }
  return out;
}

Tensor random_walk_scores(const std::vector<Tensor>& views, const Tensor& scores, int64_t out_h,
                          int64_t out_w, const RandomWalkConfig& config) {
  ENGINE_CHECK(out_h >= 1 && out_w >= 1, "random_walk_scores: bad output size {}x{}", out_h, out_w);
  Tensor s = random_walk(views, scores, config);
  engine::autograd::NoGradGuard no_grad;
  return engine::resize_bilinear(s.unsqueeze(0), out_h, out_w, false).squeeze(0).contiguous();
}

}  // namespace spml
