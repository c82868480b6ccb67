// kNN pseudo-labels and retrieval on hand-made prototypes.
#include "spml/knn.h"

#include <gtest/gtest.h>

#include <vector>

#include "support/expect_error.h"

namespace {

using engine::Tensor;

// Memory in 2-D: three prototypes near +x labelled 1, two near +y labelled 2, one exactly at
// +x labelled 255 (must never vote).
spml::PrototypeMemory toy_memory() {
  Tensor p = Tensor::from_vector<float>(
      {1.0f, 0.1f, 2.0f, 0.2f, 1.0f, 0.3f, 0.1f, 1.0f, 0.2f, 1.0f, 5.0f, 0.0f}, {6, 2});
  Tensor l = Tensor::from_vector<int32_t>({1, 1, 1, 2, 2, 255}, {6});
  return spml::make_prototype_memory(p, l);
}

TEST(Knn, VotesAreTopKFractionsWithout255) {
  spml::PrototypeMemory mem = toy_memory();
  Tensor q = Tensor::from_vector<float>({1.0f, 0.0f, 0.0f, 3.0f, 0.0f, 0.0f}, {3, 2});
  spml::KnnConfig cfg;
  cfg.k = 4;
  Tensor v = spml::knn_votes(q, mem, 3, cfg);
  std::vector<float> got = v.to_vector<float>();
  // Query +x: top 4 = the three label-1 prototypes and the closer label-2 one.
  EXPECT_FLOAT_EQ(got[1], 0.75f);
  EXPECT_FLOAT_EQ(got[2], 0.25f);
  EXPECT_FLOAT_EQ(got[0], 0.0f);
  // Query +y: the two label-2 then the two closest label-1.
  EXPECT_FLOAT_EQ(got[3 + 2], 0.5f);
  EXPECT_FLOAT_EQ(got[3 + 1], 0.5f);
  // Zero query: no votes.
  EXPECT_FLOAT_EQ(got[6] + got[7] + got[8], 0.0f);
  // k larger than the candidates (5 usable): fractions over the 5.
  cfg.k = 20;
  std::vector<float> all = spml::knn_votes(q, mem, 3, cfg).to_vector<float>();
  EXPECT_FLOAT_EQ(all[1], 0.6f);
  EXPECT_FLOAT_EQ(all[2], 0.4f);
}

TEST(Knn, ClusterPrototypesAndMajorityLabels) {
  // 2×3 image, clusters 0 | 1 | -1 per column pair, labels with a 255 majority in cluster 1.
  Tensor ids = Tensor::from_vector<int32_t>({0, 1, -1, 0, 1, 1}, {2, 3});
  Tensor labels = Tensor::from_vector<uint8_t>({4, 255, 7, 4, 255, 3}, {2, 3});
  Tensor maj = spml::cluster_majority_labels(ids, labels, 3);
  EXPECT_EQ(maj.to_vector<int32_t>(), (std::vector<int32_t>{4, 255, 255}));
  Tensor feats = Tensor::from_vector<float>({3, 0, 0, 2, 9, 9, 1, 0, 0, 2, 0, 2}, {2, 3, 2});
  Tensor protos = spml::cluster_prototypes(feats, ids, 3);
  std::vector<float> p = protos.to_vector<float>();
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_FLOAT_EQ(p[1], 0.0f);
  EXPECT_FLOAT_EQ(p[2], 0.0f);  // cluster 1 sums to (0, 6)
  EXPECT_FLOAT_EQ(p[3], 1.0f);
  EXPECT_FLOAT_EQ(p[4], 0.0f);  // empty cluster 2
  EXPECT_FLOAT_EQ(p[5], 0.0f);
}

TEST(Knn, RetrievalLabelsAndTagNormalization) {
  spml::PrototypeMemory mem = toy_memory();
  Tensor ids = Tensor::from_vector<int32_t>({0, 0, 1, -1}, {2, 2});
  Tensor q = Tensor::from_vector<float>({1.0f, 0.05f, 0.0f, 1.0f}, {2, 2});
  spml::KnnConfig cfg;
  cfg.k = 3;
  Tensor lab = spml::knn_retrieval_labels(ids, q, mem, 3, cfg);
  EXPECT_EQ(lab.to_vector<int32_t>(), (std::vector<int32_t>{1, 1, 2, 255}));

  Tensor votes = spml::knn_votes(q, mem, 3, cfg);
  Tensor s = spml::broadcast_cluster_scores(ids, votes);
  ASSERT_EQ(s.shape(), (engine::Shape{2, 2, 3}));
  Tensor n = spml::normalize_tag_scores(s, {false, true, false});
  std::vector<float> a = s.to_vector<float>(), b = n.to_vector<float>();
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(b[i * 3 + 1], a[i * 3 + 1] / 1.0f);  // class-1 max is 1 (cluster 0)
    EXPECT_FLOAT_EQ(b[i * 3 + 2], a[i * 3 + 2]);         // not tagged: untouched, not zeroed
  }
  // The 0.15 floor: a tagged class whose maximum is small is divided by 0.15, not its max.
  Tensor small = Tensor::from_vector<float>({0.05f, 0.1f}, {1, 1, 2});
  std::vector<float> f = spml::normalize_tag_scores(small, {true, true}).to_vector<float>();
  EXPECT_FLOAT_EQ(f[0], 0.05f / 0.15f);
  EXPECT_FLOAT_EQ(f[1], 0.1f / 0.15f);
}

TEST(Knn, RejectsBadInputs) {
  spml::PrototypeMemory mem = toy_memory();
  Tensor q = Tensor::from_vector<float>({1.0f, 0.0f, 0.0f}, {1, 3});
  engine::testing::expect_error([&] { spml::knn_votes(q, mem, 3); },
                                "queries must be CPU f32 [K, 2]");
  Tensor ids = Tensor::from_vector<int32_t>({5}, {1, 1});
  Tensor sc = Tensor::from_vector<float>({1.0f}, {1, 1});
  engine::testing::expect_error([&] { spml::broadcast_cluster_scores(ids, sc); },
                                "cluster id 5 at pixel 0 is >= K = 1");
}

}  // namespace
