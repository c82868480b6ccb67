// Fused pixel-to-segment vMF contrastive loss kernels on raw pointers (docs/spml-loss.md). One call
// handles the relations of one embedding space: for tiles of pixels the logits κ·⟨e_i, μ_j⟩ are
// formed by GEMM over tiles of candidate segments, each pair is classified from the relation keys
// (spml/relations.h) inside the loop, and per pixel and relation a running log-sum-exp is kept.
// Nothing of size pixels × segments is stored; the backward recomputes the tile logits.
//
// Layouts: pixels [P, D] and prototypes [S, D] row-major and dense; per-(pixel, relation) arrays
// are [P, R] row-major. T is float or double on CPU, float on CUDA.
#pragma once

#include <cstddef>
#include <cstdint>

namespace spml {

constexpr int kMaxSpaceRelations = 4;

struct KernelRelation {
  int32_t rule = 0;                      // kMatchEqual / kMatchIntersect
  double concentration = 0.0;            // κ > 0
  const int64_t* pixel_key = nullptr;    // [P]; < 0: the pixel takes no part
  const int64_t* segment_key = nullptr;  // [S]; < 0: not a candidate
};

template <typename T>
struct ContrastArgs {
  int64_t num_pixels = 0;            // P
  int64_t num_candidates = 0;        // S: rows of `prototypes`
  int64_t num_grad = 0;              // the first num_grad prototype rows receive gradients
  int64_t dim = 0;                   // D
  const T* pixels = nullptr;         // [P, D]
  const T* prototypes = nullptr;     // [S, D]
  const int32_t* own = nullptr;      // [P]: own segment, < num_grad
  const int32_t* cand_lo = nullptr;  // [P]: candidates of pixel i are [cand_lo[i], cand_hi[i])
  const int32_t* cand_hi = nullptr;  // [P]
  int num_relations = 0;             // R <= kMaxSpaceRelations
  KernelRelation relations[kMaxSpaceRelations];
};

namespace cpu {

// loss[i, r] = ln den − ln num of spec §4.1 (0 where pixel i takes no part in r); log_num,
// log_den and fallback (1 where Pos(i) was empty and num fell back to the own segment) are what
// the backward needs.
template <typename T>
void contrast_forward(const ContrastArgs<T>& args, T* loss, T* log_num, T* log_den,
                      uint8_t* fallback);

// grad_pixels [P, D] and grad_prototypes [num_grad, D] are overwritten with the gradient of
// Σ_{i,r} grad_loss[i, r]·loss[i, r]. Prototype gradients are accumulated in a fixed number of
// partial buffers over fixed pixel ranges and summed in order, so results do not depend on the
// thread count.
template <typename T>
void contrast_backward(const ContrastArgs<T>& args, const T* grad_loss, const T* log_num,
                       const T* log_den, const uint8_t* fallback, T* grad_pixels,
                       T* grad_prototypes);

// Scratch the two kernels allocate (bytes), for the memory accounting of docs/spml-loss.md.
size_t contrast_forward_scratch_bytes(int64_t num_relations, int threads, size_t elem);
size_t contrast_backward_scratch_bytes(int64_t num_pixels, int64_t num_grad, int64_t dim,
                                       int threads, size_t elem);

}  // namespace cpu

namespace cuda {
// The same contract on device pointers (f32), implemented in cuda/spml_loss.cu.
void contrast_forward(const ContrastArgs<float>& args, float* loss, float* log_num, float* log_den,
                      uint8_t* fallback);
void contrast_backward(const ContrastArgs<float>& args, const float* grad_loss,
                       const float* log_num, const float* log_den, const uint8_t* fallback,
                       float* grad_pixels, float* grad_prototypes);
}  // namespace cuda

}  // namespace spml
