#include "apps/common/predict_modes.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/ops/factory.h"
#include "engine/ops/resize.h"
#include "spml/side_features.h"

namespace apps {

using engine::DType;
using engine::Tensor;

namespace {

int64_t resolve_window(const Stage1& net, const PredictOptions& o) {
  return o.window < 0 ? net.config.crop : o.window;
}

void check_rgb(const Tensor& rgb) {
  ENGINE_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.dtype() == DType::u8 && rgb.size(0) >= 1 &&
                   rgb.size(1) >= 1,
               "predict: expected an RGB image u8 [H, W, 3], got {}", rgb.desc());
}

void check_net(const Stage1& net) {
  ENGINE_CHECK(net.model && net.classifier, "predict: the network is not loaded");
  ENGINE_CHECK(net.num_classes >= 1 && net.num_classes <= 255,
               "predict: {} classes; label maps hold at most 255 (255 = no label)",
               net.num_classes);
}

// [h, w, C] f32 -> [H, W, C], bilinear with half-pixel centres (a no-op at the same size).
Tensor upsample(const Tensor& hwc, int64_t h, int64_t w) {
  if (hwc.size(0) == h && hwc.size(1) == w) return hwc.contiguous();
  return engine::resize_bilinear(hwc.unsqueeze(0), h, w, false).select(0, 0).contiguous();
}

}  // namespace

PredictMode parse_predict_mode(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '_', '-');
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (n == "softmax") return PredictMode::softmax;
  if (n == "softmax-crf") return PredictMode::softmax_crf;
  if (n == "msc") return PredictMode::msc;
  if (n == "msc-crf") return PredictMode::msc_crf;
  if (n == "knn") return PredictMode::knn;
  if (n == "knn-msc") return PredictMode::knn_msc;
  if (n == "knn-msc-crf") return PredictMode::knn_msc_crf;
  ENGINE_THROW(
      "unknown prediction mode '{}': expected softmax, softmax-crf, msc, msc-crf, knn, knn-msc or "
      "knn-msc-crf",
      name);
}

std::string predict_mode_name(PredictMode mode) {
  switch (mode) {
    case PredictMode::softmax:
      return "softmax";
    case PredictMode::softmax_crf:
      return "softmax-crf";
    case PredictMode::msc:
      return "msc";
    case PredictMode::msc_crf:
      return "msc-crf";
    case PredictMode::knn:
      return "knn";
    case PredictMode::knn_msc:
      return "knn-msc";
    case PredictMode::knn_msc_crf:
      return "knn-msc-crf";
  }
  return "?";
}

bool uses_crf(PredictMode mode) {
  return mode == PredictMode::softmax_crf || mode == PredictMode::msc_crf ||
         mode == PredictMode::knn_msc_crf;
}

bool uses_memory(PredictMode mode) {
  return mode == PredictMode::knn || mode == PredictMode::knn_msc ||
         mode == PredictMode::knn_msc_crf;
}

std::vector<View> make_views(const std::vector<double>& scales, bool with_flip) {
  std::vector<View> views;
  for (double s : scales) {
    ENGINE_CHECK(s > 0 && std::isfinite(s), "multi-scale views: scale {} must be > 0", s);
    views.push_back({s, false});
    if (with_flip) views.push_back({s, true});
  }
  return views;
}

std::vector<View> default_msc_views() {
  return make_views({0.5, 0.75, 1.0, 1.25, 1.5}, true);
}

double scale_for_size(int64_t h, int64_t w, int64_t size) {
  ENGINE_CHECK(size >= 0, "predict: size {} must be >= 0", size);
  if (size == 0) return 1.0;
  return double(size) / double(std::max(h, w));
}

Tensor softmax_last_dim(const Tensor& logits) {
  ENGINE_CHECK(logits.dtype() == DType::f32 && logits.dim() >= 1,
               "softmax_last_dim: expected f32 [..., C], got {}", logits.desc());
  Tensor src = logits.contiguous();
  Tensor out = Tensor::empty(src.shape(), DType::f32);
  const int64_t c = src.size(-1), n = src.numel() / std::max<int64_t>(c, 1);
  const float* s = src.data<float>();
  float* d = out.data<float>();
#pragma omp parallel for schedule(static) if (n * c > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float* x = s + i * c;
    float* y = d + i * c;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < c; ++k) m = std::max(m, x[k]);
    float z = 0.f;
    for (int64_t k = 0; k < c; ++k) z += (y[k] = std::exp(x[k] - m));
    const float inv = 1.f / z;
    for (int64_t k = 0; k < c; ++k) y[k] *= inv;
  }
  return out;
}

