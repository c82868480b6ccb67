#include "spml/crf.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "spml/permutohedral.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/memory.h"
#include "engine/kernels/runtime.h"
#include "spml/crf_kernels.h"
#endif

namespace spml {

using engine::Tensor;

namespace {

constexpr int64_t kParallelMin = 1 << 14;

// One pairwise term: the lattice over its features and the symmetric normalization 1/sqrt(K1).
struct PairwiseKernel {
  PermutohedralLattice lattice;
  std::vector<float> norm;
  float weight;

  PairwiseKernel(const std::vector<float>& features, int64_t n, int d, float w)
      : lattice(features.data(), n, d), norm(static_cast<size_t>(n)), weight(w) {
    std::vector<float> ones(static_cast<size_t>(n), 1.0f);
    lattice.filter(ones.data(), norm.data(), 1);
    for (float& v : norm) v = 1.0f / std::sqrt(v + 1e-20f);
  }

  // out += weight · D^-1/2 K D^-1/2 q, with scratch buffers of N·C floats.
  void add_message(const float* q, int64_t c, std::vector<float>& tmp_in,
                   std::vector<float>& tmp_out, float* out) const {
    const int64_t n = lattice.num_points();
#pragma omp parallel for if (n * c > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t l = 0; l < c; ++l) tmp_in[i * c + l] = q[i * c + l] * norm[i];
    lattice.filter(tmp_in.data(), tmp_out.data(), static_cast<int>(c));
#pragma omp parallel for if (n * c > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float s = weight * norm[i];
      for (int64_t l = 0; l < c; ++l) out[i * c + l] += s * tmp_out[i * c + l];
    }
  }
};

// q_i = softmax over classes of x_i, per pixel.
void softmax_rows(const float* x, float* q, int64_t n, int64_t c) {
#pragma omp parallel for if (n * c > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * c;
    float* qi = q + i * c;
    float mx = xi[0];
    for (int64_t l = 1; l < c; ++l) mx = std::max(mx, xi[l]);
    float sum = 0.0f;
    for (int64_t l = 0; l < c; ++l) {
      qi[l] = std::exp(xi[l] - mx);
      sum += qi[l];
    }
    const float inv = 1.0f / sum;
    for (int64_t l = 0; l < c; ++l) qi[l] *= inv;
  }
}

// Smoothness features (x/sxy, y/sxy) per pixel, row-major [H·W, 2].
std::vector<float> gaussian_features(int64_t h, int64_t w, float sxy) {
  std::vector<float> f(static_cast<size_t>(h * w * 2));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      f[static_cast<size_t>((y * w + x) * 2)] = static_cast<float>(x) / sxy;
      f[static_cast<size_t>((y * w + x) * 2 + 1)] = static_cast<float>(y) / sxy;
    }
  return f;
}

// Appearance features (x/sxy, y/sxy, r/srgb, g/srgb, b/srgb) per pixel, row-major [H·W, 5].
std::vector<float> bilateral_features(const uint8_t* ip, int64_t h, int64_t w, float sxy,
                                      float srgb) {
  std::vector<float> f(static_cast<size_t>(h * w * 5));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      float* fi = &f[static_cast<size_t>((y * w + x) * 5)];
      const uint8_t* rgb = ip + (y * w + x) * 3;
      fi[0] = static_cast<float>(x) / sxy;
      fi[1] = static_cast<float>(y) / sxy;
      for (int k = 0; k < 3; ++k) fi[2 + k] = static_cast<float>(rgb[k]) / srgb;
    }
  return f;
}

#if ENGINE_WITH_CUDA
// A lattice's structure in device memory; the tensors own it for the duration of the call.
struct DeviceLattice {
  std::vector<Tensor> buffers;
  cuda::CrfLatticeArgs args;
};

