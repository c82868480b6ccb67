#include "spml/train_step.h"

#include <utility>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/loss.h"
#include "engine/ops/resize.h"
#include "spml/kmeans.h"
#include "spml/loss_fused.h"
#include "spml/segment_pool.h"
#include "spml/segmentation.h"
#include "spml/side_features.h"

namespace spml {

using engine::DType;
using engine::Tensor;

namespace {

void check_map(const Tensor& t, const char* name, DType dtype, int64_t n, int64_t h, int64_t w) {
  ENGINE_CHECK(t.dim() == 3 && t.size(0) == n && t.size(1) == h && t.size(2) == w,
               "SpmlObjective: {} must be [{}, {}, {}] (batch, crop height, crop width), got {}",
               name, n, h, w, t.desc());
  ENGINE_CHECK(t.dtype() == dtype, "SpmlObjective: {} must be {}, got {}", name,
               engine::dtype_name(dtype), t.desc());
}

}  // namespace

SpmlObjective::SpmlObjective(LossConfig config)
    : config_(std::move(config)), memory_(config_.memory_batches) {
  validate(config_);
}

Tensor joint_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& valid) {
  ENGINE_CHECK(logits.defined() && logits.dim() == 4,
               "joint_cross_entropy: logits must be [N, h, w, C], got {}",
               logits.defined() ? logits.desc() : std::string("undefined"));
  const int64_t n = labels.size(0), H = labels.size(1), W = labels.size(2);
  ENGINE_CHECK(logits.size(0) == n, "joint_cross_entropy: logits {} and labels {} differ in batch",
               logits.desc(), labels.desc());
  const int64_t C = logits.size(3);
  // The target is built on the host: values >= C and padding become the ignore index 255.
  Tensor lab = labels.cpu().contiguous();
  Tensor val = valid.defined() ? valid.cpu().contiguous() : Tensor();
  Tensor target = Tensor::empty({n, H, W}, DType::i32);
  const uint8_t* l = lab.data<uint8_t>();
  const uint8_t* v = val.defined() ? val.data<uint8_t>() : nullptr;
  int32_t* t = target.data<int32_t>();
  const int64_t total = n * H * W;
  for (int64_t i = 0; i < total; ++i) {
    const bool ignore = l[i] >= C || (v != nullptr && v[i] == 0);
    t[i] = ignore ? 255 : int32_t(l[i]);
  }
  Tensor up = (logits.size(1) == H && logits.size(2) == W)
                  ? logits
                  : engine::resize_bilinear(logits, H, W, /*align_corners=*/false);
  return engine::cross_entropy(up, target.to(logits.device()), 255, engine::Reduction::mean);
}

ObjectiveResult SpmlObjective::compute(const ObjectiveInputs& in) {
  ENGINE_CHECK(in.embedding.defined() && in.embedding.dim() == 4,
               "SpmlObjective: embedding must be [N, h, w, D], got {}",
               in.embedding.defined() ? in.embedding.desc() : std::string("undefined"));
  ENGINE_CHECK(in.labels.defined(), "SpmlObjective: labels are required");
  const int64_t n = in.embedding.size(0), h = in.embedding.size(1), w = in.embedding.size(2);
  const int64_t H = in.labels.size(1), W = in.labels.size(2);
  check_map(in.labels, "labels", DType::u8, n, H, W);
  if (in.valid.defined()) check_map(in.valid, "valid", DType::u8, n, H, W);
  if (in.regions.defined()) check_map(in.regions, "regions", DType::i32, n, H, W);
  ENGINE_CHECK(int64_t(in.tags.size()) == n, "SpmlObjective: {} tag masks for a batch of {}",
               in.tags.size(), n);
  ENGINE_CHECK(!config_.joint_ce || in.logits.defined(),
               "SpmlObjective: the preset has the joint CE on (LossConfig::joint_ce) but no "
               "classifier logits were given");
  const engine::Device device = in.embedding.device();
  ENGINE_CHECK(!in.logits.defined() || in.logits.device() == device,
               "SpmlObjective: logits {} must be on the embedding's device ({})", in.logits.desc(),
               device.str());

  // Labels, validity and regions at the embedding's resolution, by nearest neighbour so that ids
  // stay exact (regions are i32, labels u8).
  Tensor labels_s = engine::resize_nearest_labels(in.labels.cpu(), h, w).contiguous();
  Tensor valid_s = in.valid.defined()
                       ? engine::resize_nearest_labels(in.valid.cpu(), h, w).contiguous()
                       : Tensor();
  Tensor regions_s = in.regions.defined()
                         ? engine::resize_nearest_labels(in.regions.cpu(), h, w).contiguous()
                         : Tensor();
  if (regions_s.defined()) {
    // Padding carries region -1; those pixels are excluded by `valid`, but make_segments wants
    // ids >= 0 everywhere.
    int32_t* r = regions_s.data<int32_t>();
    for (int64_t i = 0, e = regions_s.numel(); i < e; ++i)
      if (r[i] < 0) r[i] = 0;
  }

  Tensor loc = location_features(n, h, w, device);
  Tensor embedding_loc = with_side_features(in.embedding, loc);

  Tensor clusters;
  {
    engine::autograd::NoGradGuard no_grad;
    KMeansConfig kc;
    kc.grid = config_.kmeans_grid;
    kc.iterations = config_.kmeans_iterations;
    clusters = spherical_kmeans(embedding_loc.detach(), valid_s, kc);
  }
  Segments segments = make_segments(clusters, labels_s, regions_s, in.tags, config_.num_classes);
  ENGINE_CHECK(segments.num_pixels() > 0,
               "SpmlObjective: the batch has no valid pixel (every pixel is padding)");

  LossInputs li;
  li.embedding = segment_pixels(in.embedding, segments);
  li.embedding_loc = segment_pixels(embedding_loc, segments);
  li.pixel_segment = segments.pixel_segment;
  li.current = make_segment_set(in.embedding, embedding_loc, segments);
  li.memory = memory_.contents(n);
  if (li.memory.size() > 0 && li.memory.prototypes.device() != device) {
    // A bank loaded onto another device than the one training runs on (see the header).
    engine::autograd::NoGradGuard no_grad;
    SegmentSet& m = li.memory;
    for (Tensor* t : {&m.prototypes, &m.label, &m.image, &m.region, &m.tags}) *t = t->to(device);
  }

  ObjectiveResult r;
  r.terms = spml_loss_fused(li, config_);
  if (config_.joint_ce) r.ce = joint_cross_entropy(in.logits, in.labels, in.valid);
  r.total = total_loss(config_, r.terms, r.ce);
  r.num_pixels = segments.num_pixels();
  r.num_segments = segments.num_segments();
  r.num_memory_segments = li.memory.size();

  pending_ = li.current;
  pending_images_ = n;
  has_pending_ = true;
  return r;
}

void SpmlObjective::commit() {
  if (!has_pending_) return;
  memory_.push(pending_, pending_images_);
  pending_ = SegmentSet();
  has_pending_ = false;
}

}  // namespace spml