Tensor argmax_u8(const Tensor& probs) {
  ENGINE_CHECK(
      probs.dtype() == DType::f32 && probs.dim() == 3 && probs.size(2) >= 1 && probs.size(2) <= 255,
      "argmax_u8: expected f32 [H, W, C] with 1 <= C <= 255, got {}", probs.desc());
  Tensor src = probs.contiguous();
  const int64_t h = src.size(0), w = src.size(1), c = src.size(2);
  Tensor out = Tensor::empty({h, w}, DType::u8);
  const float* s = src.data<float>();
  uint8_t* d = out.data<uint8_t>();
#pragma omp parallel for schedule(static) if (h * w * c > 65536)
  for (int64_t i = 0; i < h * w; ++i) {
    const float* x = s + i * c;
    int64_t best = 0;
    for (int64_t k = 1; k < c; ++k)
      if (x[k] > x[best]) best = k;
    d[i] = uint8_t(best);
  }
  return out;
}

Prediction knn_from_embedding(const Tensor& embedding, const spml::PrototypeMemory& memory,
                              int num_classes, const spml::KMeansConfig& kmeans,
                              const spml::KnnConfig& knn, engine::Device device) {
  ENGINE_CHECK(embedding.dim() == 3 && embedding.dtype() == DType::f32,
               "knn: expected an embedding f32 [h, w, D], got {}", embedding.desc());
  ENGINE_CHECK(memory.prototypes.defined() && memory.prototypes.dim() == 2 &&
                   memory.prototypes.size(1) == embedding.size(2),
               "knn: the memory's prototypes {} do not match the embedding's dimension D = {}",
               memory.prototypes.defined() ? memory.prototypes.desc() : std::string("(none)"),
               embedding.size(2));
  ENGINE_CHECK(num_classes >= 1 && num_classes <= 255, "knn: {} classes (expected 1..255)",
               num_classes);
  engine::autograd::NoGradGuard no_grad;
  const int64_t h = embedding.size(0), w = embedding.size(1);
  const int64_t k = int64_t(kmeans.grid) * kmeans.grid;
  Tensor e = embedding.contiguous();
  Tensor features = spml::with_side_features(e.unsqueeze(0), spml::location_features(1, h, w));
  Tensor ids =
      spml::spherical_kmeans(features.to(device), Tensor(), kmeans).select(0, 0).contiguous();
  Tensor queries = spml::cluster_prototypes(e, ids, k);
  Prediction p;
  p.probs = spml::broadcast_cluster_scores(ids, spml::knn_votes(queries, memory, num_classes, knn));
  p.labels = spml::knn_retrieval_labels(ids, queries, memory, num_classes, knn).to(DType::u8);
  return p;
}

spml::PrototypeMemory memory_from_embedding(const Tensor& embedding, const Tensor& labels,
                                            int num_classes, const spml::KMeansConfig& kmeans,
                                            bool labelled_only, engine::Device device) {
  ENGINE_CHECK(embedding.dim() == 3 && embedding.dtype() == DType::f32,
               "knn memory: expected an embedding f32 [h, w, D], got {}", embedding.desc());
  ENGINE_CHECK(labels.dim() == 2 && labels.size(0) == embedding.size(0) &&
                   labels.size(1) == embedding.size(1) &&
                   (labels.dtype() == DType::u8 || labels.dtype() == DType::i32),
               "knn memory: expected labels u8/i32 [{}, {}], got {}", embedding.size(0),
               embedding.size(1), labels.desc());
  engine::autograd::NoGradGuard no_grad;
  const int64_t h = embedding.size(0), w = embedding.size(1);
  const int64_t k = int64_t(kmeans.grid) * kmeans.grid;
  Tensor e = embedding.contiguous();
  Tensor features = spml::with_side_features(e.unsqueeze(0), spml::location_features(1, h, w));
  Tensor ids =
      spml::spherical_kmeans(features.to(device), Tensor(), kmeans).select(0, 0).contiguous();
  Tensor lab = labels.to(DType::i32).contiguous();
  // Everything >= C is "unlabeled": one value so that it votes as a single class.
  int32_t* lp = lab.data<int32_t>();
  for (int64_t i = 0; i < h * w; ++i)
    if (lp[i] < 0 || lp[i] >= num_classes) lp[i] = spml::kKnnIgnore;
  Tensor vote_ids = ids;
  if (labelled_only) {
    vote_ids = ids.clone();
    int32_t* vp = vote_ids.data<int32_t>();
    for (int64_t i = 0; i < h * w; ++i)
      if (lp[i] == spml::kKnnIgnore) vp[i] = -1;
  }
  Tensor protos = spml::cluster_prototypes(e, ids, k);
  Tensor maj = spml::cluster_majority_labels(vote_ids, lab, k);
  const int32_t* mp = maj.data<int32_t>();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < k; ++i)
    if (mp[i] != spml::kKnnIgnore) keep.push_back(i);
  const int64_t d = e.size(2), m = int64_t(keep.size());
  Tensor kp = Tensor::empty({m, d}, DType::f32);
  Tensor kl = Tensor::empty({m}, DType::i32);
  for (int64_t j = 0; j < m; ++j) {
    std::copy_n(protos.data<float>() + keep[size_t(j)] * d, d, kp.data<float>() + j * d);
    kl.data<int32_t>()[j] = mp[keep[size_t(j)]];
  }
  return spml::make_prototype_memory(kp, kl);
}

