// The fused SPML loss (docs/spml-loss.md): every enabled relation of spec §4 through the tiled
// kernels of spml/loss_kernels.h, differentiable with respect to the pixel embeddings and the
// current prototypes (plain and with-location); memory-bank prototypes are constants. Never
// materializes a pixel × segment matrix: memory is O(P·R + S·D).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/tensor.h"
#include "spml/loss_config.h"
#include "spml/relations.h"

namespace spml {

// Per-relation losses (means as in spec §4.1 / §4.5). A relation with no participating pixel
// gives a constant 0. CPU tensors: f32 or f64; CUDA tensors (all on one device): f32, through
// cuda/spml_loss.cu.
RelationLosses spml_loss_fused(const LossInputs& inputs, const LossConfig& config);

// Per-pixel losses ℓ [P, R] of one relation space of a plan (R = space.relations.size(); 0 for
// pixels that take no part). Differentiable in `pixels` [P, D] and `current` [S_cur, D];
// `memory` [S_mem, D] (may be undefined) is a constant appended after `current`.
engine::Tensor contrast_space_fused(const engine::Tensor& pixels, const engine::Tensor& current,
                                    const engine::Tensor& memory,
                                    std::shared_ptr<const LossPlan> plan, bool local_space);

// Bytes the fused loss allocates for one step (docs/spml-loss.md "Memory"), beyond its inputs.
struct FusedLossMemory {
  size_t keys = 0;        // per-pixel and per-segment keys, candidate ranges, pixel weights
  size_t saved = 0;       // forward outputs kept for backward: ℓ, ln num, ln den, fallback [P, R]
  size_t candidates = 0;  // current ⊕ memory prototype matrix
  size_t scratch = 0;     // per-thread tiles and the prototype-gradient partials
  size_t gradients = 0;   // gradients it returns: [P, D (+ D_loc)] and [S_cur, D (+ D_loc)]
  size_t total() const { return keys + saved + candidates + scratch + gradients; }
};
FusedLossMemory fused_loss_memory(int64_t pixels, int64_t current_segments, int64_t memory_segments,
                                  int64_t dim, int64_t dim_loc, const LossConfig& config,
                                  int threads);

}  // namespace spml