template <typename T>
const T* upload(const std::vector<T>& v, engine::DType dtype, engine::Device device,
                std::vector<Tensor>& keep) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dtype, device);
  if (!v.empty())
    engine::cuda::copy_h2d(t.raw_data(), v.data(), v.size() * sizeof(T), device.index);
  keep.push_back(t);
  return static_cast<const T*>(t.raw_data());
}

DeviceLattice lattice_to_device(const PermutohedralLattice& lat, float weight,
                                engine::Device device) {
  DeviceLattice d;
  d.args.points = lat.num_points();
  d.args.vertices = lat.num_vertices();
  d.args.dim = lat.dim();
  d.args.weight = weight;
  d.args.splat_vertex = upload(lat.splat_vertex(), engine::DType::i32, device, d.buffers);
  d.args.splat_weight = upload(lat.splat_weight(), engine::DType::f32, device, d.buffers);
  d.args.gather_offset = upload(lat.gather_offset(), engine::DType::i64, device, d.buffers);
  d.args.gather_slot = upload(lat.gather_slot(), engine::DType::i32, device, d.buffers);
  d.args.blur_neighbor = upload(lat.blur_neighbor(), engine::DType::i32, device, d.buffers);
  return d;
}

// The CUDA path: lattices built on the host (they depend only on the features), mean field on
// probs' device.
Tensor dense_crf_cuda(const Tensor& probs, const uint8_t* ip, const CrfConfig& config) {
  const engine::Device device = probs.device();
  engine::cuda::DeviceGuard guard(device.index);
  const int64_t h = probs.shape()[0], w = probs.shape()[1], c = probs.shape()[2], n = h * w;
  const Tensor p = probs.contiguous();
  std::vector<DeviceLattice> lattices;
  if (config.iterations > 0) {
    if (config.gaussian_weight != 0.0f) {
      const PermutohedralLattice lat(gaussian_features(h, w, config.gaussian_sxy).data(), n, 2);
      lattices.push_back(lattice_to_device(lat, config.gaussian_weight, device));
    }
    if (config.bilateral_weight != 0.0f) {
      const PermutohedralLattice lat(
          bilateral_features(ip, h, w, config.bilateral_sxy, config.bilateral_srgb).data(), n, 5);
      lattices.push_back(lattice_to_device(lat, config.bilateral_weight, device));
    }
  }
  std::vector<cuda::CrfLatticeArgs> args;
  for (const DeviceLattice& l : lattices) args.push_back(l.args);
  Tensor out = Tensor::empty({h, w, c}, engine::DType::f32, device);
  cuda::dense_crf_mean_field(p.data<float>(), n, c, config.prob_clip, args.data(),
                             static_cast<int>(args.size()), config.iterations, out.data<float>());
  return out;
}
#endif

}  // namespace

