#include "spml/segmentation.h"

#include <algorithm>

#include "engine/error.h"

namespace spml {

using engine::Tensor;

namespace {

// (cluster, label, region) packed so that sorting keys sorts segments: 20 bits of cluster
// (K² up to a million), 8 of label, 32 of region.
uint64_t pack_key(int32_t cluster, uint8_t label, int32_t region) {
  return (static_cast<uint64_t>(cluster) << 40) | (static_cast<uint64_t>(label) << 32) |
         static_cast<uint32_t>(region);
}

void check_map(const char* name, const Tensor& t, engine::DType dtype, const Tensor& clusters) {
  ENGINE_CHECK(t.dtype() == dtype && t.shape() == clusters.shape(),
               "make_segments: {} must be {} shaped like clusters {}, got {}", name,
               engine::dtype_name(dtype), clusters.desc(), t.desc());
}

Tensor on_cpu(const Tensor& t) {
  return t.to(engine::Device::cpu()).contiguous();
}

}  // namespace

Segments make_segments(const Tensor& clusters_in, const Tensor& labels_in, const Tensor& regions_in,
                       const std::vector<uint64_t>& tags, int num_classes) {
  ENGINE_CHECK(
      clusters_in.defined() && clusters_in.dim() == 3 && clusters_in.dtype() == engine::DType::i32,
      "make_segments: clusters must be i32 [N, h, w], got {}",
      clusters_in.defined() ? clusters_in.desc() : "undefined");
  ENGINE_CHECK(num_classes >= 1 && num_classes <= 64,
               "make_segments: num_classes must be in [1, 64] (tags are 64-bit masks), got {}",
               num_classes);
  Tensor clusters = on_cpu(clusters_in), labels = on_cpu(labels_in);
  check_map("labels", labels, engine::DType::u8, clusters);
  Tensor regions;
  if (regions_in.defined()) {
    regions = on_cpu(regions_in);
    check_map("regions", regions, engine::DType::i32, clusters);
  }
  const int64_t n = clusters.shape()[0], hw = clusters.shape()[1] * clusters.shape()[2];
  ENGINE_CHECK(static_cast<int64_t>(tags.size()) == n,
               "make_segments: {} tag masks for a batch of {} images", tags.size(), n);
  const int32_t* cp = clusters.data<int32_t>();
  const uint8_t* lp = labels.data<uint8_t>();
  const int32_t* rp = regions.defined() ? regions.data<int32_t>() : nullptr;

  // Checked before the parallel loop: an exception must not leave an OpenMP region.
  for (int64_t i = 0; i < n * hw; ++i) {
    ENGINE_CHECK(cp[i] < (1 << 20), "make_segments: cluster id {} of image {} too large", cp[i],
                 i / hw);
    ENGINE_CHECK(!rp || rp[i] >= 0, "make_segments: negative region id {} in image {}",
                 rp ? rp[i] : 0, i / hw);
  }
  // Per image: the sorted distinct keys; then each pixel finds its key by binary search.
  std::vector<std::vector<uint64_t>> keys(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic) if (n * hw > 65536)
  for (int64_t b = 0; b < n; ++b) {
    std::vector<uint64_t>& k = keys[static_cast<size_t>(b)];
    for (int64_t i = b * hw; i < (b + 1) * hw; ++i) {
      if (cp[i] < 0) continue;
      k.push_back(pack_key(cp[i], lp[i], rp ? rp[i] : 0));
    }
    std::sort(k.begin(), k.end());
    k.erase(std::unique(k.begin(), k.end()), k.end());
  }
  std::vector<int64_t> first(static_cast<size_t>(n + 1), 0);
  for (int64_t b = 0; b < n; ++b) first[b + 1] = first[b] + static_cast<int64_t>(keys[b].size());
  const int64_t num_segments = first[n];

  std::vector<int64_t> pixel_index;
  std::vector<int32_t> pixel_segment;
  for (int64_t i = 0; i < n * hw; ++i) {
    if (cp[i] < 0) continue;
    const std::vector<uint64_t>& k = keys[static_cast<size_t>(i / hw)];
    uint64_t key = pack_key(cp[i], lp[i], rp ? rp[i] : 0);
    int64_t local = std::lower_bound(k.begin(), k.end(), key) - k.begin();
    pixel_index.push_back(i);
    pixel_segment.push_back(static_cast<int32_t>(first[i / hw] + local));
  }

  std::vector<int32_t> image(num_segments), label(num_segments), region(num_segments);
  std::vector<int64_t> seg_tags(num_segments);
  for (int64_t b = 0; b < n; ++b)
    for (size_t j = 0; j < keys[b].size(); ++j) {
      int64_t s = first[b] + static_cast<int64_t>(j);
      uint64_t key = keys[b][j];
      int lab = static_cast<int>((key >> 32) & 0xff);
      image[s] = static_cast<int32_t>(b);
      label[s] = lab < num_classes ? lab : kUnlabeledSegment;
      region[s] = static_cast<int32_t>(key & 0xffffffffu);
      seg_tags[s] = static_cast<int64_t>(tags[b]);
    }

  Segments out;
  const int64_t p = static_cast<int64_t>(pixel_index.size());
  out.pixel_index = Tensor::from_vector(pixel_index, {p});
  out.pixel_segment = Tensor::from_vector(pixel_segment, {p});
  out.image = Tensor::from_vector(image, {num_segments});
  out.label = Tensor::from_vector(label, {num_segments});
  out.region = Tensor::from_vector(region, {num_segments});
  out.tags = Tensor::from_vector(seg_tags, {num_segments});
  return out;
}

}  // namespace spml
