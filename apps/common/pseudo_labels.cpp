#include "apps/common/pseudo_labels.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "apps/common/dense_views.h"
#include "data/npy.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/ops/resize.h"
#include "engine/ops/softmax.h"
#include "spml/segmentation.h"

namespace apps {

using engine::DType;
using engine::Tensor;

namespace {

bool is_cpu_f32(const Tensor& t, int rank) {
  return t.defined() && t.dim() == rank && t.dtype() == DType::f32 && t.device().is_cpu();
}

// f32 [H, W, C] -> [h, w, C], bilinear with half-pixel centres.
Tensor resize_hwc(const Tensor& x, int64_t h, int64_t w) {
  if (x.size(0) == h && x.size(1) == w) return x.contiguous();
  return engine::resize_bilinear(x.unsqueeze(0), h, w, false).select(0, 0).contiguous();
}

void check_image(const Tensor& image, const char* what) {
  ENGINE_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3 &&
                   image.dtype() == DType::u8 && image.device().is_cpu(),
               "{}: the image must be CPU u8 [H, W, 3], got {}", what,
               image.defined() ? image.desc() : std::string("undefined"));
}

}  // namespace

std::pair<int64_t, int64_t> walk_size(int64_t height, int64_t width) {
  ENGINE_CHECK(height >= 1 && width >= 1, "walk_size: bad image size {}x{}", height, width);
  return {std::max<int64_t>(1, height / 8), std::max<int64_t>(1, width / 8)};
}

Tensor walk_embedding(const Tensor& embedding, int64_t h, int64_t w) {
  ENGINE_CHECK(is_cpu_f32(embedding, 3), "walk_embedding: expected CPU f32 [H, W, D], got {}",
               embedding.defined() ? embedding.desc() : std::string("undefined"));
  engine::autograd::NoGradGuard no_grad;
  return engine::l2_normalize(resize_hwc(embedding, h, w), -1).contiguous();
}

std::vector<bool> present_classes(const Tensor& label, uint64_t tags, int num_classes,
                                  bool with_background) {
  ENGINE_CHECK(num_classes >= 1 && num_classes <= 255,
               "present_classes: num_classes {} outside [1, 255]", num_classes);
  std::vector<bool> present(size_t(num_classes), false);
  if (label.defined()) {
    ENGINE_CHECK(label.dtype() == DType::u8 && label.dim() == 2 && label.device().is_cpu(),
                 "present_classes: the weak label must be CPU u8 [H, W], got {}", label.desc());
    Tensor l = label.contiguous();
    const uint8_t* p = l.data<uint8_t>();
    for (int64_t i = 0; i < l.numel(); ++i)
      if (p[i] < num_classes) present[p[i]] = true;
  }
  for (int c = 0; c < num_classes && c < 64; ++c)
    if ((tags >> c) & 1u) present[size_t(c)] = true;
  if (with_background) present[0] = true;
  return present;
}

Tensor softmax_seeds(const std::vector<Tensor>& logits_views, int64_t h, int64_t w,
                     const std::vector<bool>& present) {
  ENGINE_CHECK(!logits_views.empty(), "softmax_seeds: no logits views");
  engine::autograd::NoGradGuard no_grad;
  Tensor sum;
  for (const Tensor& l : logits_views) {
    ENGINE_CHECK(is_cpu_f32(l, 3), "softmax_seeds: logits must be CPU f32 [H, W, C], got {}",
                 l.defined() ? l.desc() : std::string("undefined"));
    ENGINE_CHECK(l.shape() == logits_views[0].shape(),
                 "softmax_seeds: views differ in shape: {} and {}", logits_views[0].desc(),
                 l.desc());
    Tensor p = engine::softmax(l, -1);
    sum = sum.defined() ? sum + p : p;
  }
  Tensor mean = sum / double(logits_views.size());
  return spml::normalize_seed_scores(resize_hwc(mean, h, w), present);
}

