#include "spml/segment_pool.h"

#include "engine/error.h"
#include "engine/ops/index.h"
#include "engine/ops/normalize.h"

namespace spml {

using engine::Tensor;

Tensor segment_pixels(const Tensor& embedding, const Segments& segments) {
  ENGINE_CHECK(embedding.defined() && embedding.dim() == 4,
               "segment_pixels: embedding must be [N, h, w, D], got {}",
               embedding.defined() ? embedding.desc() : "undefined");
  const engine::Shape& s = embedding.shape();
  int64_t total = s[0] * s[1] * s[2];
  if (segments.num_pixels() > 0) {
    Tensor idx = segments.pixel_index.to(engine::Device::cpu());
    int64_t last = idx.data<int64_t>()[idx.numel() - 1];
    ENGINE_CHECK(last < total, "segment_pixels: pixel index {} outside embedding {} ({} pixels)",
                 last, embedding.desc(), total);
  }
  Tensor flat = embedding.reshape({total, s[3]});
  return engine::index_select(flat, 0, segments.pixel_index.to(embedding.device()));
}

Tensor pool_prototypes(const Tensor& pixels, const Segments& segments) {
  ENGINE_CHECK(pixels.dim() == 2 && pixels.shape()[0] == segments.num_pixels(),
               "pool_prototypes: pixels must be [{}, D] (one row per segmented pixel), got {}",
               segments.num_pixels(), pixels.desc());
  Tensor sums = engine::segment_sum(pixels, segments.pixel_segment.to(pixels.device()),
                                    segments.num_segments());
  return engine::l2_normalize(sums, 1);
}

SegmentSet make_segment_set(const Tensor& embedding, const Tensor& embedding_loc,
                            const Segments& segments) {
  engine::Device device = embedding.device();
  SegmentSet set;
  set.prototypes = pool_prototypes(segment_pixels(embedding, segments), segments);
  if (embedding_loc.defined())
    set.prototypes_loc = pool_prototypes(segment_pixels(embedding_loc, segments), segments);
  set.label = segments.label.to(device);
  set.image = segments.image.to(device);
  set.region = segments.region.to(device);
  set.tags = segments.tags.to(device);
  return set;
}

}  // namespace spml
