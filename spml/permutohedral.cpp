#include "spml/permutohedral.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/error.h"

namespace spml {

namespace {

constexpr int64_t kParallelMin = 1 << 14;

// Open-addressing hash from a lattice key (the first d of its d+1 integer coordinates; the last
// follows from their zero sum) to a dense vertex index. Built single-threaded, read concurrently.
class KeyTable {
 public:
  KeyTable(int64_t max_keys, int d) : d_(d) {
    int64_t cap = 1;
    while (cap < 2 * max_keys) cap <<= 1;
    mask_ = static_cast<uint64_t>(cap - 1);
    slots_.assign(static_cast<size_t>(cap), -1);
    keys_.reserve(static_cast<size_t>(max_keys * d));
  }

  int32_t insert(const int32_t* key) {
    uint64_t h = hash(key) & mask_;
    while (true) {
      int32_t s = slots_[h];
      if (s < 0) {
        s = static_cast<int32_t>(keys_.size() / static_cast<size_t>(d_));
        keys_.insert(keys_.end(), key, key + d_);
        slots_[h] = s;
        return s;
      }
      if (std::memcmp(&keys_[static_cast<size_t>(s) * d_], key, sizeof(int32_t) * d_) == 0)
        return s;
      h = (h + 1) & mask_;
    }
  }

  int32_t find(const int32_t* key) const {
    uint64_t h = hash(key) & mask_;
    while (true) {
      int32_t s = slots_[h];
      if (s < 0) return -1;
      if (std::memcmp(&keys_[static_cast<size_t>(s) * d_], key, sizeof(int32_t) * d_) == 0)
        return s;
      h = (h + 1) & mask_;
    }
  }

  int64_t size() const { return static_cast<int64_t>(keys_.size()) / d_; }
  const int32_t* key(int64_t v) const { return &keys_[static_cast<size_t>(v * d_)]; }

 private:
  uint64_t hash(const int32_t* key) const {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < d_; ++i) {
      h ^= static_cast<uint64_t>(static_cast<uint32_t>(key[i]));
      h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
  }