namespace {

Tensor knn_embedding(Stage1& net, const Tensor& rgb, const PredictOptions& o) {
  const double s = scale_for_size(rgb.size(0), rgb.size(1), o.size);
  return embed_view(*net.model, rgb, View{s, false}, resolve_window(net, o));
}

}  // namespace

spml::PrototypeMemory memory_from_image(Stage1& net, const Tensor& rgb, const Tensor& labels,
                                        const PredictOptions& options, bool labelled_only) {
  check_rgb(rgb);
  check_net(net);
  ENGINE_CHECK(labels.dim() == 2 && labels.size(0) == rgb.size(0) && labels.size(1) == rgb.size(1),
               "knn memory: labels {} do not match the image {}", labels.desc(), rgb.desc());
  Tensor e = knn_embedding(net, rgb, options);
  Tensor lab = labels;
  if (e.size(0) != labels.size(0) || e.size(1) != labels.size(1))
    lab = engine::resize_nearest_labels(labels.unsqueeze(0), e.size(0), e.size(1)).select(0, 0);
  return memory_from_embedding(e, lab, net.num_classes, options.kmeans, labelled_only,
                               options.device);
}

namespace {

// Adds b into a (same shape, f32).
void accumulate(Tensor& sum, const Tensor& b) {
  if (!sum.defined()) {
    sum = b.clone();
    return;
  }
  float* a = sum.data<float>();
  const float* x = b.data<float>();
  const int64_t n = sum.numel();
  for (int64_t i = 0; i < n; ++i) a[i] += x[i];
}

void scale_in_place(Tensor& t, float s) {
  float* a = t.data<float>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) a[i] *= s;
}

// One knn view's label map u8 [H, W] (255 = no vote) -> one-hot f32 [H, W, C], zero rows for 255.
Tensor one_hot_votes(const Tensor& labels, int num_classes) {
  const int64_t n = labels.numel();
  Tensor out = engine::zeros({labels.size(0), labels.size(1), int64_t(num_classes)}, DType::f32);
  const uint8_t* l = labels.data<uint8_t>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < n; ++i)
    if (l[i] < num_classes) o[i * num_classes + l[i]] = 1.f;
  return out;
}

// knn_msc: the views' one-hot cluster labels at H×W averaged; argmax, 255 where no view voted.
Prediction knn_multi_scale(Stage1& net, const Tensor& rgb, const PredictOptions& o,
                           const spml::PrototypeMemory& memory, int64_t window) {
  ENGINE_CHECK(!o.views.empty(), "predict: the multi-scale knn mode needs at least one view");
  const int64_t h = rgb.size(0), w = rgb.size(1);
  Tensor sum;
  for (const View& v : o.views) {
    Prediction q = knn_from_embedding(embed_view(*net.model, rgb, v, window), memory,
                                      net.num_classes, o.kmeans, o.knn, o.device);
    Tensor labels =
        engine::resize_nearest_labels(q.labels.unsqueeze(0), h, w).select(0, 0).contiguous();
    accumulate(sum, one_hot_votes(labels, net.num_classes));
  }
  scale_in_place(sum, 1.f / float(o.views.size()));
  Prediction p;
  p.probs = sum;
  p.labels = argmax_u8(sum);
  const int64_t c = net.num_classes;
  const float* s = sum.data<float>();
  uint8_t* l = p.labels.data<uint8_t>();
  for (int64_t i = 0; i < h * w; ++i)
    if (*std::max_element(s + i * c, s + (i + 1) * c) == 0.f) l[i] = 255;
  return p;
}

}  // namespace