Tensor cam_seeds(const Tensor& cams, const std::vector<bool>& present, int64_t h, int64_t w,
                 float alpha) {
  ENGINE_CHECK(is_cpu_f32(cams, 3), "cam_seeds: cams must be CPU f32 [H, W, C-1], got {}",
               cams.defined() ? cams.desc() : std::string("undefined"));
  const int64_t f = cams.size(2);
  ENGINE_CHECK(int64_t(present.size()) == f + 1,
               "cam_seeds: {} foreground CAM maps need {} class flags, got {}", f, f + 1,
               present.size());
  engine::autograd::NoGradGuard no_grad;
  Tensor masked = cams.contiguous().clone();
  float* p = masked.data<float>();
  const int64_t n = masked.numel() / std::max<int64_t>(f, 1);
  for (int64_t l = 0; l < f; ++l) {
    if (present[size_t(l + 1)]) continue;
    for (int64_t i = 0; i < n; ++i) p[i * f + l] = 0.0f;
  }
  return spml::cam_seed_scores(resize_hwc(masked, h, w), alpha);
}

Tensor read_cam_npy(const std::string& path, int num_classes, int64_t height, int64_t width) {
  Tensor a = data::read_npy(path);
  ENGINE_CHECK(a.dtype() == DType::f32,
               "CAM file '{}': expected a float32 array [C-1, H, W] = [{}, {}, {}], got dtype {}",
               path, num_classes - 1, height, width, engine::dtype_name(a.dtype()));
  ENGINE_CHECK(
      a.dim() == 3 && a.size(0) == num_classes - 1 && a.size(1) == height && a.size(2) == width,
      "CAM file '{}': expected shape [C-1, H, W] = [{}, {}, {}] (one map per foreground "
      "class at the image's size), got {}",
      path, num_classes - 1, height, width, a.desc());
  return a.permute({1, 2, 0}).contiguous();
}

Tensor scores_to_label(const Tensor& scores, const Tensor& image,
                       const PseudoLabelOptions& options) {
  ENGINE_CHECK(is_cpu_f32(scores, 3), "scores_to_label: expected CPU f32 [H, W, C], got {}",
               scores.defined() ? scores.desc() : std::string("undefined"));
  check_image(image, "scores_to_label");
  ENGINE_CHECK(image.size(0) == scores.size(0) && image.size(1) == scores.size(1),
               "scores_to_label: scores {} and image {} differ in size", scores.desc(),
               image.desc());
  ENGINE_CHECK(scores.size(2) <= 255, "scores_to_label: {} classes do not fit a u8 label",
               scores.size(2));
  Tensor q = options.crf ? spml::dense_crf(scores.to(options.device), image, options.crf_config)
                               .to(engine::Device::cpu())
                         : scores;
  return spml::argmax_labels(q).to(DType::u8);
}

Tensor random_walk_label(const std::vector<Tensor>& walk_views, const Tensor& seeds,
                         const Tensor& image, const PseudoLabelOptions& options) {
  check_image(image, "random_walk_label");
  std::vector<Tensor> views;
  for (const Tensor& v : walk_views) views.push_back(v.to(options.device));
  Tensor s = spml::random_walk_scores(views, seeds.to(options.device), image.size(0), image.size(1),
                                      options.walk)
                 .to(engine::Device::cpu());
  return scores_to_label(s, image, options);
}