  int d_;
  uint64_t mask_ = 0;
  std::vector<int32_t> slots_;
  std::vector<int32_t> keys_;
};

}  // namespace

PermutohedralLattice::PermutohedralLattice(const float* features, int64_t n, int d) : n_(n), d_(d) {
  ENGINE_CHECK(d >= 1 && d <= kMaxDim,
               "PermutohedralLattice: feature dim must be in [1, {}], got {}", kMaxDim, d);
  ENGINE_CHECK(n >= 0 && n <= std::numeric_limits<int32_t>::max() / (d + 1),
               "PermutohedralLattice: {} points is out of range for {}-d features", n, d);
  ENGINE_CHECK(n == 0 || features != nullptr, "PermutohedralLattice: null features for {} points",
               n);
  const int d1 = d + 1;
  // The scale that makes the lattice's [1 2 1] blur along each of the d+1 directions
  // approximate a unit-variance Gaussian in feature space (Adams et al., §3.1).
  float scale[kMaxDim];
  const float inv_std = std::sqrt(2.0f / 3.0f) * static_cast<float>(d1);
  for (int i = 0; i < d; ++i) scale[i] = inv_std / std::sqrt(static_cast<float>((i + 1) * (i + 2)));
  // Vertex k of the canonical simplex: coordinate j is k when j <= d-k, else k-(d+1).
  int canonical[(kMaxDim + 1) * (kMaxDim + 1)];
  for (int k = 0; k <= d; ++k)
    for (int j = 0; j <= d; ++j) canonical[k * d1 + j] = (j <= d - k) ? k : k - d1;

  KeyTable table(std::max<int64_t>(n * d1, 1), d);
  vertex_.resize(static_cast<size_t>(n * d1));
  weight_.resize(static_cast<size_t>(n * d1));
  float elevated[kMaxDim + 1], bary[kMaxDim + 2];
  int32_t rem0[kMaxDim + 1], rank[kMaxDim + 1], key[kMaxDim + 1];
  const float down_factor = 1.0f / static_cast<float>(d1);
  for (int64_t i = 0; i < n; ++i) {
    const float* f = features + i * d;
    // Project onto the hyperplane Σx = 0 of R^{d+1}, in the basis whose lattice is A*_d.
    float sm = 0.0f;
    for (int t = d; t > 0; --t) {
      const float cf = f[t - 1] * scale[t - 1];
      elevated[t] = sm - static_cast<float>(t) * cf;
      sm += cf;
    }
    elevated[0] = sm;
    // Nearest remainder-0 point, then the permutation (rank) that orders the residual; together
    // they name the simplex that contains the point.
    int sum = 0;
    for (int t = 0; t <= d; ++t) {
      const float v = elevated[t] * down_factor;
      const float up = std::ceil(v) * static_cast<float>(d1);
      const float down = std::floor(v) * static_cast<float>(d1);
      rem0[t] = static_cast<int32_t>(up - elevated[t] < elevated[t] - down ? up : down);
      sum += rem0[t];
      rank[t] = 0;
    }
    sum /= d1;
    for (int a = 0; a < d; ++a)
      for (int b = a + 1; b <= d; ++b) {
        if (elevated[a] - static_cast<float>(rem0[a]) < elevated[b] - static_cast<float>(rem0[b]))
          ++rank[a];
        else
          ++rank[b];
      }
    if (sum != 0) {
      for (int t = 0; t <= d; ++t) {
        if (sum > 0 && rank[t] >= d1 - sum) {
          rem0[t] -= d1;
          rank[t] += sum - d1;
        } else if (sum < 0 && rank[t] < -sum) {
          rem0[t] += d1;
          rank[t] += d1 + sum;
        } else {
          rank[t] += sum;
        }
      }
    }
    for (int t = 0; t <= d + 1; ++t) bary[t] = 0.0f;
    for (int t = 0; t <= d; ++t) {
      const float v = (elevated[t] - static_cast<float>(rem0[t])) * down_factor;
      bary[d - rank[t]] += v;
      bary[d + 1 - rank[t]] -= v;
    }
    bary[0] += 1.0f + bary[d + 1];
    for (int k = 0; k <= d; ++k) {
      for (int t = 0; t < d; ++t) key[t] = rem0[t] + canonical[k * d1 + rank[t]];
      vertex_[static_cast<size_t>(i * d1 + k)] = table.insert(key);
      weight_[static_cast<size_t>(i * d1 + k)] = bary[k];
    }
  }
  m_ = table.size();

  gather_offset_.assign(static_cast<size_t>(m_ + 1), 0);
  for (int32_t v : vertex_) ++gather_offset_[static_cast<size_t>(v) + 1];
  for (int64_t v = 0; v < m_; ++v) gather_offset_[v + 1] += gather_offset_[v];
  gather_slot_.resize(vertex_.size());
  {
    std::vector<int64_t> fill(gather_offset_.begin(), gather_offset_.end() - 1);
    for (size_t s = 0; s < vertex_.size(); ++s)
      gather_slot_[static_cast<size_t>(fill[static_cast<size_t>(vertex_[s])]++)] =
          static_cast<int32_t>(s);
  }

  neighbor_.resize(static_cast<size_t>(d1 * m_ * 2));
  const int64_t m = m_;
#pragma omp parallel for if (m * d1 > kParallelMin) schedule(static)
  for (int64_t v = 0; v < m; ++v) {
    int32_t n1[kMaxDim + 1], n2[kMaxDim + 1];
    const int32_t* k0 = table.key(v);
    for (int j = 0; j <= d; ++j) {
      // Direction j of the lattice: +1 on every coordinate and -d on coordinate j (only the
      // first d coordinates are keys, so j == d only shifts those by +1).
      for (int t = 0; t < d; ++t) {
        n1[t] = k0[t] - 1;
        n2[t] = k0[t] + 1;
      }
      if (j < d) {
        n1[j] = k0[j] + d;
        n2[j] = k0[j] - d;
      }
      neighbor_[static_cast<size_t>((j * m + v) * 2)] = table.find(n1);
      neighbor_[static_cast<size_t>((j * m + v) * 2 + 1)] = table.find(n2);
    }
  }
}

void PermutohedralLattice::filter(const float* in, float* out, int channels) const {
  ENGINE_CHECK(channels >= 1, "PermutohedralLattice::filter: channels must be >= 1, got {}",
               channels);
  ENGINE_CHECK(in != out, "PermutohedralLattice::filter: in and out must not alias");
  if (n_ == 0) return;
  const int d1 = d_ + 1;
  const int64_t c = channels, m = m_, n = n_;
  std::vector<float> a(static_cast<size_t>(m * c)), b(static_cast<size_t>(m * c));

  // Splat: each vertex gathers its points' values weighted by their barycentric coordinates.
#pragma omp parallel for if (m * c > kParallelMin) schedule(static)
  for (int64_t v = 0; v < m; ++v) {
    float* dst = a.data() + v * c;
    for (int64_t q = 0; q < c; ++q) dst[q] = 0.0f;
    for (int64_t s = gather_offset_[v]; s < gather_offset_[v + 1]; ++s) {
      const int32_t slot = gather_slot_[static_cast<size_t>(s)];
      const float w = weight_[static_cast<size_t>(slot)];
      const float* src = in + static_cast<int64_t>(slot / d1) * c;
#pragma omp simd
      for (int64_t q = 0; q < c; ++q) dst[q] += w * src[q];
    }
  }

  // Blur: a [1 2 1]/4 kernel along each lattice direction in turn.
  for (int j = 0; j <= d_; ++j) {
    const int32_t* nb = neighbor_.data() + static_cast<size_t>(j * m * 2);
    const float* src = a.data();
    float* dst = b.data();
#pragma omp parallel for if (m * c > kParallelMin) schedule(static)
    for (int64_t v = 0; v < m; ++v) {
      const int32_t i1 = nb[v * 2], i2 = nb[v * 2 + 1];
      const float* s0 = src + v * c;
      float* o = dst + v * c;
#pragma omp simd
      for (int64_t q = 0; q < c; ++q) o[q] = 0.5f * s0[q];
      if (i1 >= 0) {
        const float* s1 = src + int64_t{i1} * c;
#pragma omp simd
        for (int64_t q = 0; q < c; ++q) o[q] += 0.25f * s1[q];
      }
      if (i2 >= 0) {
        const float* s2 = src + int64_t{i2} * c;
#pragma omp simd
        for (int64_t q = 0; q < c; ++q) o[q] += 0.25f * s2[q];
      }
    }
    a.swap(b);
  }

  // Slice: interpolate each point's value back from its simplex's vertices.
#pragma omp parallel for if (n * c > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float* o = out + i * c;
    for (int64_t q = 0; q < c; ++q) o[q] = 0.0f;
    for (int k = 0; k < d1; ++k) {
      const float w = weight_[static_cast<size_t>(i * d1 + k)];
      const float* s = a.data() + int64_t{vertex_[static_cast<size_t>(i * d1 + k)]} * c;
#pragma omp simd
      for (int64_t q = 0; q < c; ++q) o[q] += w * s[q];
    }
  }
}

}  // namespace spml
