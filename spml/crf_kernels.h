// Device side of the dense CRF (spml/crf.h): mean-field inference on permutohedral lattices that
// the host built (spml/permutohedral.h) and uploaded. Implemented in cuda/crf.cu; only built with
// the CUDA backend. Raw device pointers, f32, row-major; N points (pixels), C classes.
#pragma once

#include <cstdint>

namespace spml::cuda {

// One pairwise term: a PermutohedralLattice's structure in device memory (layouts as its
// accessors document, d1 = dim + 1) and the term's Potts weight.
struct CrfLatticeArgs {
  int64_t points = 0;                      // N
  int64_t vertices = 0;                    // M >= 1
  int dim = 0;                             // d, 1..PermutohedralLattice::kMaxDim
  float weight = 0.0f;                     // w_m
  const int32_t* splat_vertex = nullptr;   // [N, d1], values in [0, M)
  const float* splat_weight = nullptr;     // [N, d1]
  const int64_t* gather_offset = nullptr;  // [M + 1]
  const int32_t* gather_slot = nullptr;    // [N·d1], slots i·d1 + k
  const int32_t* blur_neighbor = nullptr;  // [d1, M, 2], -1 = untouched vertex
};

// probs: [N, C] class scores (clipped to [prob_clip, 1], NaN -> prob_clip, as on the CPU);
// kernels: host array of num_kernels lattices over the same N points; q: [N, C] output, the
// marginals after `iterations` mean-field steps:
//   U = -ln(clip(p)), Q0 = softmax(-U), Q <- softmax(-U + Σ_m w_m · D_m^-1/2 K_m D_m^-1/2 Q),
// D_m = K_m 1 computed once on the device. Queued on the current device's compute stream;
// scratch (2·N·C + K·N + 2·max_m M_m·C floats) comes from the caching allocator.
void dense_crf_mean_field(const float* probs, int64_t points, int64_t classes, float prob_clip,
                          const CrfLatticeArgs* kernels, int num_kernels, int iterations, float* q);

}  // namespace spml::cuda