spml::PrototypeMemory view_memory(const Tensor& embedding, const Tensor& label,
                                  const PseudoLabelOptions& options) {
  ENGINE_CHECK(is_cpu_f32(embedding, 3), "view_memory: expected CPU f32 [h, w, D], got {}",
               embedding.defined() ? embedding.desc() : std::string("undefined"));
  ENGINE_CHECK(label.defined() && label.dim() == 2 && label.size(0) == embedding.size(0) &&
                   label.size(1) == embedding.size(1),
               "view_memory: label {} must be [h, w] like the embedding {}",
               label.defined() ? label.desc() : std::string("undefined"), embedding.desc());
  engine::autograd::NoGradGuard no_grad;
  const int64_t k = int64_t(options.kmeans.grid) * options.kmeans.grid;
  Tensor ids =
      spml::spherical_kmeans(embedding.unsqueeze(0).to(options.device), Tensor(), options.kmeans)
          .select(0, 0);
  Tensor protos = spml::cluster_prototypes(embedding, ids, k);
  Tensor labels = spml::cluster_majority_labels(ids, label, k);
  // Empty clusters (zero prototypes) would only take memory: keep the populated ones.
  std::vector<int64_t> count(size_t(k), 0);
  const Tensor idc = ids.contiguous();
  const int32_t* ip = idc.data<int32_t>();
  for (int64_t i = 0; i < idc.numel(); ++i)
    if (ip[i] >= 0) ++count[size_t(ip[i])];
  const int64_t d = protos.size(1);
  int64_t kept = 0;
  for (int64_t c = 0; c < k; ++c) kept += count[size_t(c)] > 0;
  Tensor p = Tensor::empty({kept, d}), l = Tensor::empty({kept}, DType::i32);
  const float* src = protos.contiguous().data<float>();
  const int32_t* lsrc = labels.contiguous().data<int32_t>();
  int64_t r = 0;
  for (int64_t c = 0; c < k; ++c) {
    if (count[size_t(c)] == 0) continue;
    std::copy(src + c * d, src + (c + 1) * d, p.data<float>() + r * d);
    l.data<int32_t>()[r] = lsrc[c];
    ++r;
  }
  return spml::make_prototype_memory(p, l);
}

Tensor knn_view_scores(const Tensor& embedding, const spml::PrototypeMemory& memory,
                       int num_classes, int64_t height, int64_t width,
                       const PseudoLabelOptions& options) {
  ENGINE_CHECK(is_cpu_f32(embedding, 3), "knn_view_scores: expected CPU f32 [h, w, D], got {}",
               embedding.defined() ? embedding.desc() : std::string("undefined"));
  engine::autograd::NoGradGuard no_grad;
  const int64_t k = int64_t(options.kmeans.grid) * options.kmeans.grid;
  Tensor ids =
      spml::spherical_kmeans(embedding.unsqueeze(0).to(options.device), Tensor(), options.kmeans)
          .select(0, 0);
  Tensor protos = spml::cluster_prototypes(embedding, ids, k);
  Tensor votes = spml::knn_votes(protos, memory, num_classes, options.knn);
  return resize_hwc(spml::broadcast_cluster_scores(ids, votes), height, width);
}

Tensor knn_label(const std::vector<Tensor>& view_scores, const std::vector<bool>& tags,
                 const Tensor& image, const PseudoLabelOptions& options) {
  ENGINE_CHECK(!view_scores.empty(), "knn_label: no views");
  engine::autograd::NoGradGuard no_grad;
  Tensor sum;
  for (const Tensor& s : view_scores) {
    ENGINE_CHECK(is_cpu_f32(s, 3) && s.shape() == view_scores[0].shape(),
                 "knn_label: every view must be CPU f32 [H, W, C] of one shape, got {} and {}",
                 view_scores[0].desc(), s.defined() ? s.desc() : std::string("undefined"));
    sum = sum.defined() ? sum + s : s;
  }
  Tensor mean = (sum / double(view_scores.size())).contiguous();
  return scores_to_label(spml::normalize_tag_scores(mean, tags, options.tag_floor), image, options);
}

std::pair<int64_t, int64_t> stride2_size(int64_t height, int64_t width) {
  ENGINE_CHECK(height >= 1 && width >= 1, "stride2_size: bad image size {}x{}", height, width);
  return {(height + 1) / 2, (width + 1) / 2};
}

