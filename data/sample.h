// One training or evaluation example as the datasets produce it, before augmentation, and the
// interface every dataset (VOC, DensePose, synthetic) implements. Images and maps are CPU tensors.
#pragma once

#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace data {

// Label maps hold class ids 0..C-1 for labeled pixels and kUnlabeled for pixels that are present
// but carry no label (../shared/spec/README.md decision 3). Padding added by augmentation is not
// a label value: it is carried by Sample::valid.
constexpr uint8_t kUnlabeled = 255;
// Tag bitmasks hold one bit per class (bit c = class c), so at most 64 classes.
constexpr int kMaxTagClasses = 64;

struct Sample {
  std::string id;             // the list entry, e.g. "2007_000032"
  engine::Tensor image;       // u8 [H, W, 3], RGB
  engine::Tensor label;       // u8 [H, W]: the weak (training) label; undefined if none
  engine::Tensor full_label;  // u8 [H, W]: the full ground truth for evaluation; undefined if none
  engine::Tensor region;      // i32 [H, W]: over-segmentation region ids >= 0; undefined if none
  engine::Tensor valid;       // u8 [H, W]: 1 = image pixel, 0 = padding; undefined = all valid
  // Foreground classes present in the whole, uncropped weak label (bit c for class c >= 1;
  // background is not a tag), or given by the dataset's tag file.
  uint64_t tags = 0;
};

// A finite, indexable dataset. get() must be safe to call from several threads at once and
// deterministic: the same index gives the same sample.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Sample get(int64_t index) const = 0;
  virtual int num_classes() const = 0;
  // For messages: "voc12 train_aug (scribble), 10582 images".
  virtual std::string describe() const = 0;
};

}  // namespace data
