// DensePose-COCO: reading the COCO-style annotation JSON (simdjson on-demand, one pass),
// COCO RLE decoding, the dense 15-class part map, the point labels of the paper's appendix A.3,
// the converter that writes the processed layout of spec §10.3, and DensePoseDataset over it.
//
// Classes: 0 = background, then DensePose's 14 coarse parts in dp_masks order (spec §8):
// Torso, R.Hand, L.Hand, L.Foot, R.Foot, R.Thigh, L.Thigh, R.Leg, L.Leg, L.Arm, R.Arm,
// L.Forearm, R.Forearm, Head. 255 = unlabeled / unknown.
//
// Processed layout under a data root (spec §10.3):
//   segcls/densepose/gray/<stem>.png         dense part map, 8-bit grayscale raw ids
//   segcls/densepose_points/gray/<stem>.png  point labels, 8-bit grayscale raw ids
//   lists/<split>.txt                         "image dense_label point_label" per line, paths
//                                             relative to the data root (or absolute)
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/sample.h"
#include "engine/tensor.h"

namespace data {

constexpr int kDensePoseClasses = 15;  // background + 14 coarse parts
constexpr int kDensePoseMaskSize = 256;

// One COCO RLE: `counts` alternate runs of 0 and 1, starting with 0, in column-major order over
// an h × w mask. Either compressed (COCO's LEB128-like string) or a plain list.
struct CocoRle {
  int height = 0, width = 0;
  std::string compressed;        // used when non-empty
  std::vector<uint32_t> counts;  // otherwise
};

// Decodes to u8 [h * w] row-major (1 = inside). Errors (bad characters, negative runs, a total
// that is not h·w) name `context`.
std::vector<uint8_t> decode_rle(const CocoRle& rle, const std::string& context);
// The run lengths of a compressed counts string (exposed for tests).
std::vector<int64_t> decode_rle_counts(const std::string& compressed, const std::string& context);

struct DensePoseImage {
  int64_t id = 0;
  std::string file_name;
  int width = 0, height = 0;
};

struct DensePoseAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  std::array<double, 4> bbox{};  // x, y, w, h in image pixels
  bool iscrowd = false;
  bool has_dense = false;  // dp_masks present
  // dp_masks[k] is coarse part k+1's 256×256 mask over the box; an empty rle (height 0) = absent.
  std::array<CocoRle, 14> dp_masks;
  // Annotated surface points: fine part 1..24, and x, y in [0, 255] over the box.
  std::vector<uint8_t> dp_I;
  std::vector<float> dp_x, dp_y;
};

struct DensePoseSet {
  std::vector<DensePoseImage> images;
  std::vector<DensePoseAnnotation> annotations;
  // For each image (same order), the indices of its annotations.
  std::vector<std::vector<int64_t>> by_image;
};

// Reads a DensePose-COCO JSON file. Errors name the file and, inside annotations, the annotation
// id (or its position when the id is not known): syntax errors, missing keys, wrong types,
// inconsistent dp_I/dp_x/dp_y lengths, unknown image ids, out-of-range parts.
DensePoseSet read_densepose_json(const std::string& path);
// The same from text in memory; `name` stands for the file in messages.
DensePoseSet parse_densepose_json(const std::string& json, const std::string& name);

// Fine DensePose part (dp_I, 1..24) → coarse part (1..14) (spec §10.3); 0 for anything else.
int coarse_part(int fine_part);

// Point labels (paper appendix A.3). Around each part's keypoint a Gaussian heat
// exp(−d² / 2σ²) with σ = sigma_scale · sqrt(box width · box height) of its person: pixels whose
// highest heat over all keypoints of the image is >= label_threshold take that keypoint's part;
// pixels below background_threshold for every keypoint are background (0); the rest are
// unknown (255), left for the training to propagate labels into.
enum class KeypointSource : uint8_t {
  mask_centre,  // the part mask pixel nearest the mask's centroid (paper §4: "the center of each
                // part segmentation"); falls back to dp points for parts without a mask
  dp_points,    // the annotated dp point of the part nearest the mean of its points; falls back
                // to the mask centre
};
struct PointLabelParams {
  double sigma_scale = 0.1;
  double label_threshold = 0.8;
  double background_threshold = 0.05;
  KeypointSource source = KeypointSource::mask_centre;
};

struct Keypoint {
  int part = 0;         // 1..14
  double x = 0, y = 0;  // image pixels
  double sigma = 0;
};

struct DensePoseLabels {
  engine::Tensor dense;   // u8 [H, W]: 0 background, 1..14 parts, 255 unknown
  engine::Tensor points;  // u8 [H, W]: A.3 point labels
  std::vector<Keypoint> keypoints;
};

// The labels of one image from its annotations (indices into set.annotations).
// Dense map: each annotated person's 256×256 part masks pasted into its box (nearest resize,
// later annotations over earlier ones); boxes of crowd annotations and of persons without
// DensePose annotation are 255 (a person whose parts are unknown is not background), except
// where an annotated person's part covers them.
DensePoseLabels make_densepose_labels(const DensePoseSet& set, int64_t image_index,
                                      const PointLabelParams& params,
                                      const std::string& json_name = "densepose json");

// Writes u8 [H, W] raw ids as an 8-bit grayscale PNG (atomically).
void write_gray_png(const std::string& path, const engine::Tensor& ids);

struct ConvertOptions {
  std::string json_path;
  std::string image_dir;  // where file_name lives; written into the list as given
  std::string out_dir;    // the data root
  std::string split;      // list name; empty = the JSON file's stem
  int threads = 4;
  PointLabelParams points;
  bool progress = true;
};
struct ConvertReport {
  int64_t images = 0;       // images written (those with at least one DensePose person)
  int64_t skipped = 0;      // images without any DensePose annotation
  int64_t annotations = 0;  // DensePose annotations used
  std::string list_path;
};
// Reads the JSON once and writes the label PNGs and the list file.
ConvertReport convert_densepose(const ConvertOptions& options);

// The processed layout as a Dataset. label = point labels (training) or the dense map
// (use_points = false); full_label = the dense map; region from `region_dir`/<stem>.png when
// region_dir is not empty (spec §10.3: seginst/pmi_0.1_256); tags = parts present in `label`.
// With `label_dir` set (e.g. apps/pseudo_label's output for stage 2), label comes from
// label_dir/<stem>.png instead (8-bit raw ids; values >= 15 except 255 become 255), and
// use_points is ignored.
class DensePoseDataset : public Dataset {
 public:
  // Paths in the list, and label_dir, are relative to `root` unless absolute. The list (and each
  // entry's label_dir file) is checked at once.
  DensePoseDataset(std::string root, std::string list_path, bool use_points = true,
                   std::string region_dir = "", std::string label_dir = "");
  int64_t size() const override { return int64_t(entries_.size()); }
  Sample get(int64_t index) const override;
  int num_classes() const override { return kDensePoseClasses; }
  std::string describe() const override;

 private:
  struct Entry {
    std::string id, image, dense, points, label;  // label: label_dir file, or "" without one
  };
  std::string root_, list_path_, region_dir_, label_dir_;
  bool use_points_;
  std::vector<Entry> entries_;
};

}  // namespace data