Tensor nearest_labeled_segment_labels(const Tensor& prototypes, const Tensor& labels) {
  ENGINE_CHECK(is_cpu_f32(prototypes, 2),
               "nearest_labeled_segment_labels: prototypes must be CPU f32 [S, D], got {}",
               prototypes.defined() ? prototypes.desc() : std::string("undefined"));
  ENGINE_CHECK(labels.defined() && labels.dtype() == DType::i32 && labels.dim() == 1 &&
                   labels.size(0) == prototypes.size(0),
               "nearest_labeled_segment_labels: labels must be i32 [S] with S = {}, got {}",
               prototypes.size(0), labels.defined() ? labels.desc() : std::string("undefined"));
  const Tensor p = prototypes.contiguous(), l = labels.contiguous();
  const int64_t s = p.size(0), d = p.size(1);
  const float* pp = p.data<float>();
  const int32_t* lp = l.data<int32_t>();
  std::vector<int64_t> labeled;
  for (int64_t i = 0; i < s; ++i)
    if (lp[i] >= 0) labeled.push_back(i);
  Tensor out = Tensor::empty({s}, DType::i32);
  int32_t* op = out.data<int32_t>();
#pragma omp parallel for schedule(static) if (s * int64_t(labeled.size()) * d > 262144)
  for (int64_t i = 0; i < s; ++i) {
    if (lp[i] >= 0 || labeled.empty()) {
      op[i] = lp[i] >= 0 ? lp[i] : -1;
      continue;
    }
    const float* q = pp + i * d;
    float best = -std::numeric_limits<float>::infinity();
    int32_t best_label = -1;
    for (int64_t j : labeled) {
      const float* r = pp + j * d;
      float dot = 0.0f;
      for (int64_t k = 0; k < d; ++k) dot += q[k] * r[k];
      if (dot > best) {
        best = dot;
        best_label = lp[j];
      }
    }
    op[i] = best_label;
  }
  return out;
}

Tensor densepose_segment_labels(const Tensor& embedding, const Tensor& annotation, int num_classes,
                                const spml::KMeansConfig& kmeans, engine::Device device) {
  ENGINE_CHECK(is_cpu_f32(embedding, 3),
               "densepose_segment_labels: expected a CPU f32 [h, w, D] embedding, got {}",
               embedding.defined() ? embedding.desc() : std::string("undefined"));
  ENGINE_CHECK(annotation.defined() && annotation.dtype() == DType::u8 && annotation.dim() == 2 &&
                   annotation.size(0) == embedding.size(0) &&
                   annotation.size(1) == embedding.size(1),
               "densepose_segment_labels: the annotation must be u8 [h, w] like the embedding "
               "{}, got {}",
               embedding.desc(), annotation.defined() ? annotation.desc() : "undefined");
  engine::autograd::NoGradGuard no_grad;
  const int64_t h = embedding.size(0), w = embedding.size(1);
  // No validity mask: every pixel is clustered, 255 included (the reference remaps it to an
  // extra class for the same purpose); make_segments then splits clusters by annotation value.
  Tensor clusters = spml::spherical_kmeans(embedding.unsqueeze(0).to(device), Tensor(), kmeans);
  spml::Segments seg = spml::make_segments(clusters, annotation.contiguous().unsqueeze(0), Tensor(),
                                           {0}, num_classes);
  // Every pixel is valid, so pixel_segment is in row-major pixel order.
  Tensor segment_map = seg.pixel_segment.reshape({h, w}).contiguous();
  Tensor protos = spml::cluster_prototypes(embedding, segment_map, seg.num_segments());
  Tensor seg_labels = nearest_labeled_segment_labels(protos, seg.label);
  Tensor out = Tensor::empty({h, w}, DType::i32);
  const int32_t* sm = segment_map.data<int32_t>();
  const int32_t* sl = seg_labels.data<int32_t>();
  int32_t* op = out.data<int32_t>();
  for (int64_t i = 0; i < h * w; ++i) op[i] = sl[sm[i]];
  return out;
}

