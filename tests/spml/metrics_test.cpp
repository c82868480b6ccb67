// ConfusionMatrix: hand-computed counts, IoU, mIoU, accuracies, ignore index, absent classes,
// errors, and the JSON / CSV / table output.
#include "spml/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "support/expect_error.h"

namespace {

using engine::DType;
using engine::Tensor;
using spml::AbsentClassPolicy;
using spml::ConfusionMatrix;

Tensor u8(const std::vector<uint8_t>& v, const engine::Shape& shape) {
  return Tensor::from_vector(v, shape);
}

// 3 classes, 2x4 image:
//   target     0 0 1 1 | 2 2 255 1
//   prediction 0 1 1 1 | 2 0 2   255
// pairs (gt, pred): (0,0) (0,1) (1,1) (1,1) (2,2) (2,0) ignored (1,other)
// rows: gt0: [1 1 0 | 0], gt1: [0 2 0 | 1], gt2: [1 0 1 | 0]
// TP = 1, 2, 1; gt = 2, 3, 2; pred = 2, 3, 1
// IoU0 = 1/(2+2-1) = 1/3, IoU1 = 2/(3+3-2) = 1/2, IoU2 = 1/(2+1-1) = 1/2
ConfusionMatrix example() {
  ConfusionMatrix m(3);
  m.add(u8({0, 1, 1, 1, 2, 0, 2, 255}, {2, 4}), u8({0, 0, 1, 1, 2, 2, 255, 1}, {2, 4}));
  return m;
}

TEST(ConfusionMatrix, HandComputedCounts) {
  ConfusionMatrix m = example();
  const int64_t expected[3][4] = {{1, 1, 0, 0}, {0, 2, 0, 1}, {1, 0, 1, 0}};
  for (int g = 0; g < 3; ++g)
    for (int p = 0; p < 4; ++p) EXPECT_EQ(m.count(g, p), expected[g][p]) << g << "," << p;
  EXPECT_EQ(m.ignored_pixels(), 1);
  EXPECT_EQ(m.total_valid(), 7);
}

TEST(ConfusionMatrix, HandComputedScores) {
  spml::SegmentationScores s = example().scores();
  EXPECT_DOUBLE_EQ(s.iou[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.iou[1], 0.5);
  EXPECT_DOUBLE_EQ(s.iou[2], 0.5);
  EXPECT_DOUBLE_EQ(s.mean_iou, (1.0 / 3 + 0.5 + 0.5) / 3);
  EXPECT_DOUBLE_EQ(s.pixel_accuracy, 4.0 / 7);
  EXPECT_DOUBLE_EQ(s.class_accuracy[0], 0.5);
  EXPECT_DOUBLE_EQ(s.class_accuracy[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.class_accuracy[2], 0.5);
  EXPECT_DOUBLE_EQ(s.mean_class_accuracy, (0.5 + 2.0 / 3 + 0.5) / 3);
  EXPECT_DOUBLE_EQ(s.frequency_weighted_iou, (2 * (1.0 / 3) + 3 * 0.5 + 2 * 0.5) / 7);
  EXPECT_EQ(s.valid_pixels, 7);
  EXPECT_EQ(s.ignored_pixels, 1);
  EXPECT_EQ(s.invalid_predictions, 1);
  EXPECT_EQ(s.classes_present, 3);
  EXPECT_EQ(s.gt_pixels, (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ(s.pred_pixels, (std::vector<int64_t>{2, 3, 1}));
}

TEST(ConfusionMatrix, AbsentClassExcludedOrZero) {
  // Class 3 of 4 occurs nowhere; class 2 only in the prediction (IoU 0, counted either way).
  ConfusionMatrix m(4);
  m.add(u8({0, 1, 2, 1}, {1, 4}), u8({0, 1, 1, 1}, {1, 4}));
  spml::SegmentationScores ex = m.scores(AbsentClassPolicy::exclude);
  EXPECT_TRUE(std::isnan(ex.iou[3]));
  EXPECT_DOUBLE_EQ(ex.iou[0], 1.0);
  EXPECT_DOUBLE_EQ(ex.iou[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(ex.iou[2], 0.0);
  EXPECT_DOUBLE_EQ(ex.mean_iou, (1.0 + 2.0 / 3 + 0.0) / 3);
  EXPECT_EQ(ex.classes_present, 3);
  EXPECT_TRUE(std::isnan(ex.class_accuracy[2]));  // no GT pixel of class 2
  EXPECT_DOUBLE_EQ(ex.mean_class_accuracy, (1.0 + 2.0 / 3) / 2);
  spml::SegmentationScores zero = m.scores(AbsentClassPolicy::zero);
  EXPECT_DOUBLE_EQ(zero.iou[3], 0.0);
  EXPECT_DOUBLE_EQ(zero.mean_iou, (1.0 + 2.0 / 3 + 0.0 + 0.0) / 4);
}

TEST(ConfusionMatrix, EmptyMatrixGivesNaN) {
  ConfusionMatrix m(2);
  m.add(u8({0, 1}, {1, 2}), u8({255, 255}, {1, 2}));
  spml::SegmentationScores s = m.scores();
  EXPECT_TRUE(std::isnan(s.mean_iou));
  EXPECT_TRUE(std::isnan(s.pixel_accuracy));
  EXPECT_EQ(s.ignored_pixels, 2);
}

TEST(ConfusionMatrix, BatchAndInt32AndStridedInputsAgree) {
  ConfusionMatrix a = example();
  ConfusionMatrix b(3);
  // [N=2, H=1, W=4], i32 prediction and u8 target.
  b.add(Tensor::from_vector(std::vector<int32_t>{0, 1, 1, 1, 2, 0, 2, -1}, {2, 1, 4}),
        u8({0, 0, 1, 1, 2, 2, 255, 1}, {2, 1, 4}));
  // A transposed (non-contiguous) view of a [4, 2] pair is the same pixels in another order.
  ConfusionMatrix c(3);
  c.add(u8({0, 2, 1, 0, 1, 2, 1, 255}, {4, 2}).transpose(0, 1),
        u8({0, 2, 0, 2, 1, 255, 1, 1}, {4, 2}).transpose(0, 1));
  for (int g = 0; g < 3; ++g)
    for (int p = 0; p < 4; ++p) {
      EXPECT_EQ(a.count(g, p), b.count(g, p));
      EXPECT_EQ(a.count(g, p), c.count(g, p));
    }
}

TEST(ConfusionMatrix, LargeInputTakesTheParallelPathAndMatchesASerialCount) {
  const int64_t n = int64_t(1) << 20;  // above the parallel threshold
  std::vector<uint8_t> pred(static_cast<size_t>(n)), gt(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    gt[size_t(i)] = uint8_t(i % 7 == 0 ? 255 : i % 5);
    pred[size_t(i)] = uint8_t((i * 31 + i / 3) % 6);  // 5 = out of range for 5 classes
  }
  ConfusionMatrix m(5);
  m.add(pred.data(), gt.data(), n);
  std::vector<int64_t> ref(5 * 6, 0);
  int64_t ignored = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (gt[size_t(i)] == 255) {
      ++ignored;
      continue;
    }
    ++ref[size_t(gt[size_t(i)]) * 6 + pred[size_t(i)]];
  }
  for (int g = 0; g < 5; ++g)
    for (int p = 0; p < 6; ++p) EXPECT_EQ(m.count(g, p), ref[size_t(g) * 6 + size_t(p)]);
  EXPECT_EQ(m.ignored_pixels(), ignored);
}

TEST(ConfusionMatrix, MergeAddsCountsAndAllWrongCountsAsMisses) {
  ConfusionMatrix m = example();
  ConfusionMatrix other(3);
  const std::vector<uint8_t> gt = {0, 0, 255};
  other.add_all_wrong(gt.data(), 3, "missing.png");
  m.merge(other);
  EXPECT_EQ(m.count(0, 3), 2);
  EXPECT_EQ(m.ignored_pixels(), 2);
  EXPECT_DOUBLE_EQ(m.scores().iou[0], 1.0 / 5);  // TP 1, gt 4, pred 2
  engine::testing::expect_error([&] { m.merge(ConfusionMatrix(4)); },
                                {"merge", "3 classes", "4 classes"});
}

TEST(ConfusionMatrix, Errors) {
  ConfusionMatrix m(3);
  engine::testing::expect_error(
      [&] {
        m.add(u8({0, 0, 0, 0, 0, 0}, {2, 3}), u8({0, 0, 0, 0, 0, 0}, {3, 2}));
      },
      {"prediction shape [2, 3]", "target shape [3, 2]"});
  engine::testing::expect_error(
      [&] {
        m.add(u8({0, 0, 0, 0}, {1, 1, 2, 2}), u8({0, 0, 0, 0}, {1, 1, 2, 2}));
      },
      "[N, H, W]");
  engine::testing::expect_error(
      [&] {
        m.add(Tensor::from_vector(std::vector<float>{0, 0}, {1, 2}), u8({0, 0}, {1, 2}));
      },
      "u8 or i32");
  // A target value 7 with 3 classes: error, and the matrix is left untouched.
  engine::testing::expect_error(
      [&] {
        m.add(u8({0, 0, 0}, {1, 3}), u8({0, 7, 1}, {1, 3}));
      },
      {"outside [0, 3)", "value 7", "flat index 1"});
  EXPECT_EQ(m.total_valid(), 0);
  engine::testing::expect_error([] { ConfusionMatrix(0); }, "num_classes");
  engine::testing::expect_error([] { ConfusionMatrix(3, 1); }, "ignore_index 1");
  engine::testing::expect_error([&] { (void)m.to_csv({"a", "b"}); }, "2 class names given");
}

TEST(ConfusionMatrix, JsonAndCsv) {
  ConfusionMatrix m(4);
  m.add(u8({0, 1, 2, 1}, {1, 4}), u8({0, 1, 1, 1}, {1, 4}));
  const std::string json = m.to_json({"bg", "a", "b", "c\"q"});
  EXPECT_NE(json.find("\"num_classes\": 4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"miou\": 0.5555555556"), std::string::npos) << json;
  EXPECT_NE(json.find("\"pixel_accuracy\": 0.75"), std::string::npos) << json;
  EXPECT_NE(json.find("{\"id\": 3, \"name\": \"c\\\"q\", \"iou\": null"), std::string::npos)
      << json;
  EXPECT_NE(json.find("[0, 2, 1, 0, 0]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"absent_class_policy\": \"exclude\""), std::string::npos) << json;
  EXPECT_EQ(m.to_json({}, AbsentClassPolicy::zero, false).find("confusion_matrix"),
            std::string::npos);

  const std::string csv = m.to_csv({"bg", "a", "b", "c,d"});
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "class_id,name,iou,accuracy,gt_pixels,pred_pixels");
  EXPECT_NE(csv.find("\n1,a,0.6666666667,0.6666666667,3,2\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\n3,\"c,d\",nan,nan,0,0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nmean,mean,0.5555555556,0.8333333333,4,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\npixel_accuracy,pixel_accuracy,,0.75,4,\n"), std::string::npos) << csv;

  const std::string table = m.table({"bg", "a", "b", "c"});
  EXPECT_NE(table.find("mIoU  55.56 % over 3 classes (1 absent classes excluded)"),
            std::string::npos)
      << table;
  EXPECT_NE(m.matrix_table({}, true).find("class_1"), std::string::npos);
}

TEST(ConfusionMatrix, ClassNameTables) {
  EXPECT_EQ(spml::voc_class_names().size(), 21u);
  EXPECT_EQ(spml::voc_class_names()[15], "person");
  EXPECT_EQ(spml::densepose_class_names().size(), 15u);
  EXPECT_EQ(spml::densepose_class_names()[14], "Head");
}

}  // namespace
