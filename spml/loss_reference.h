// The unfused reference of the SPML loss (docs/spml-loss.md): the same relations as
// spml_loss_fused, composed of differentiable engine ops over materialized pixel × segment
// logits and masks. O(P·S) memory: tests and tiny inputs only.
#pragma once

#include "spml/loss_config.h"
#include "spml/relations.h"

namespace spml {

// Per-relation losses; gradients reach the pixel embeddings and the current prototypes (plain
// and with-location); memory prototypes enter detached. f32 or f64.
RelationLosses spml_loss_reference(const LossInputs& inputs, const LossConfig& config);

}  // namespace spml