Tensor one_hot_seeds(const Tensor& labels, int num_classes, int64_t h, int64_t w,
                     const std::vector<bool>& present) {
  ENGINE_CHECK(labels.defined() && labels.dtype() == DType::i32 && labels.dim() == 2,
               "one_hot_seeds: labels must be i32 [h, w], got {}",
               labels.defined() ? labels.desc() : std::string("undefined"));
  ENGINE_CHECK(num_classes >= 1, "one_hot_seeds: num_classes {} < 1", num_classes);
  engine::autograd::NoGradGuard no_grad;
  const Tensor l = labels.contiguous();
  const int64_t n = l.numel();
  Tensor hot = engine::zeros({l.size(0), l.size(1), int64_t(num_classes)});
  const int32_t* lp = l.data<int32_t>();
  float* hp = hot.data<float>();
  for (int64_t i = 0; i < n; ++i)
    if (lp[i] >= 0 && lp[i] < num_classes) hp[i * num_classes + lp[i]] = 1.0f;
  return spml::normalize_seed_scores(resize_hwc(hot, h, w), present);
}

Tensor restore_unlabeled(const Tensor& label, const Tensor& annotation) {
  ENGINE_CHECK(label.defined() && label.dtype() == DType::u8 && label.dim() == 2 &&
                   annotation.defined() && annotation.dtype() == DType::u8 &&
                   annotation.shape() == label.shape(),
               "restore_unlabeled: label and annotation must be u8 [H, W] of one shape, got {} "
               "and {}",
               label.defined() ? label.desc() : std::string("undefined"),
               annotation.defined() ? annotation.desc() : std::string("undefined"));
  Tensor out = label.contiguous().clone();
  const Tensor a = annotation.contiguous();
  const uint8_t* ap = a.data<uint8_t>();
  uint8_t* op = out.data<uint8_t>();
  for (int64_t i = 0; i < out.numel(); ++i)
    if (ap[i] == 255) op[i] = 255;
  return out;
}

void save_knn_memory(const std::string& path, const spml::PrototypeMemory& memory,
                     int64_t num_images) {
  engine::io::save_safetensors(
      path, {{"prototypes", memory.prototypes}, {"labels", memory.labels}},
      {{"format", "spml-knn-memory"}, {"images", std::to_string(num_images)}});
}

spml::PrototypeMemory load_knn_memory(const std::string& path) {
  const engine::io::SafetensorsFile f = engine::io::load_safetensors(path);
  const Tensor& p = f.at("prototypes");
  const Tensor& l = f.at("labels");
  ENGINE_CHECK(p.dtype() == DType::f32 && p.dim() == 2,
               "kNN memory '{}': 'prototypes' must be F32 [M, D], got {}", path, p.desc());
  ENGINE_CHECK(l.dtype() == DType::i32 && l.dim() == 1 && l.size(0) == p.size(0),
               "kNN memory '{}': 'labels' must be I32 [M] with M = {}, got {}", path, p.size(0),
               l.desc());
  return spml::make_prototype_memory(p, l);
}

std::vector<Tensor> walk_views(Stage1& net, const Tensor& image,
                               const PseudoLabelOptions& options) {
  check_image(image, "walk_views");
  auto [h, w] = walk_size(image.size(0), image.size(1));
  std::vector<Tensor> views;
  for (bool flip : {false, true})
    views.push_back(
        walk_embedding(embed_view(*net.model, image, {1.0, flip}, options.window), h, w));
  return views;
}

std::vector<Tensor> joint_logits_views(Stage1& net, const Tensor& image,
                                       const PseudoLabelOptions& options) {
  check_image(image, "joint_logits_views");
  std::vector<Tensor> views;
  for (bool flip : {false, true})
    views.push_back(logits_view(*net.model, *net.classifier, image, {1.0, flip}, options.window));
  return views;
}

