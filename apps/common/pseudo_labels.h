// Pseudo-labels between the two stages (spec ../shared/spec/spml.md §6): the embedding-affinity
// random walk seeded by the stage-1 joint softmax head or by CAMs (§6.1), kNN pseudo-labels for
// image tags (§6.2), DenseCRF with the §6.4 settings. apps/pseudo_label is the command-line front
// end; docs/pseudo-labels.md describes the pipeline and its figures.
//
// The code is split in two layers so that every step can be tested without a trained network:
//   - pure functions on tensors (embeddings, probabilities, CAMs, labels);
//   - network functions that compute the views of one image with apps::embed_view /
//     apps::logits_view and hand them to the pure functions.
// Shapes are NHWC without the batch dim, all tensors CPU. Images are u8 [H, W, 3] RGB, label
// maps u8 [H, W] with 255 = unlabeled.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/stage1_model.h"
#include "data/voc.h"
#include "engine/tensor.h"
#include "spml/crf.h"
#include "spml/kmeans.h"
#include "spml/knn.h"
#include "spml/random_walk.h"

namespace apps {

struct PseudoLabelOptions {
  bool crf = true;  // §6.4 DenseCRF before the argmax (off: argmax of the walk/kNN scores)
  spml::CrfConfig crf_config;
  spml::RandomWalkConfig walk;
  float cam_alpha = 6.0f;  // background seed (1 − max CAM)^alpha (§6.1, image tags)
  // Sliding-window size of the network views (apps::embed_view); 0 = the whole image at once.
  // The app uses the run's training crop.
  int64_t window = 0;
  // kNN (§6.2): k-means grid (12×12) and iterations (10), top-k votes (20), tag floor 0.15.
  spml::KMeansConfig kmeans{.grid = 12, .iterations = 10};
  spml::KnnConfig knn;
  float tag_floor = 0.15f;
  std::vector<double> memory_scales{0.5, 1.0, 1.5};      // §6.2 step 1.1, no flip
  std::vector<double> query_scales{0.5, 1.0, 1.5, 2.0};  // §6.2 step 2.1, × {no flip, flip}
  // DensePose (§6.1 "DensePose point"): k-means on the stride-2 embedding with a 24×24 grid and
  // 10 iterations. restore_unlabeled sets the pixels unlabeled (255) in the annotation back to
  // 255 afterwards (the reference's step 6). Off by default: our converter's 255 marks the
  // unknown pixels the walk is meant to fill (docs/pseudo-labels.md).
  spml::KMeansConfig densepose_kmeans{.grid = 24, .iterations = 10};
  bool restore_unlabeled = false;
  // Where the dense CRF, the random walk and the k-means of the kNN and DensePose methods run (the
  // app passes its
  // --device; inputs and results stay on the CPU). The network runs wherever its parameters are.
  engine::Device device = engine::Device::cpu();
};

// ---------------------------------------------------------------------------------------------
// Pure functions.

// The random walk's resolution for an H×W image: ⌊H/8⌋ × ⌊W/8⌋ (at least 1×1).
std::pair<int64_t, int64_t> walk_size(int64_t height, int64_t width);

// embedding f32 [H, W, D] (any norm) -> f32 [h, w, D], bilinearly resized (half-pixel centres)
// and L2-normalized per pixel (§6.1 steps 1.1–1.2).
engine::Tensor walk_embedding(const engine::Tensor& embedding, int64_t h, int64_t w);

// The classes a weak label marks as present (§6.1 "classes absent from the image's weak label are
// zeroed"): values < num_classes occurring in `label` (u8 [H, W], may be undefined), plus, for
// every bit c < num_classes of `tags`, class c; background (0) is added when `with_background`.
std::vector<bool> present_classes(const engine::Tensor& label, uint64_t tags, int num_classes,
                                  bool with_background);

// Seeds from the joint head (§6.1 scribble/point/box; §6.2 step 3 second round for tags):
// logits views f32 [H, W, C] (flipped views already flipped back) -> softmax per view, averaged,
// resized to h × w, then spml::normalize_seed_scores with `present`. -> f32 [h, w, C].
engine::Tensor softmax_seeds(const std::vector<engine::Tensor>& logits_views, int64_t h, int64_t w,
                             const std::vector<bool>& present);

// Seeds from CAMs (§6.1 image tags): cams f32 [H, W, C-1] at the image's size for the foreground
// classes (the layout read_cam_npy returns) -> maps of classes c+1 not in `present` zeroed,
// resized to h × w, then spml::cam_seed_scores(alpha) -> f32 [h, w, C].
engine::Tensor cam_seeds(const engine::Tensor& cams, const std::vector<bool>& present, int64_t h,
                         int64_t w, float alpha = 6.0f);

// Reads a CAM file for one image: a float32 .npy array of shape [C-1, H, W] (one map per
// foreground class, 0-based: map c is class c+1; the layout of a stacked SEAM dict, channels
// first as NumPy code writes it) -> f32 [H, W, C-1]. Errors name the file and the expected shape.
engine::Tensor read_cam_npy(const std::string& path, int num_classes, int64_t height,
                            int64_t width);

// §6.1 steps 1.3–6: walk views f32 [h, w, D] (from walk_embedding), seeds f32 [h, w, C], image
// u8 [H, W, 3] -> the random walk, bilinear upsampling to H × W, DenseCRF (options.crf),
// argmax -> u8 [H, W] class ids in [0, C). Pixels whose scores are all 0 get class 0.
engine::Tensor random_walk_label(const std::vector<engine::Tensor>& walk_views,
                                 const engine::Tensor& seeds, const engine::Tensor& image,
                                 const PseudoLabelOptions& options);

// scores f32 [H, W, C] (need not sum to 1) -> DenseCRF marginals when options.crf, then argmax ->
// u8 [H, W].
engine::Tensor scores_to_label(const engine::Tensor& scores, const engine::Tensor& image,
                               const PseudoLabelOptions& options);

// One view's part of the kNN memory (§6.2 step 1): embedding f32 [h, w, D] (unit rows), label
// u8 [h, w] -> spherical k-means (options.kmeans) -> one prototype per cluster with the majority
// label (255 counted as a class). Empty clusters are dropped.
spml::PrototypeMemory view_memory(const engine::Tensor& embedding, const engine::Tensor& label,
                                  const PseudoLabelOptions& options);

// One query view (§6.2 steps 2.1–2.3): embedding f32 [h, w, D] (unit rows) -> k-means, top-k
// votes per cluster, broadcast to the pixels, bilinear resize to H × W -> f32 [H, W, C].
engine::Tensor knn_view_scores(const engine::Tensor& embedding, const spml::PrototypeMemory& memory,
                               int num_classes, int64_t height, int64_t width,
                               const PseudoLabelOptions& options);

// §6.2 steps 2.4–2.6: views f32 [H, W, C] -> averaged, spml::normalize_tag_scores(tags,
// options.tag_floor), scores_to_label -> u8 [H, W].
engine::Tensor knn_label(const std::vector<engine::Tensor>& view_scores,
                         const std::vector<bool>& tags, const engine::Tensor& image,
                         const PseudoLabelOptions& options);

// The kNN memory as one safetensors file: "prototypes" f32 [M, D] (unit rows) and "labels"
// i32 [M]; metadata "format" = "spml-knn-memory", "images" = the number of images it was built
// from. load_knn_memory checks names, dtypes and shapes and names the file in errors.
void save_knn_memory(const std::string& path, const spml::PrototypeMemory& memory,
                     int64_t num_images);
spml::PrototypeMemory load_knn_memory(const std::string& path);

// --- DensePose points (§6.1 "DensePose point") ---

// The stride-2 size of an H×W image: ⌈H/2⌉ × ⌈W/2⌉.
std::pair<int64_t, int64_t> stride2_size(int64_t height, int64_t width);

// Step 4. prototypes f32 [S, D] (unit or zero rows), labels i32 [S] (a class id >= 0, or < 0 =
// unlabeled, e.g. spml::kUnlabeledSegment) -> i32 [S]: a labeled segment keeps its label; an
// unlabeled one takes the label of the labeled segment with the highest cosine (top-1, no
// threshold, ties to the lower index). With no labeled segment every label stays -1.
engine::Tensor nearest_labeled_segment_labels(const engine::Tensor& prototypes,
                                              const engine::Tensor& labels);

// Steps 2–4. embedding f32 [h, w, D] (unit rows, the stride-2 embedding), annotation u8 [h, w]
// (values >= num_classes, 255 included, = unlabeled) -> i32 [h, w]: every pixel is clustered
// (spherical k-means, `kmeans`), clusters are split by annotation value into segments
// (spml::make_segments), and each pixel gets its segment's nearest_labeled_segment_labels
// label (-1 when the image has no labeled pixel). The k-means runs on `device` (the embedding is
// copied there); the rest on the CPU.
engine::Tensor densepose_segment_labels(const engine::Tensor& embedding,
                                        const engine::Tensor& annotation, int num_classes,
                                        const spml::KMeansConfig& kmeans,
                                        engine::Device device = engine::Device::cpu());

// Step 5 up to the walk. labels i32 [h2, w2] (class ids, -1 = none) -> one-hot f32 [h2, w2, C],
// bilinearly resized to h × w, then spml::normalize_seed_scores(present) (per-class max
// normalization, classes not in `present` zeroed) -> f32 [h, w, C].
engine::Tensor one_hot_seeds(const engine::Tensor& labels, int num_classes, int64_t h, int64_t w,
                             const std::vector<bool>& present);

// Step 6. label u8 [H, W], annotation u8 [H, W] -> a copy of `label` that is 255 wherever the
// annotation is 255.
engine::Tensor restore_unlabeled(const engine::Tensor& label, const engine::Tensor& annotation);

// ---------------------------------------------------------------------------------------------
// Network functions (the stage-1 model and joint head in eval mode; no autograd).

// Walk views of an image: embed_view at scale 1, unflipped and flipped (flipped back), each
// through walk_embedding.
std::vector<engine::Tensor> walk_views(Stage1& net, const engine::Tensor& image,
                                       const PseudoLabelOptions& options);

// The joint head's logits at scale 1, unflipped and flipped (flipped back): f32 [H, W, C] each.
std::vector<engine::Tensor> joint_logits_views(Stage1& net, const engine::Tensor& image,
                                               const PseudoLabelOptions& options);

// §6.1 for one image. `present` (size net.num_classes) masks the seeds. With `cams` defined
// (f32 [H, W, C-1], image tags), the seeds are cam_seeds; otherwise softmax_seeds of the joint
// head. -> u8 [H, W].
engine::Tensor random_walk_pseudo_label(Stage1& net, const engine::Tensor& image,
                                        const std::vector<bool>& present,
                                        const engine::Tensor& cams,
                                        const PseudoLabelOptions& options);

// §6.1 "DensePose point" for one image: annotation u8 [H, W] (point labels, 255 = unlabeled).
// One unflipped and one flipped embed_view at scale 1 give the walk views; the unflipped one,
// resized to stride2_size and normalized, gives the segments (densepose_segment_labels with
// options.densepose_kmeans), then one_hot_seeds masked by the classes present in the
// annotation, random_walk_label and, when options.restore_unlabeled, restore_unlabeled.
// -> u8 [H, W].
engine::Tensor densepose_pseudo_label(Stage1& net, const engine::Tensor& image,
                                      const engine::Tensor& annotation,
                                      const PseudoLabelOptions& options);

// §6.2 step 1 for one image: embeddings at options.memory_scales (no flip), the pseudo-label
// (u8 [H, W]) resized to each scale by engine::resize_nearest_labels, view_memory per scale,
// concatenated.
spml::PrototypeMemory image_knn_memory(Stage1& net, const engine::Tensor& image,
                                       const engine::Tensor& pseudo_label,
                                       const PseudoLabelOptions& options);

// §6.2 step 2 for one image: query views options.query_scales × {no flip, flip}, knn_label.
engine::Tensor knn_pseudo_label(Stage1& net, const engine::Tensor& image,
                                const std::vector<bool>& tags, const spml::PrototypeMemory& memory,
                                const PseudoLabelOptions& options);

}  // namespace apps
