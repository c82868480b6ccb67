// Permutohedral lattice (Adams, Baek & Davis, Eurographics 2010): approximate high-dimensional
// Gaussian filtering in O(N·(d+1)) per channel, the filter behind the dense CRF (spml/crf.h).
#pragma once

#include <cstdint>
#include <vector>

namespace spml {

// A lattice built once for N points with d-dimensional positions, then applied to any number of
// value channels. The positions must already be divided by the kernel's standard deviations: the
// filter approximates out_i ∝ Σ_j exp(-|f_i - f_j|² / 2) · in_j (the self term j = i included).
// The constant of proportionality is not 1 (the lattice blur has its own scale); callers that
// need a normalized kernel divide by the filtered ones vector, as the dense CRF does.
class PermutohedralLattice {
 public:
  static constexpr int kMaxDim = 16;

  // features: N×d floats, row-major (point i's position at features[i*d .. i*d+d)). 1 <= d <= 16.
  PermutohedralLattice(const float* features, int64_t n, int d);

  // in, out: N×channels floats, row-major (channels contiguous per point); in != out.
  void filter(const float* in, float* out, int channels) const;

  int64_t num_points() const { return n_; }
  int dim() const { return d_; }
  // Number of distinct lattice vertices touched (at most N·(d+1)).
  int64_t num_vertices() const { return m_; }

  // The lattice's structure, for filters that run elsewhere (the CUDA dense CRF uploads it and
  // reimplements filter() on the device). With d1 = d + 1 and M = num_vertices():
  // splat_vertex() / splat_weight(): [N, d1], point i's d1 enclosing-simplex vertices (in [0, M))
  // and barycentric weights (they sum to 1). gather_offset(): [M + 1], gather_slot(): [N·d1], the
  // transposed splat (CSR over vertices): vertex v receives the slots s (= i·d1 + k) in
  // gather_slot()[gather_offset()[v] .. gather_offset()[v + 1]), in increasing order.
  // blur_neighbor(): [d1, M, 2], the two neighbours of vertex v along lattice direction j, -1 for
  // a vertex no point touched (it holds 0).
  const std::vector<int32_t>& splat_vertex() const { return vertex_; }
  const std::vector<float>& splat_weight() const { return weight_; }
  const std::vector<int64_t>& gather_offset() const { return gather_offset_; }
  const std::vector<int32_t>& gather_slot() const { return gather_slot_; }
  const std::vector<int32_t>& blur_neighbor() const { return neighbor_; }

 private:
  int64_t n_ = 0;
  int d_ = 0;
  int64_t m_ = 0;
  // Point i splats onto vertices vertex_[i*(d+1)+k] with weights weight_[i*(d+1)+k].
  std::vector<int32_t> vertex_;
  std::vector<float> weight_;
  // The splat as a gather (CSR over vertices) so it runs in parallel without atomics.
  std::vector<int64_t> gather_offset_;  // m+1
  std::vector<int32_t> gather_slot_;    // indices into vertex_/weight_ (i*(d+1)+k)
  // neighbor_[(j*m + v)*2 + {0,1}]: the two neighbours of vertex v along lattice direction j,
  // -1 where the neighbour was never touched (its value is 0).
  std::vector<int32_t> neighbor_;
};

}  // namespace spml