Tensor random_walk_pseudo_label(Stage1& net, const Tensor& image, const std::vector<bool>& present,
                                const Tensor& cams, const PseudoLabelOptions& options) {
  check_image(image, "random_walk_pseudo_label");
  ENGINE_CHECK(int(present.size()) == net.num_classes,
               "random_walk_pseudo_label: {} class flags for a {}-class network", present.size(),
               net.num_classes);
  auto [h, w] = walk_size(image.size(0), image.size(1));
  Tensor seeds;
  if (cams.defined()) {
    ENGINE_CHECK(cams.dim() == 3 && cams.size(0) == image.size(0) &&
                     cams.size(1) == image.size(1) && cams.size(2) == net.num_classes - 1,
                 "random_walk_pseudo_label: CAMs must be [H, W, C-1] = [{}, {}, {}], got {}",
                 image.size(0), image.size(1), net.num_classes - 1, cams.desc());
    seeds = cam_seeds(cams, present, h, w, options.cam_alpha);
  } else {
    seeds = softmax_seeds(joint_logits_views(net, image, options), h, w, present);
  }
  return random_walk_label(walk_views(net, image, options), seeds, image, options);
}

Tensor densepose_pseudo_label(Stage1& net, const Tensor& image, const Tensor& annotation,
                              const PseudoLabelOptions& options) {
  check_image(image, "densepose_pseudo_label");
  ENGINE_CHECK(annotation.defined() && annotation.dim() == 2 &&
                   annotation.size(0) == image.size(0) && annotation.size(1) == image.size(1),
               "densepose_pseudo_label: the annotation must be [H, W] like the image {}, got {}",
               image.desc(), annotation.defined() ? annotation.desc() : "undefined");
  const int64_t H = image.size(0), W = image.size(1);
  auto [h, w] = walk_size(H, W);
  auto [h2, w2] = stride2_size(H, W);
  const Tensor plain = embed_view(*net.model, image, {1.0, false}, options.window);
  const Tensor flipped = embed_view(*net.model, image, {1.0, true}, options.window);
  const Tensor ann2 =
      engine::resize_nearest_labels(annotation.unsqueeze(0), h2, w2).select(0, 0).contiguous();
  const Tensor segment_labels =
      densepose_segment_labels(walk_embedding(plain, h2, w2), ann2, net.num_classes,
                               options.densepose_kmeans, options.device);
  const std::vector<bool> present = present_classes(annotation, 0, net.num_classes, false);
  const Tensor seeds = one_hot_seeds(segment_labels, net.num_classes, h, w, present);
  const Tensor label = random_walk_label(
      {walk_embedding(plain, h, w), walk_embedding(flipped, h, w)}, seeds, image, options);
  return options.restore_unlabeled ? restore_unlabeled(label, annotation) : label;
}

spml::PrototypeMemory image_knn_memory(Stage1& net, const Tensor& image, const Tensor& pseudo_label,
                                       const PseudoLabelOptions& options) {
  check_image(image, "image_knn_memory");
  ENGINE_CHECK(pseudo_label.defined() && pseudo_label.dim() == 2 &&
                   pseudo_label.size(0) == image.size(0) && pseudo_label.size(1) == image.size(1),
               "image_knn_memory: the pseudo-label must be [H, W] like the image {}, got {}",
               image.desc(), pseudo_label.defined() ? pseudo_label.desc() : "undefined");
  std::vector<spml::PrototypeMemory> parts;
  for (double s : options.memory_scales) {
    Tensor e = embed_view(*net.model, image, {s, false}, options.window);
    Tensor l = engine::resize_nearest_labels(pseudo_label.unsqueeze(0), e.size(0), e.size(1))
                   .select(0, 0)
                   .contiguous();
    parts.push_back(view_memory(e, l, options));
  }
  return spml::concat_prototype_memory(parts);
}

Tensor knn_pseudo_label(Stage1& net, const Tensor& image, const std::vector<bool>& tags,
                        const spml::PrototypeMemory& memory, const PseudoLabelOptions& options) {
  check_image(image, "knn_pseudo_label");
  std::vector<Tensor> scores;
  for (double s : options.query_scales)
    for (bool flip : {false, true})
      scores.push_back(knn_view_scores(embed_view(*net.model, image, {s, flip}, options.window),
                                       memory, net.num_classes, image.size(0), image.size(1),
                                       options));
  return knn_label(scores, tags, image, options);
}

}  // namespace apps
