// A synthetic dataset in our Pascal VOC layout (../shared/spec/spml.md §10.1): procedurally
// generated scenes whose object classes differ in shape and texture statistics, with every weak
// label type (scribbles, shortened scribbles, points, boxes in VOC XML, tags via the labels) and
// over-segmentation region maps. It is the default dataset of the README's demo and of the
// end-to-end tests. docs/data-synthetic.md describes the scenes and the files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/overseg.h"
#include "engine/tensor.h"

namespace data {

struct SyntheticConfig {
  int num_classes = 5;  // object classes, background excluded: label ids are 0..num_classes
  int height = 96;      // pixels
  int width = 128;
  int max_objects = 3;  // objects per scene are 1..max_objects (before occlusion culling)
  int jpeg_quality = 90;
  // Region maps (ROOT/hed) come from over-segmenting the rendered image with these settings.
  OversegParams overseg{0.8f, 150.f, 20};
};

// One object instance as it ended up in the scene (after occlusion).
struct SyntheticObject {
  int class_id = 0;  // 1..num_classes
  // Tight box of the instance's visible pixels, 0-based inclusive (VOC boxes cover the visible
  // part; the XML adds 1 to each coordinate).
  int xmin = 0, ymin = 0, xmax = 0, ymax = 0;
  bool truncated = false;  // the full shape reaches past the image border
};

struct SyntheticScene {
  engine::Tensor image;          // u8 [H, W, 3] RGB, before JPEG compression
  engine::Tensor label;          // u8 [H, W]: full ground truth, 0 = background
  engine::Tensor instance;       // i32 [H, W]: index into `objects`, -1 for background
  engine::Tensor scribble;       // u8 [H, W]: 3 px wide scribbles, kUnlabeled elsewhere
  engine::Tensor scribble_half;  // u8 [H, W]: the same scribbles cut to 50% of their length
  engine::Tensor points;         // u8 [H, W]: a radius-3 disc at the middle of each scribble
  std::vector<SyntheticObject> objects;
};

// Class names, background first (line i of ROOT/classes.txt is id i).
std::vector<std::string> synthetic_class_names(int num_classes);

// Renders one scene; the same (config, scene_seed) gives identical tensors on every run and
// whatever the thread count.
SyntheticScene render_synthetic_scene(const SyntheticConfig& config, uint64_t scene_seed);

// The seed of image `index` of a split (0 = train, 1 = val): a split's images do not change when
// the other split's size changes.
uint64_t synthetic_scene_seed(uint64_t seed, int split, int64_t index);
// "train_000042", "val_000007".
std::string synthetic_id(int split, int64_t index);

// The VOC XML annotation of a scene (<filename>, <size>, one <object> per instance with its
// visible box in 1-based inclusive pixel coordinates).
std::string synthetic_annotation_xml(const std::string& id, const SyntheticScene& scene,
                                     const std::vector<std::string>& class_names);

// Writes one scene's files under `root` (the directories must exist; see
// write_synthetic_dataset): JPEGImages/<id>.jpg, segcls/<id>.png, hed/<id>.png,
// scribble/{dilate_3, dilate_3_0.5, dilate_6_0.0}/<id>.png, Annotations/<id>.xml.
void write_synthetic_scene(const std::string& root, const std::string& id,
                           const SyntheticScene& scene, const SyntheticConfig& config,
                           const std::vector<std::string>& class_names);

struct SyntheticDatasetSpec {
  std::string root;
  uint64_t seed = 0;
  int64_t num_train = 200;
  int64_t num_val = 50;
  SyntheticConfig config;
};

// Creates the layout under spec.root and writes every scene (threads >= 1 workers; the files do
// not depend on the thread count), the lists ImageSets/Segmentation/{train,val}.txt and
// classes.txt. `progress` draws a progress bar on stderr.
void write_synthetic_dataset(const SyntheticDatasetSpec& spec, int threads, bool progress);

}  // namespace data
