// Felzenszwalb–Huttenlocher segmentation. Edge weights are quantized to 1/16 of an RGB level so
// that the edges can be ordered by one counting sort (linear time, stable, hence deterministic)
// instead of a comparison sort of ~4 HW floats, which dominated the run time.
#include "data/overseg.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace data {
namespace {

constexpr float kWeightScale = 16.f;  // quantization steps per RGB level
constexpr uint32_t kNoEdge = UINT32_MAX;

// Separable Gaussian blur of an interleaved 3-channel u8 image into float, edges clamped.
std::vector<float> smooth(const uint8_t* src, int h, int w, float sigma) {
  size_t n = size_t(h) * size_t(w) * 3;
  std::vector<float> out(n);
  if (sigma <= 0.f) {
    for (size_t i = 0; i < n; ++i) out[i] = float(src[i]);
    return out;
  }
  int radius = std::max(1, int(std::ceil(4.f * sigma)));
  std::vector<float> kernel(size_t(2 * radius + 1));
  float total = 0.f;
  for (int i = -radius; i <= radius; ++i) {
    float v = std::exp(-0.5f * float(i * i) / (sigma * sigma));
    kernel[size_t(i + radius)] = v;
    total += v;
  }
  for (float& v : kernel) v /= total;

  std::vector<float> tmp(n);
  // Horizontal pass.
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = src + size_t(y) * size_t(w) * 3;
    float* trow = tmp.data() + size_t(y) * size_t(w) * 3;
    for (int x = 0; x < w; ++x) {
      float a0 = 0.f, a1 = 0.f, a2 = 0.f;
      for (int i = -radius; i <= radius; ++i) {
        int xx = std::clamp(x + i, 0, w - 1);
        float kv = kernel[size_t(i + radius)];
        a0 += kv * float(row[3 * xx]);
        a1 += kv * float(row[3 * xx + 1]);
        a2 += kv * float(row[3 * xx + 2]);
      }
      trow[3 * x] = a0, trow[3 * x + 1] = a1, trow[3 * x + 2] = a2;
    }
  }
  // Vertical pass: whole rows at a time, so the inner loop is contiguous.
  size_t row_len = size_t(w) * 3;
  for (int y = 0; y < h; ++y) {
    float* orow = out.data() + size_t(y) * row_len;
    std::fill(orow, orow + row_len, 0.f);
    for (int i = -radius; i <= radius; ++i) {
      int yy = std::clamp(y + i, 0, h - 1);
      const float* trow = tmp.data() + size_t(yy) * row_len;
      float kv = kernel[size_t(i + radius)];
      for (size_t j = 0; j < row_len; ++j) orow[j] += kv * trow[j];
    }
  }
  return out;
}

struct DisjointSets {
  std::vector<uint32_t> parent, size;
  std::vector<float> threshold;
  explicit DisjointSets(size_t n, float k) : parent(n), size(n, 1), threshold(n, k) {
    for (size_t i = 0; i < n; ++i) parent[i] = uint32_t(i);
  }
  uint32_t find(uint32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];  // path halving
      x = parent[x];
    }
    return x;
  }
  // Joins two roots; the larger set's root survives (ties: the smaller index, for determinism).
  uint32_t join(uint32_t a, uint32_t b) {
    if (size[a] < size[b] || (size[a] == size[b] && b < a)) std::swap(a, b);
    parent[b] = a;
    size[a] += size[b];
    return a;
  }
};

}  // namespace

