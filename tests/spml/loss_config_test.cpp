// SPML loss configuration: presets against spec §4.7, preset lookup errors, validation, JSON and
// the total-loss formula of §4.6.
#include <gtest/gtest.h>

#include "engine/ops/factory.h"
#include "spml/loss_config.h"
#include "support/expect_error.h"

namespace spml {
namespace {

void expect_rel(const RelationParams& r, bool on, double kappa, double weight) {
  EXPECT_EQ(r.enabled, on);
  if (on) {
    EXPECT_EQ(r.concentration, kappa);
    EXPECT_EQ(r.weight, weight);
  }
}

TEST(SpmlLossConfig, PresetsMatchSpecTable) {
  struct Row {
    const char* name;
    double ann_w, occ_k, occ_w;
  };
  for (const Row& row : {Row{"voc_scribble", 1.0, 12, 0.5}, Row{"voc_tag", 0.3, 8, 0.3},
                         Row{"voc_box", 0.3, 8, 0.3}, Row{"voc_point", 0.1, 8, 0.1}}) {
    SCOPED_TRACE(row.name);
    LossConfig c = loss_preset(row.name);
    EXPECT_EQ(c.num_classes, 21);
    expect_rel(c.sem_ann, true, 6, row.ann_w);
    expect_rel(c.sem_occ, true, row.occ_k, row.occ_w);
    expect_rel(c.img_sim, true, 16, 0.1);
    expect_rel(c.feat_aff, false, 0, 0);
    EXPECT_TRUE(c.img_sim_use_location);
    EXPECT_TRUE(c.joint_ce);
    EXPECT_EQ(c.memory_batches, 2);
    EXPECT_EQ(c.kmeans_grid, 6);
    EXPECT_EQ(c.kmeans_iterations, 10);
  }
  LossConfig d = loss_preset("densepose_point");
  EXPECT_EQ(d.num_classes, 15);
  expect_rel(d.sem_ann, true, 6, 1.0);
  expect_rel(d.sem_occ, false, 0, 0);
  expect_rel(d.img_sim, true, 16, 0.1);
  expect_rel(d.feat_aff, true, 12, 0.5);  // README decision 2: on
  EXPECT_FALSE(d.img_sim_use_location);
  EXPECT_EQ(d.memory_batches, 0);
  EXPECT_EQ(d.kmeans_grid, 12);
  LossConfig s = loss_preset("segsort");
  expect_rel(s.sem_ann, true, 10, 1.0);
  EXPECT_FALSE(s.sem_occ.enabled || s.img_sim.enabled || s.feat_aff.enabled);
  for (const auto& n : loss_preset_names()) EXPECT_NO_THROW(validate(loss_preset(n)));
}

TEST(SpmlLossConfig, UnknownPresetListsValidNames) {
  engine::testing::expect_error([] { loss_preset("voc_scribbles"); },
                                {"unknown loss preset 'voc_scribbles'", "voc_scribble, voc_tag",
                                 "densepose_point", "segsort"});
}

TEST(SpmlLossConfig, ValidationNamesTheField) {
  LossConfig c = loss_preset("voc_tag");
  c.sem_occ.concentration = 0;
  engine::testing::expect_error([&] { validate(c); }, "sem_occ is enabled with concentration 0");
  c = loss_preset("voc_tag");
  c.img_sim.weight = -1;
  engine::testing::expect_error([&] { validate(c); }, "img_sim.weight is -1");
  c = loss_preset("voc_tag");
  c.num_classes = 64;
  engine::testing::expect_error([&] { validate(c); }, "num_classes is 64");
  c = loss_preset("densepose_point");
  c.feat_aff_params.top_k = 0;
  engine::testing::expect_error([&] { validate(c); }, "top_k is 0");
}

TEST(SpmlLossConfig, JsonHasEveryField) {
  const std::string j = to_json(loss_preset("densepose_point"));
  for (const char* key : {"\"num_classes\": 15",
                          "\"feat_aff\": {\"enabled\": true, "
                          "\"concentration\": 12, \"weight\": 0.5}",
                          "\"feat_aff_top_k\": 1", "\"img_sim_use_location\": false",
                          "\"memory_batches\": 0", "\"kmeans_grid\": 12"})
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j;
}

TEST(SpmlLossConfig, TotalLossWeightsTheCrossEntropyWithAnnotation) {
  LossConfig c = loss_preset("voc_tag");
  auto s = [](double v) { return engine::full({}, v, engine::DType::f64); };
  RelationLosses l{s(2.0), s(3.0), s(5.0), engine::Tensor()};
  // 0.3·(CE 7 + 2) + 0.3·3 + 0.1·5
  EXPECT_NEAR(total_loss(c, l, s(7.0)).item(), 0.3 * 9 + 0.9 + 0.5, 1e-12);
  engine::testing::expect_error([&] { total_loss(c, l); }, "joint_ce on but no cross-entropy");
  c.sem_occ.enabled = true;
  l.sem_occ = engine::Tensor();
  engine::testing::expect_error([&] { total_loss(c, l, s(1.0)); },
                                "relation sem_occ is enabled but its loss is missing");
}

}  // namespace
}  // namespace spml
