#include "spml/loss_reference.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/index.h"
#include "engine/ops/join.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"

namespace spml {

namespace {

using engine::DType;
using engine::Tensor;

// ℓ summed with the relation's pixel weights, for one relation over materialized [Pr, S] masks.
Tensor relation_reference(const Tensor& pixels, const Tensor& candidates, const LossPlan& plan,
                          const RelationSpace& space, const RelationKeys& k) {
  const DType dt = pixels.dtype();
  // The masks, indices and weights are built on the host; the ops need them on the pixels'
  // device (CUDA inputs would otherwise fail the device checks).
  const engine::Device dev = pixels.device();
  const int64_t p = pixels.size(0), s = candidates.size(0);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < p; ++i)
    if (k.pixel_key[i] >= 0) rows.push_back(i);
  const int64_t pr = int64_t(rows.size());
  if (pr == 0) return engine::zeros({}, dt, dev);
  std::vector<double> pos(size_t(pr * s), 0.0), neg(size_t(pr * s), 0.0), own(size_t(pr * s), 0.0);
  std::vector<uint8_t> has_pos(size_t(pr), 0);
  std::vector<double> weight(static_cast<size_t>(pr));
  for (int64_t a = 0; a < pr; ++a) {
    const int64_t i = rows[a];
    weight[a] = k.pixel_weight[i];
    own[a * s + plan.own[i]] = 1.0;
    for (int64_t j = space.cand_lo[i]; j < space.cand_hi[i]; ++j) {
      const int32_t c =
          classify_pair(k.rule, k.pixel_key[i], plan.own[i], k.segment_key[j], int32_t(j));
      pos[a * s + j] = c == kPairPositive;
      neg[a * s + j] = c == kPairNegative;
      has_pos[a] |= c == kPairPositive;
    }
  }
  auto mat = [&](const std::vector<double>& v) {
    return Tensor::from_vector(v, {pr, s}).to(dt).to(dev);
  };
  Tensor idx = Tensor::from_vector(rows, {pr}).to(dev);
  Tensor e = engine::index_select(pixels, 0, idx);
  const double kappa = k.concentration;
  // exp(κ(cos − 1)): the bound κ·cos ≤ κ as the shift keeps every term ≤ 1.
  Tensor ex = engine::exp(
      engine::sub(engine::mul(engine::matmul(e, candidates.transpose(0, 1)), kappa), kappa));
  Tensor pos_sum = engine::sum(engine::mul(ex, mat(pos)), {1});
  Tensor neg_sum = engine::sum(engine::mul(ex, mat(neg)), {1});
  Tensor own_s = engine::sum(engine::mul(ex, mat(own)), {1});
  Tensor cond = Tensor::from_vector(has_pos, {pr}).to(DType::boolean).to(dev);
  Tensor num = engine::where(cond, pos_sum, own_s);
  Tensor den = engine::add(num, neg_sum);
  Tensor ell = engine::sub(engine::log(den), engine::log(num));
  return engine::sum(engine::mul(ell, Tensor::from_vector(weight, {pr}).to(dt).to(dev)));
}

void assign(RelationLosses& out, Relation r, const Tensor& v) {
  switch (r) {
    case Relation::kSemAnn:
      out.sem_ann = v;
      break;
    case Relation::kSemOcc:
      out.sem_occ = v;
      break;
    case Relation::kImgSim:
      out.img_sim = v;
      break;
    case Relation::kFeatAff:
      out.feat_aff = v;
      break;
  }
}

}  // namespace

RelationLosses spml_loss_reference(const LossInputs& in, const LossConfig& config) {
  const LossPlan plan = build_loss_plan(in, config);
  RelationLosses out;
  if (!plan.plain.relations.empty()) {
    Tensor cand = in.current.prototypes;
    if (in.memory.size() > 0)
      cand = engine::concat({in.current.prototypes, in.memory.prototypes.detach()}, 0);
    for (const RelationKeys& k : plan.plain.relations)
      assign(out, k.relation, relation_reference(in.embedding, cand, plan, plan.plain, k));
  }
  for (const RelationKeys& k : plan.local.relations) {
    const bool loc = plan.local.location;
    assign(out, k.relation,
           relation_reference(loc ? in.embedding_loc : in.embedding,
                              loc ? in.current.prototypes_loc : in.current.prototypes, plan,
                              plan.local, k));
  }
  return out;
}

}  // namespace spml