engine::Tensor oversegment(const engine::Tensor& rgb, const OversegParams& params) {
  ENGINE_CHECK(rgb.defined() && rgb.device().is_cpu() && rgb.dtype() == engine::DType::u8 &&
                   rgb.dim() == 3 && rgb.size(2) == 3,
               "oversegment: expected a CPU u8 [H, W, 3] RGB image, got {}",
               rgb.defined() ? rgb.desc() : std::string("an undefined tensor"));
  ENGINE_CHECK(params.sigma >= 0.f && params.sigma <= 50.f && std::isfinite(params.k) &&
                   params.k >= 0.f && params.min_size >= 1,
               "oversegment: invalid parameters sigma {} (expected 0..50), k {} (>= 0), "
               "min_size {} (>= 1)",
               params.sigma, params.k, params.min_size);
  int64_t h64 = rgb.size(0), w64 = rgb.size(1);
  ENGINE_CHECK(h64 * w64 < (int64_t(1) << 30), "oversegment: image {} is too large", rgb.desc());
  int h = int(h64), w = int(w64);
  engine::Tensor out = engine::Tensor::empty({h64, w64}, engine::DType::i32);
  if (h == 0 || w == 0) return out;
  engine::Tensor src = rgb.contiguous();
  std::vector<float> img = smooth(src.data<uint8_t>(), h, w, params.sigma);

  // Edge e = 4p + d joins pixel p to its right (d=0), lower (1), lower-right (2) and lower-left
  // (3) neighbour; each undirected 8-neighbour edge appears exactly once.
  size_t npx = size_t(h) * size_t(w);
  const uint32_t max_key = uint32_t(std::ceil(442.f * kWeightScale));
  std::vector<uint32_t> key(npx * 4, kNoEdge);
  const int dx[4] = {1, 0, 1, -1}, dy[4] = {0, 1, 1, 1};
  std::vector<uint32_t> count(max_key + 2, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      size_t p = size_t(y) * size_t(w) + size_t(x);
      const float* a = &img[3 * p];
      for (int d = 0; d < 4; ++d) {
        int xx = x + dx[d], yy = y + dy[d];
        if (xx < 0 || xx >= w || yy >= h) continue;
        const float* b = &img[3 * (size_t(yy) * size_t(w) + size_t(xx))];
        float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
        uint32_t q = uint32_t(std::sqrt(d0 * d0 + d1 * d1 + d2 * d2) * kWeightScale + 0.5f);
        q = std::min(q, max_key);
        key[4 * p + size_t(d)] = q;
        ++count[q + 1];
      }
    }
  for (size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
  size_t nedges = count.back();
  std::vector<uint32_t> order(nedges);
  for (size_t e = 0; e < key.size(); ++e)
    if (key[e] != kNoEdge) order[count[key[e]]++] = uint32_t(e);

  auto other_end = [&](uint32_t e) {
    uint32_t d = e & 3u, p = e >> 2;
    return uint32_t(int64_t(p) + int64_t(dy[d]) * w + dx[d]);
  };

  DisjointSets sets(npx, params.k);
  for (uint32_t e : order) {
    uint32_t a = sets.find(e >> 2), b = sets.find(other_end(e));
    if (a == b) continue;
    float wgt = float(key[e]) / kWeightScale;
    if (wgt <= sets.threshold[a] && wgt <= sets.threshold[b]) {
      uint32_t r = sets.join(a, b);
      sets.threshold[r] = wgt + params.k / float(sets.size[r]);
    }
  }

  // Small regions join the neighbour across their lightest edge (edges in ascending order). The
  // 16-bit limit on region ids is met by repeating this with a doubled minimum size.
  int64_t min_size = params.min_size;
  int64_t regions = 0;
  while (true) {
    for (uint32_t e : order) {
      uint32_t a = sets.find(e >> 2), b = sets.find(other_end(e));
      if (a != b && (int64_t(sets.size[a]) < min_size || int64_t(sets.size[b]) < min_size))
        sets.join(a, b);
    }
    regions = 0;
    for (size_t p = 0; p < npx; ++p) regions += sets.parent[p] == p;
    if (regions <= 65535) break;
    min_size *= 2;
  }

  // Compact ids in raster order of each region's first pixel.
  std::vector<int32_t> id_of_root(npx, -1);
  int32_t* o = out.data<int32_t>();
  int32_t next = 0;
  for (size_t p = 0; p < npx; ++p) {
    uint32_t r = sets.find(uint32_t(p));
    if (id_of_root[r] < 0) id_of_root[r] = next++;
    o[p] = id_of_root[r];
  }
  return out;
}

int64_t count_regions(const engine::Tensor& regions) {
  ENGINE_CHECK(regions.defined() && regions.dtype() == engine::DType::i32,
               "count_regions: expected an i32 region map, got {}",
               regions.defined() ? regions.desc() : std::string("an undefined tensor"));
  engine::Tensor t = regions.contiguous();
  const int32_t* r = t.data<int32_t>();
  int32_t hi = -1;
  for (int64_t i = 0; i < t.numel(); ++i) hi = std::max(hi, r[i]);
  return int64_t(hi) + 1;
}

}  // namespace data
