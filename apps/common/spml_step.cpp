#include "apps/common/spml_step.h"

#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/join.h"

namespace apps {

using engine::Tensor;

namespace {

// Copies of every buffer (BN running statistics), to undo the no-grad pass's updates.
std::vector<std::pair<Tensor, Tensor>> snapshot_buffers(layers::Module& m) {
  std::vector<std::pair<Tensor, Tensor>> saved;
  for (auto& [name, t] : m.named_buffers()) saved.emplace_back(t, t.clone());
  return saved;
}

void restore_buffers(const std::vector<std::pair<Tensor, Tensor>>& saved) {
  for (const auto& [live, copy] : saved) {
    Tensor dst = live;
    dst.copy_(copy);
  }
}

spml::ObjectiveResult whole_batch(models::EmbeddingModel& model,
                                  models::SoftmaxClassifier& classifier,
                                  spml::SpmlObjective& objective, const Tensor& images,
                                  spml::ObjectiveInputs in) {
  in.embedding = model.forward(images).embedding;
  in.logits = classifier.forward(in.embedding.detach());
  spml::ObjectiveResult res = objective.compute(in);
  res.total.backward();
  return res;
}

}  // namespace

spml::ObjectiveResult spml_forward_backward(models::EmbeddingModel& model,
                                            models::SoftmaxClassifier& classifier,
                                            spml::SpmlObjective& objective, const Tensor& images,
                                            spml::ObjectiveInputs in, int64_t micro_batches) {
  const int64_t n = images.size(0);
  ENGINE_CHECK(micro_batches >= 1 && n % micro_batches == 0,
               "train step: batch of {} images does not split into {} equal micro-batches", n,
               micro_batches);
  if (micro_batches == 1) return whole_batch(model, classifier, objective, images, std::move(in));
  const int64_t m = n / micro_batches;

  std::vector<Tensor> parts;
  {
    const auto saved = snapshot_buffers(model);
    engine::autograd::NoGradGuard no_grad;
    for (int64_t i = 0; i < micro_batches; ++i)
      parts.push_back(model.forward(images.narrow(0, i * m, m).contiguous()).embedding);
    restore_buffers(saved);
  }
  Tensor whole = engine::concat(parts, 0);
  whole.set_requires_grad(true);
  in.embedding = whole;
  in.logits = classifier.forward(whole.detach());
  spml::ObjectiveResult res = objective.compute(in);
  res.total.backward();
  const Tensor grad = whole.grad();
  ENGINE_CHECK(grad.defined(), "train step: the objective gave no gradient to the embedding");

  for (int64_t i = 0; i < micro_batches; ++i) {
    Tensor e = model.forward(images.narrow(0, i * m, m).contiguous()).embedding;
    e.backward(grad.narrow(0, i * m, m).contiguous());
  }
  return res;
}

}  // namespace apps
