// Final inference (spec ../shared/spec/spml.md §7, README decisions 4 and 8): per image, the
// class-probability map and the label map at the image's original size, in one of five modes:
//   softmax      longer side resized to `size`, sliding windows, classifier logits upsampled
//                bilinearly to H×W, softmax, argmax;
//   softmax_crf  the same, then the dense CRF (spec §6.4) at the original resolution, argmax;
//   msc          views scale×flip at the original size (default {0.5, 0.75, 1, 1.25, 1.5} ×
//                {no flip, flip}); each view's logits upsampled bilinearly to H×W, softmax,
//                probabilities averaged over the views, argmax;
//   msc_crf      msc, then the CRF, argmax;
//   knn          kNN segment retrieval (§7): 12×12 spherical k-means on the test embedding, each
//                cluster's prototype votes with its top-20 memory prototypes by cosine, the
//                majority class is broadcast to the cluster;
//   knn_msc      knn on every msc view (the view's scale of the original size, flip undone):
//                each view's per-cluster majority class as a one-hot map at H×W (nearest),
//                averaged over the views, argmax (spec §7, "multi-scale variants");
//   knn_msc_crf  knn_msc, then the CRF on the averaged votes, argmax.
// Labels come from the argmax of bilinearly upsampled logits/probabilities, not from a nearest
// upsampling of labels computed at the network's size as the reference's softmax script does:
// the maps agree away from class boundaries, and boundaries are smoother and better placed.
//
// Everything runs on the CPU without autograd; shapes are NHWC without the batch dim.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "apps/common/dense_views.h"
#include "apps/common/stage1_model.h"
#include "engine/tensor.h"
#include "spml/crf.h"
#include "spml/kmeans.h"
#include "spml/knn.h"