Prediction predict_image(Stage1& net, const Tensor& rgb, const PredictOptions& o,
                         const spml::PrototypeMemory* memory) {
  check_rgb(rgb);
  check_net(net);
  engine::autograd::NoGradGuard no_grad;
  const int64_t h = rgb.size(0), w = rgb.size(1);
  const int64_t window = resolve_window(net, o);
  Prediction p;
  switch (o.mode) {
    case PredictMode::softmax:
    case PredictMode::softmax_crf: {
      const View v{scale_for_size(h, w, o.size), false};
      Tensor logits = logits_view(*net.model, *net.classifier, rgb, v, window);
      p.probs = softmax_last_dim(upsample(logits, h, w));
      break;
    }
    case PredictMode::msc:
    case PredictMode::msc_crf: {
      ENGINE_CHECK(!o.views.empty(), "predict: the multi-scale mode needs at least one view");
      Tensor sum;
      for (const View& v : o.views)
        accumulate(sum, softmax_last_dim(upsample(
                            logits_view(*net.model, *net.classifier, rgb, v, window), h, w)));
      scale_in_place(sum, 1.f / float(o.views.size()));
      p.probs = sum;
      break;
    }
    case PredictMode::knn_msc:
    case PredictMode::knn_msc_crf: {
      ENGINE_CHECK(memory != nullptr, "predict: the {} mode needs a prototype memory",
                   predict_mode_name(o.mode));
      p = knn_multi_scale(net, rgb, o, *memory, window);
      if (o.mode == PredictMode::knn_msc) return p;
      break;
    }
    case PredictMode::knn: {
      ENGINE_CHECK(memory != nullptr, "predict: the knn mode needs a prototype memory");
      Prediction q = knn_from_embedding(knn_embedding(net, rgb, o), *memory, net.num_classes,
                                        o.kmeans, o.knn, o.device);
      // Nearest, not bilinear: each pixel keeps exactly its cluster's votes and label.
      p.probs = engine::resize_nearest(q.probs.unsqueeze(0), h, w).select(0, 0).contiguous();
      p.labels =
          engine::resize_nearest_labels(q.labels.unsqueeze(0), h, w).select(0, 0).contiguous();
      return p;
    }
  }
  if (uses_crf(o.mode))
    p.probs = spml::dense_crf(p.probs.to(o.device), rgb, o.crf).to(engine::Device::cpu());
  p.labels = argmax_u8(p.probs);
  return p;
}

void save_memory(const std::string& path, const spml::PrototypeMemory& memory,
                 const std::map<std::string, std::string>& metadata) {
  ENGINE_CHECK(memory.prototypes.defined() && memory.labels.defined(),
               "save_memory '{}': the memory is empty", path);
  engine::io::save_safetensors(path, {{"prototypes", memory.prototypes}, {"labels", memory.labels}},
                               metadata);
}

spml::PrototypeMemory load_memory(const std::string& path, int64_t embedding_dim,
                                  std::map<std::string, std::string>* metadata) {
  const engine::io::SafetensorsFile f = engine::io::load_safetensors(path);
  ENGINE_CHECK(f.contains("prototypes"),
               "memory '{}': no tensor 'prototypes' (expected f32 [M, D] and 'labels' i32 [M])",
               path);
  ENGINE_CHECK(f.contains("labels"),
               "memory '{}': no tensor 'labels' (expected i32 [M] next to 'prototypes')", path);
  const Tensor& p = f.at("prototypes");
  const Tensor& l = f.at("labels");
  ENGINE_CHECK(p.dtype() == DType::f32 && p.dim() == 2,
               "memory '{}': tensor 'prototypes' must be f32 [M, D], found {}", path, p.desc());
  ENGINE_CHECK(l.dtype() == DType::i32 && l.dim() == 1 && l.size(0) == p.size(0),
               "memory '{}': tensor 'labels' must be i32 [{}], found {}", path, p.size(0),
               l.desc());
  ENGINE_CHECK(embedding_dim <= 0 || p.size(1) == embedding_dim,
               "memory '{}': tensor 'prototypes' has D = {} but the network's embedding has D = "
               "{} (was the memory built with another run?)",
               path, p.size(1), embedding_dim);
  const int32_t* lp = l.data<int32_t>();
  for (int64_t i = 0; i < l.size(0); ++i)
    ENGINE_CHECK(lp[i] >= 0 && lp[i] <= 255,
                 "memory '{}': tensor 'labels' entry {} is {} (expected 0..255)", path, i, lp[i]);
  if (metadata) *metadata = f.metadata;
  return spml::make_prototype_memory(p, l);
}

}  // namespace apps