Tensor dense_crf(const Tensor& probs, const Tensor& image, const CrfConfig& config) {
  ENGINE_CHECK(probs.defined() && probs.dim() == 3 && probs.dtype() == engine::DType::f32,
               "dense_crf: probs must be f32 [H, W, C], got {}",
               probs.defined() ? probs.desc() : "undefined");
  const int64_t h = probs.shape()[0], w = probs.shape()[1], c = probs.shape()[2];
  ENGINE_CHECK(image.defined() && image.dim() == 3 && image.dtype() == engine::DType::u8 &&
                   image.shape()[0] == h && image.shape()[1] == w && image.shape()[2] == 3,
               "dense_crf: image must be u8 [{}, {}, 3] to match probs {}, got {}", h, w,
               probs.desc(), image.defined() ? image.desc() : "undefined");
  ENGINE_CHECK(c >= 1 && h >= 1 && w >= 1, "dense_crf: empty probs {}", probs.desc());
  ENGINE_CHECK(config.iterations >= 0 && config.gaussian_sxy > 0 && config.bilateral_sxy > 0 &&
                   config.bilateral_srgb > 0 && config.prob_clip > 0 && config.prob_clip <= 1,
               "dense_crf: bad config (iterations {}, gaussian sxy {}, bilateral sxy {} srgb {}, "
               "prob_clip {}); need iterations >= 0, positive stds and prob_clip in (0, 1]",
               config.iterations, config.gaussian_sxy, config.bilateral_sxy, config.bilateral_srgb,
               config.prob_clip);
  if (probs.device().is_cuda()) {
#if ENGINE_WITH_CUDA
    // The lattices are built on the host, so the image is needed there.
    const Tensor host_img = image.to(engine::Device::cpu()).contiguous();
    return dense_crf_cuda(probs, host_img.data<uint8_t>(), config);
#else
    ENGINE_THROW("dense_crf: probs {} is on {}; this build has no CUDA backend", probs.desc(),
                 probs.device().str());
#endif
  }
  ENGINE_CHECK(image.device() == engine::Device::cpu(),
               "dense_crf: CPU probs need a CPU image (probs {}, image {})", probs.desc(),
               image.desc());
  const Tensor p = probs.contiguous();
  const Tensor img = image.contiguous();
  const float* pp = p.data<float>();
  const uint8_t* ip = img.data<uint8_t>();
  const int64_t n = h * w;

  std::vector<float> neg_unary(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n * c; ++i) {
    // NaN probabilities (bad input) become the clip value rather than poisoning the softmax.
    const float v = std::isnan(pp[i]) ? config.prob_clip : pp[i];
    neg_unary[static_cast<size_t>(i)] = std::log(std::clamp(v, config.prob_clip, 1.0f));
  }

  Tensor out = Tensor::empty({h, w, c});
  float* q = out.data<float>();
  softmax_rows(neg_unary.data(), q, n, c);
  if (config.iterations == 0) return out;

  std::vector<PairwiseKernel> kernels;
  kernels.reserve(2);
  if (config.gaussian_weight != 0.0f)
    kernels.emplace_back(gaussian_features(h, w, config.gaussian_sxy), n, 2,
                         config.gaussian_weight);
  if (config.bilateral_weight != 0.0f)
    kernels.emplace_back(bilateral_features(ip, h, w, config.bilateral_sxy, config.bilateral_srgb),
                         n, 5, config.bilateral_weight);
  if (kernels.empty()) return out;

  std::vector<float> logits(static_cast<size_t>(n * c)), tmp_in(static_cast<size_t>(n * c)),
      tmp_out(static_cast<size_t>(n * c));
  for (int it = 0; it < config.iterations; ++it) {
    std::copy(neg_unary.begin(), neg_unary.end(), logits.begin());
    // Potts as a reward for agreeing labels: equal to the penalty form up to a per-pixel
    // constant, which the softmax removes.
    for (const PairwiseKernel& k : kernels) k.add_message(q, c, tmp_in, tmp_out, logits.data());
    softmax_rows(logits.data(), q, n, c);
  }
  return out;
}

Tensor argmax_labels(const Tensor& probs) {
  ENGINE_CHECK(probs.defined() && probs.dim() == 3 && probs.dtype() == engine::DType::f32 &&
                   probs.device() == engine::Device::cpu(),
               "argmax_labels: probs must be CPU f32 [H, W, C], got {}",
               probs.defined() ? probs.desc() : "undefined");
  const Tensor p = probs.contiguous();
  const int64_t h = p.shape()[0], w = p.shape()[1], c = p.shape()[2];
  ENGINE_CHECK(c >= 1, "argmax_labels: no classes in {}", p.desc());
  Tensor out = Tensor::empty({h, w}, engine::DType::i32);
  const float* pp = p.data<float>();
  int32_t* o = out.data<int32_t>();
  for (int64_t i = 0; i < h * w; ++i) {
    const float* row = pp + i * c;
    int32_t best = 0;
    for (int64_t l = 1; l < c; ++l)
      if (row[l] > row[best]) best = static_cast<int32_t>(l);
    o[i] = best;
  }
  return out;
}

}  // namespace spml