namespace apps {

enum class PredictMode { softmax, softmax_crf, msc, msc_crf, knn, knn_msc, knn_msc_crf };

// "softmax", "softmax-crf", "msc", "msc-crf", "knn", "knn-msc", "knn-msc-crf" (underscores
// accepted too); an unknown name
// is an error listing the valid ones.
PredictMode parse_predict_mode(const std::string& name);
std::string predict_mode_name(PredictMode mode);
bool uses_crf(PredictMode mode);
// knn, knn_msc and knn_msc_crf: the modes that need a prototype memory.
bool uses_memory(PredictMode mode);

// {0.5, 0.75, 1, 1.25, 1.5} × {no flip, flip}, the reference's multi-scale set (spec §7).
std::vector<View> default_msc_views();
// scales × {no flip} or × {no flip, flip}.
std::vector<View> make_views(const std::vector<double>& scales, bool with_flip);

struct PredictOptions {
  PredictMode mode = PredictMode::softmax;
  // softmax, softmax_crf and knn: the longer side is resized to this many pixels before the
  // network (spec §7: 512 for VOC, 640 for DensePose); 0 = the image as is.
  int64_t size = 512;
  // Sliding-window size in pixels at the network's input (stride = window, spec §7); < 0 = the
  // run's training crop (Stage1::config.crop); 0 = the whole image in one pass.
  int64_t window = -1;
  std::vector<View> views = default_msc_views();  // msc, msc_crf, knn_msc, knn_msc_crf
  spml::CrfConfig crf;                            // softmax_crf, msc_crf
  // knn: 12×12 clusters and 10 iterations for VOC; DensePose uses grid = 24 (spec §2.2).
  spml::KMeansConfig kmeans{.grid = 12, .iterations = 10};
  spml::KnnConfig knn;  // top-20
  // Where the dense CRF and the knn modes' k-means run (the app passes its --device; inputs and
  // results stay on the CPU). The network runs wherever its parameters are.
  engine::Device device = engine::Device::cpu();
};

struct Prediction {
  // f32 [H, W, C]: class probabilities (softmax modes: softmax or CRF marginals, rows sum to 1;
  // knn: each pixel's cluster's top-k vote fractions, all 0 for a cluster that got no vote;
  // knn_msc: the fraction of views whose cluster voted for each class; knn_msc_crf: marginals).
  engine::Tensor probs;
  // u8 [H, W]: class ids 0..C-1; 255 only in knn (no vote) and knn_msc (no vote in any view)
  engine::Tensor labels;
};

// One image, rgb u8 [H, W, 3] (H, W >= 1) -> its prediction at H×W. `memory` is required by the
// knn modes (and ignored otherwise); its prototypes must have the run's embedding dimension.
Prediction predict_image(Stage1& net, const engine::Tensor& rgb, const PredictOptions& options,
                         const spml::PrototypeMemory* memory = nullptr);

// The pieces predict_image combines, exposed for tests and other stages.
//
// Softmax over the last dim of logits f32 [..., C], in a new tensor.
engine::Tensor softmax_last_dim(const engine::Tensor& logits);
// probs f32 [H, W, C] -> u8 [H, W] argmax (ties to the lowest class); C must be <= 255.
engine::Tensor argmax_u8(const engine::Tensor& probs);
// The scale that brings the longer side of an h×w image to `size` (1 when size == 0).
double scale_for_size(int64_t h, int64_t w, int64_t size);

// kNN retrieval on an embedding already computed: embedding f32 [h, w, D] (unit rows) ->
// {probs f32 [h, w, C], labels u8 [h, w]} at h×w. The k-means features are the embedding
// concatenated with the (y, x) location features and re-normalized (spec §1.5, as in training);
// the query prototypes are the clusters' normalized mean embeddings without location. The
// k-means runs on `device` (the embedding is copied there); everything else on the CPU.
Prediction knn_from_embedding(const engine::Tensor& embedding, const spml::PrototypeMemory& memory,
                              int num_classes, const spml::KMeansConfig& kmeans,
                              const spml::KnnConfig& knn,
                              engine::Device device = engine::Device::cpu());

// One memory image: embedding f32 [h, w, D] (unit rows) and its labels u8/i32 [h, w] (values
// 0..C-1 classes; anything >= C, 255 included, unlabeled) -> its cluster prototypes and their
// majority labels (spml::cluster_majority_labels). labelled_only = false: unlabeled pixels vote
// as one class of their own (spec §6.2, right for dense pseudo-labels); true: only labelled
// pixels vote (right for sparse weak labels such as scribbles, where most of a cluster is
// unlabeled). Entries that come out unlabeled are dropped: they could never be retrieved. The
// k-means runs on `device`.
spml::PrototypeMemory memory_from_embedding(const engine::Tensor& embedding,
                                            const engine::Tensor& labels, int num_classes,
                                            const spml::KMeansConfig& kmeans, bool labelled_only,
                                            engine::Device device = engine::Device::cpu());

// The same from an image: rgb u8 [H, W, 3], labels [H, W] at the image's size; the embedding is
// computed as the knn mode computes the query's (options.size, options.window), and the labels
// are resized to it by nearest neighbour.
spml::PrototypeMemory memory_from_image(Stage1& net, const engine::Tensor& rgb,
                                        const engine::Tensor& labels, const PredictOptions& options,
                                        bool labelled_only);

// Memory files (safetensors): "prototypes" f32 [M, D] (unit rows) and "labels" i32 [M], plus
// string metadata (e.g. num_classes, grid, label_source, run). load_memory checks both tensors
// exist with matching M, that D == embedding_dim (when > 0) and labels lie in [0, 255]; errors
// name the file and the tensor.
void save_memory(const std::string& path, const spml::PrototypeMemory& memory,
                 const std::map<std::string, std::string>& metadata = {});
spml::PrototypeMemory load_memory(const std::string& path, int64_t embedding_dim,
                                  std::map<std::string, std::string>* metadata = nullptr);

}  // namespace apps
