// The unfused SPML loss reference: hand-computed tiny examples for each relation (spec §4.1–4.5),
// memory prototypes as constants, and a finite-difference check in f64.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/random.h"
#include "spml/loss_reference.h"
#include "support/gradcheck.h"

namespace spml {
namespace {

using engine::DType;
using engine::Tensor;

// 2-D unit vectors; four current segments over three images:
//   s0 (1, 0)      label 0, image 0, region 5, tags {0}
//   s1 (0.6, 0.8)  label 0, image 0, region 6, tags {0}
//   s2 (0, 1)      label 1, image 1, region 7, tags {1}
//   s3 (-1, 0)     unlabeled, image 2, region 1, tags {} (the all-zero edge case)
// Pixels: p0 (1, 0) in s0, p1 (0, 1) in s2, p2 (-0.6, 0.8) in s3, p3 (0.8, 0.6) in s1.
struct Tiny {
  LossInputs in;
  std::vector<double> e = {1, 0, 0, 1, -0.6, 0.8, 0.8, 0.6};
  std::vector<double> mu = {1, 0, 0.6, 0.8, 0, 1, -1, 0};
  Tiny() {
    in.embedding = Tensor::from_vector(e, {4, 2}).set_requires_grad();
    in.embedding_loc = in.embedding;
    in.pixel_segment = Tensor::from_vector(std::vector<int32_t>{0, 2, 3, 1}, {4});
    in.current.prototypes = Tensor::from_vector(mu, {4, 2}).set_requires_grad();
    in.current.prototypes_loc = in.current.prototypes;
    in.current.label = Tensor::from_vector(std::vector<int32_t>{0, 0, 1, kUnlabeledSegment}, {4});
    in.current.image = Tensor::from_vector(std::vector<int32_t>{0, 0, 1, 2}, {4});
    in.current.region = Tensor::from_vector(std::vector<int32_t>{5, 6, 7, 1}, {4});
    in.current.tags = Tensor::from_vector(std::vector<int64_t>{1, 1, 2, 0}, {4});
  }
  // κ·cos(p_i, s_j) exponentiated.
  double s(int i, int j, double kappa) const {
    return std::exp(kappa * (e[2 * i] * mu[2 * j] + e[2 * i + 1] * mu[2 * j + 1]));
  }
};

LossConfig only(RelationParams LossConfig::*field, double kappa) {
  LossConfig c;
  c.num_classes = 3;
  c.*field = RelationParams{true, kappa, 1.0};
  return c;
}

double nll(double num, double den) {
  return -std::log(num / den);
}

TEST(SpmlLossReference, SemanticAnnotationByHand) {
  Tiny t;
  const double k = 2.0;
  auto l = spml_loss_reference(t.in, only(&LossConfig::sem_ann, k));
  // p0: Pos {s1}, Neg {s2}; p1: Pos empty -> S_own, Neg {s0, s1}; p3: Pos {s0}, Neg {s2}; p2 is
  // unlabeled and s3 is no candidate.
  const double l0 = nll(t.s(0, 1, k), t.s(0, 1, k) + t.s(0, 2, k));
  const double l1 = nll(t.s(1, 2, k), t.s(1, 2, k) + t.s(1, 0, k) + t.s(1, 1, k));
  const double l3 = nll(t.s(3, 0, k), t.s(3, 0, k) + t.s(3, 2, k));
  EXPECT_NEAR(l.sem_ann.item(), (l0 + l1 + l3) / 3, 1e-12);
  EXPECT_FALSE(l.sem_occ.defined());
}

TEST(SpmlLossReference, CoOccurrenceByHandWithAllZeroTags) {
  Tiny t;
  const double k = 3.0;
  auto l = spml_loss_reference(t.in, only(&LossConfig::sem_occ, k));
  auto all = [&](int i) { return t.s(i, 0, k) + t.s(i, 1, k) + t.s(i, 2, k) + t.s(i, 3, k); };
  // p0 and p3 (tags {0}): Pos = the other segment of image 0, Neg {s2, s3}.
  const double l0 = nll(t.s(0, 1, k), t.s(0, 1, k) + t.s(0, 2, k) + t.s(0, 3, k));
  const double l3 = nll(t.s(3, 0, k), t.s(3, 0, k) + t.s(3, 2, k) + t.s(3, 3, k));
  // p1 (tags {1}): no other positive: num = S_own, Neg {s0, s1, s3}.
  const double l1 = nll(t.s(1, 2, k), all(1));
  // p2 (tags {}): nothing matches, its own segment is in Neg and counted twice in den (§4.1).
  const double l2 = nll(t.s(2, 3, k), t.s(2, 3, k) + all(2));
  EXPECT_NEAR(l.sem_occ.item(), (l0 + l1 + l2 + l3) / 4, 1e-12);
}

TEST(SpmlLossReference, ImageSimilarityByHandMeanPerImage) {
  Tiny t;
  const double k = 4.0;
  LossConfig c = only(&LossConfig::img_sim, k);
  auto l = spml_loss_reference(t.in, c);
  // Image 0: p0 (region 5) and p3 (region 6) see only s0, s1, each the other's negative.
  // Images 1 and 2 have one segment each: ℓ = 0.
  const double l0 = nll(t.s(0, 0, k), t.s(0, 0, k) + t.s(0, 1, k));
  const double l3 = nll(t.s(3, 1, k), t.s(3, 1, k) + t.s(3, 0, k));
  EXPECT_NEAR(l.img_sim.item(), ((l0 + l3) / 2 + 0 + 0) / 3, 1e-12);
  // Same region: s1 joins region 5, so p0 has the positive s1 and no negative.
  t.in.current.region = Tensor::from_vector(std::vector<int32_t>{5, 5, 7, 1}, {4});
  auto l2 = spml_loss_reference(t.in, c);
  EXPECT_NEAR(l2.img_sim.item(), 0.0, 1e-12);
}

TEST(SpmlLossReference, FeatureAffinityByHand) {
  Tiny t;
  const double k = 2.5;
  LossConfig c = only(&LossConfig::feat_aff, k);
  c.feat_aff_params = {1, 0.0};
  // s3 (-1, 0): cosines to the labeled s0, s1, s2 are -1, -0.6, 0 -> takes s2's label 1.
  auto l = spml_loss_reference(t.in, c);
  const double l0 = nll(t.s(0, 1, k), t.s(0, 1, k) + t.s(0, 2, k) + t.s(0, 3, k));
  const double l1 = nll(t.s(1, 3, k), t.s(1, 3, k) + t.s(1, 0, k) + t.s(1, 1, k));
  const double l2 = nll(t.s(2, 2, k), t.s(2, 2, k) + t.s(2, 0, k) + t.s(2, 1, k));
  const double l3 = nll(t.s(3, 0, k), t.s(3, 0, k) + t.s(3, 2, k) + t.s(3, 3, k));
  EXPECT_NEAR(l.feat_aff.item(), (l0 + l1 + l2 + l3) / 4, 1e-12);
  // Above a threshold of 0.5 nothing qualifies: s3 and its pixel p2 drop out.
  c.feat_aff_params = {1, 0.5};
  auto lt = spml_loss_reference(t.in, c);
  const double m0 = nll(t.s(0, 1, k), t.s(0, 1, k) + t.s(0, 2, k));
  const double m1 = nll(t.s(1, 2, k), t.s(1, 2, k) + t.s(1, 0, k) + t.s(1, 1, k));
  const double m3 = nll(t.s(3, 0, k), t.s(3, 0, k) + t.s(3, 2, k));
  EXPECT_NEAR(lt.feat_aff.item(), (m0 + m1 + m3) / 3, 1e-12);
}

TEST(SpmlLossReference, MemoryPrototypesArePositivesAndConstants) {
  Tiny t;
  const double k = 2.0;
  t.in.memory.prototypes = Tensor::from_vector(std::vector<double>{0.8, -0.6}, {1, 2});
  t.in.memory.prototypes.set_requires_grad();
  t.in.memory.label = Tensor::from_vector(std::vector<int32_t>{1}, {1});
  t.in.memory.image = Tensor::from_vector(std::vector<int32_t>{10}, {1});
  t.in.memory.region = Tensor::from_vector(std::vector<int32_t>{0}, {1});
  t.in.memory.tags = Tensor::from_vector(std::vector<int64_t>{2}, {1});
  auto l = spml_loss_reference(t.in, only(&LossConfig::sem_ann, k));
  auto sm = [&](int i) { return std::exp(k * (t.e[2 * i] * 0.8 - t.e[2 * i + 1] * 0.6)); };
  // p1 now has the memory segment as its positive; p0 and p3 see it as a negative.
  const double l0 = nll(t.s(0, 1, k), t.s(0, 1, k) + t.s(0, 2, k) + sm(0));
  const double l1 = nll(sm(1), sm(1) + t.s(1, 0, k) + t.s(1, 1, k));
  const double l3 = nll(t.s(3, 0, k), t.s(3, 0, k) + t.s(3, 2, k) + sm(3));
  EXPECT_NEAR(l.sem_ann.item(), (l0 + l1 + l3) / 3, 1e-12);
  l.sem_ann.backward();
  EXPECT_TRUE(t.in.embedding.grad().defined());
  EXPECT_TRUE(t.in.current.prototypes.grad().defined());
  EXPECT_FALSE(t.in.memory.prototypes.grad().defined());
}

TEST(SpmlLossReference, NoParticipatingPixelGivesZero) {
  Tiny t;
  t.in.current.label = Tensor::from_vector(std::vector<int32_t>(4, kUnlabeledSegment), {4});
  auto l = spml_loss_reference(t.in, only(&LossConfig::sem_ann, 2.0));
  EXPECT_EQ(l.sem_ann.item(), 0.0);
}

TEST(SpmlLossReference, FiniteDifferencesAllRelations) {
  // 3 images, 9 segments (labeled, unlabeled, shared and disjoint tags), 2 memory segments;
  // D = 3, with-location D = 4; f64.
  const int64_t p = 12, sc = 9, d = 3, dl = 4;
  engine::Generator gen(11);
  auto unit = [&](int64_t n, int64_t k) {
    return engine::l2_normalize(engine::randn({n, k}, gen, 0, 1, DType::f64), 1).detach();
  };
  LossInputs base;
  base.pixel_segment =
      Tensor::from_vector(std::vector<int32_t>{0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 8}, {p});
  base.current.label =
      Tensor::from_vector(std::vector<int32_t>{0, 1, -1, 2, 2, -1, 1, -1, 0}, {sc});
  base.current.image = Tensor::from_vector(std::vector<int32_t>{0, 0, 0, 1, 1, 1, 2, 2, 2}, {sc});
  base.current.region = Tensor::from_vector(std::vector<int32_t>{0, 0, 1, 3, 4, 4, 2, 2, 2}, {sc});
  base.current.tags = Tensor::from_vector(std::vector<int64_t>{3, 3, 3, 4, 4, 4, 3, 3, 3}, {sc});
  base.memory.prototypes = unit(2, d);
  base.memory.label = Tensor::from_vector(std::vector<int32_t>{2, -1}, {2});
  base.memory.image = Tensor::from_vector(std::vector<int32_t>{20, 21}, {2});
  base.memory.region = Tensor::from_vector(std::vector<int32_t>{0, 0}, {2});
  base.memory.tags = Tensor::from_vector(std::vector<int64_t>{4, 1}, {2});
  LossConfig c;
  c.num_classes = 3;
  c.sem_ann = {true, 3.0, 1.0};
  c.sem_occ = {true, 2.0, 0.5};
  c.img_sim = {true, 4.0, 0.1};
  c.feat_aff = {true, 2.5, 0.7};
  c.feat_aff_params = {2, -1.0};
  auto fn = [&](const std::vector<Tensor>& x) {
    LossInputs in = base;
    in.embedding = x[0];
    in.current.prototypes = x[1];
    in.embedding_loc = x[2];
    in.current.prototypes_loc = x[3];
    return total_loss(c, spml_loss_reference(in, c), engine::zeros({}, DType::f64));
  };
  std::vector<Tensor> x = {unit(p, d), unit(sc, d), unit(p, dl), unit(sc, dl)};
  for (auto& t : x) t.set_requires_grad();
  auto r = engine::testing::gradcheck(fn, x, 1e-6, 1e-7, 1e-5);
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace
}  // namespace spml
