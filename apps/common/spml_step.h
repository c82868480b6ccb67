// One SPML training step's forward and backward pass (spec spml.md §2–4, §4.6), with optional
// gradient accumulation over micro-batches that keeps the whole batch's prototype set
// (spec README decision 5).
//
// micro_batches = 1: one forward pass of the whole batch with autograd, objective, backward.
//
// micro_batches = m > 1 (batch size divisible by m): the embedding is the checkpoint.
//   1. Each micro-batch goes through the network without autograd; the embeddings are joined
//      into the whole batch's embedding E (N·h·w·D floats, small next to the activations).
//      BatchNorm running statistics are restored after this pass, so it leaves no trace.
//   2. The joint classifier and the objective run on the whole E as a leaf: clustering,
//      segments, prototypes and every relation see all N images, exactly as with m = 1.
//      backward() gives dL/dE and the classifier's gradients.
//   3. Each micro-batch is forwarded again with autograd and back-propagated with its slice of
//      dL/dE as the output gradient; parameter gradients add up over the micro-batches.
// The gradient equals the whole-batch one except through BatchNorm in train mode, whose batch
// statistics (and running-statistic updates, one per micro-batch) are those of each micro-batch,
// as in any gradient accumulation. Peak activation memory is that of one micro-batch.
//
// The caller zeroes gradients before and steps the optimizer after; the returned total is
// checked for NaN/Inf by the caller before stepping.
#pragma once

#include <cstdint>

#include "engine/tensor.h"
#include "models/embedding_model.h"
#include "spml/train_step.h"

namespace apps {

// images: normalized f32 [N, H, W, 3]; `inputs` carries labels, valid, regions and tags (its
// embedding and logits are filled here). Returns the objective's result after backward().
spml::ObjectiveResult spml_forward_backward(models::EmbeddingModel& model,
                                            models::SoftmaxClassifier& classifier,
                                            spml::SpmlObjective& objective,
                                            const engine::Tensor& images,
                                            spml::ObjectiveInputs inputs, int64_t micro_batches);

}  // namespace apps
