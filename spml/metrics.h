// Segmentation metrics (spec spml.md §8): a confusion matrix accumulated over a whole dataset,
// per-class IoU, mIoU, pixel accuracy and mean class accuracy, with JSON, CSV and table output.
// Used by apps/eval_miou and by the trainers' validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace spml {

// What a class that occurs in neither the ground truth nor the prediction (empty union) does to
// the mean.
//  - exclude: its IoU is NaN and the mean runs over the other classes (the official VOC devkit
//    and most modern toolkits). The default.
//  - zero: its IoU is 0 and the mean divides by all C classes (the SPML reference's
//    benchmark_by_mIoU.py, spec §8 step 3–4). On a full VOC val set every class occurs, so the
//    two agree; they differ on small subsets.
enum class AbsentClassPolicy : uint8_t { exclude, zero };

// Scores derived from a confusion matrix. Per-class vectors have num_classes entries.
struct SegmentationScores {
  std::vector<double> iou;             // TP / (TP + FP + FN); empty union: NaN or 0 (policy)
  std::vector<double> class_accuracy;  // TP / (TP + FN) (recall); NaN where no GT pixel
  std::vector<int64_t> gt_pixels;      // TP + FN per class
  std::vector<int64_t> pred_pixels;    // TP + FP per class (valid GT pixels only)
  double mean_iou = 0;                 // over the classes the policy keeps
  double pixel_accuracy = 0;           // sum TP / valid pixels; NaN with no valid pixel
  double mean_class_accuracy = 0;      // mean of class_accuracy over classes with GT pixels
  double frequency_weighted_iou = 0;   // sum_c gt_pixels_c * IoU_c / valid pixels
  int64_t valid_pixels = 0;            // GT pixels in [0, C)
  int64_t ignored_pixels = 0;          // GT pixels equal to the ignore index
  int64_t invalid_predictions = 0;     // valid GT pixels whose prediction is outside [0, C)
  int classes_present = 0;             // classes with a non-empty union
  AbsentClassPolicy policy = AbsentClassPolicy::exclude;
};

// The 21 Pascal VOC names (background first) and the 15 DensePose part names of spec §8.
const std::vector<std::string>& voc_class_names();
const std::vector<std::string>& densepose_class_names();

// Counts (ground truth, prediction) pairs over any number of label maps.
//
// Rows are ground-truth classes 0..C-1, columns predicted classes 0..C-1 plus one last column for
// predictions outside [0, C) (e.g. 255 written by a model that abstains): they are wrong for
// every class, so they count as false negatives of the GT class and as false positives of none.
// Target pixels equal to ignore_index are skipped; any other target value outside [0, C) is an
// error (it means a wrong class count or a corrupt file), and add() then leaves the matrix as it
// was.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes, int ignore_index = 255);

  // prediction and target: CPU tensors of equal shape [H, W] or [N, H, W], dtype u8 or i32 (the
  // two may differ), any strides. The error on a shape mismatch names both shapes.
  void add(const engine::Tensor& prediction, const engine::Tensor& target);
  // Raw contiguous label arrays of n pixels. `what` names the source in errors (e.g. a file).
  void add(const uint8_t* prediction, const uint8_t* target, int64_t n,
           const std::string& what = "labels");
  void add(const int32_t* prediction, const int32_t* target, int64_t n,
           const std::string& what = "labels");
  // Counts n pixels of `target` as predicted outside [0, C) (all wrong): --allow-missing.
  void add_all_wrong(const uint8_t* target, int64_t n, const std::string& what = "labels");
  // Adds another matrix of the same class count and ignore index (per-thread accumulation).
  void merge(const ConfusionMatrix& other);
  void reset();

  int num_classes() const { return c_; }
  int ignore_index() const { return ignore_; }
  // Pixels with ground truth `gt` predicted as `pred`; pred == num_classes() is the
  // out-of-range column.
  int64_t count(int gt, int pred) const;
  int64_t ignored_pixels() const { return ignored_; }
  int64_t total_valid() const;

  SegmentationScores scores(AbsentClassPolicy policy = AbsentClassPolicy::exclude) const;

  // class_names: empty (names become "class_<i>") or num_classes() entries.
  // JSON object: num_classes, ignore_index, policy, miou, pixel_accuracy, mean_class_accuracy,
  // frequency_weighted_iou, valid/ignored pixel counts, classes: [{id, name, iou, accuracy,
  // gt_pixels, pred_pixels}], and with include_matrix the matrix as rows (GT) of C+1 counts.
  // NaN is written as null.
  std::string to_json(const std::vector<std::string>& class_names = {},
                      AbsentClassPolicy policy = AbsentClassPolicy::exclude,
                      bool include_matrix = true) const;
  // CSV: header "class_id,name,iou,accuracy,gt_pixels,pred_pixels", one row per class, then a
  // row "mean" (mIoU, mean class accuracy) and a row "pixel_accuracy". NaN is written as "nan".
  std::string to_csv(const std::vector<std::string>& class_names = {},
                     AbsentClassPolicy policy = AbsentClassPolicy::exclude) const;
  // A fixed-width table: one row per class (IoU and accuracy in %, pixel counts), then the means.
  std::string table(const std::vector<std::string>& class_names = {},
                    AbsentClassPolicy policy = AbsentClassPolicy::exclude) const;
  // The matrix itself with row/column headers; rows normalized to % of the GT class when
  // `normalized`.
  std::string matrix_table(const std::vector<std::string>& class_names = {},
                           bool normalized = false) const;

 private:
  template <typename T>
  void add_impl(const T* prediction, const T* target, int64_t n, const std::string& what);
  std::vector<std::string> names_or_default(const std::vector<std::string>& names) const;

  int c_;
  int ignore_;
  std::vector<int64_t> counts_;  // [C, C + 1] row-major
  int64_t ignored_ = 0;
};

}  // namespace spml
