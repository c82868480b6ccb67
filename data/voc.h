// Pascal VOC 2012 (+ SBD train_aug) in our layout (docs/data.md "VOC layout", spec §10.1 under
// one root), with every weak label type: full masks, scribbles (and shortened scribbles), points,
// boxes from the VOC XML annotations, image tags, and CAM pseudo-label files.
//
//   ROOT/JPEGImages/<id>.jpg
//   ROOT/segcls/<id>.png                   full GT, raw ids 0..C-1, 255 void
//   ROOT/hed/<id>.png                      region ids, 8- or 16-bit grayscale
//   ROOT/scribble/dilate_3/<id>.png        scribbles (255 or any id >= C: unlabeled)
//   ROOT/scribble/dilate_3_0.5/<id>.png    shortened scribbles (any suffix)
//   ROOT/scribble/dilate_6_0.0/<id>.png    points
//   ROOT/Annotations/<id>.xml              VOC XML: size, objects with name/difficult/bndbox
//   ROOT/cam/<name>/<id>.png               CAM pseudo-labels (tags, boxes), 255 unlabeled
//   ROOT/ImageSets/Segmentation/<split>.txt
//   ROOT/classes.txt                       optional, one class name per line (index = id)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/list_file.h"
#include "data/sample.h"
#include "engine/tensor.h"

namespace data {

enum class Supervision : uint8_t { full, scribble, point, box, tag };
// "full", "scribble", "point", "box", "tag"; parse_supervision errors on anything else.
const char* supervision_name(Supervision s);
Supervision parse_supervision(const std::string& name);

// The 21 Pascal VOC names, background first.
const std::vector<std::string>& voc_class_names();

// One <object> of a VOC XML file. Coordinates are VOC's: 1-based, inclusive, in pixels.
struct VocObject {
  std::string name;
  int class_id = 0;  // index of name in the class list
  bool difficult = false;
  int xmin = 0, ymin = 0, xmax = 0, ymax = 0;
};
struct VocAnnotation {
  int width = 0, height = 0;  // from <size>
  std::vector<VocObject> objects;
};

// Parses a VOC XML file. Errors name the file and the object: malformed XML, a missing <size> or
// <bndbox> or coordinate, non-numeric values, an unknown class name, a box that is empty or lies
// outside the image (coordinates must satisfy 1 <= xmin <= xmax <= width, same for y; 0 is
// accepted as 1 and fractional values are rounded, both of which occur in VOC's own files).
VocAnnotation read_voc_xml(const std::string& path, const std::vector<std::string>& class_names);

// Box label map, u8 [height, width] (docs/data.md "Boxes"): pixels outside every box are
// background 0; a pixel inside one or more boxes takes the class of the smallest-area box
// covering it (ties: the box listed first), so a small object in front of a large one keeps its
// label. Difficult objects are skipped unless include_difficult.
engine::Tensor box_label_map(const VocAnnotation& ann, int height, int width,
                             bool include_difficult);

// Foreground tags (bit c for class c in 1..C-1) of the values of a u8 label map; background 0
// and values >= C (unlabeled, void) are not tags.
uint64_t tags_from_label(const engine::Tensor& label, int num_classes);
// Tags of the XML objects (difficult ones included: the class is present in the image).
uint64_t tags_from_objects(const VocAnnotation& ann);

struct VocConfig {
  std::string root;
  std::string split = "train";  // ROOT/ImageSets/Segmentation/<split>.txt
  Supervision supervision = Supervision::full;
  // Weak label directory under ROOT. Empty = the default of the supervision type: full "segcls",
  // scribble "scribble/dilate_3", point "scribble/dilate_6_0.0", box and tag none (box label maps
  // from the XML; tags: every pixel unlabeled). For box and tag a directory names CAM
  // pseudo-label files, e.g. "cam/seambox_a6_th0.5" or "cam/seam_a6_th0.2", used as the label.
  std::string label_dir;
  // Label values in [C, 254] become kUnlabeled (the released SPML files code unlabeled as 21).
  // When false such values are an error naming the file.
  bool map_unlabeled_values = true;
  // Region maps under ROOT; when the directory is absent (or this is empty), Sample::region stays
  // undefined and the caller computes an over-segmentation. When present, every image needs one.
  std::string region_dir = "hed";
  // Box supervision from XML: whether boxes of objects marked <difficult> draw labels.
  bool box_include_difficult = true;
};

// The dataset. Construction reads the class list and the list file, checks that every file the
// configuration needs exists (one error naming the list, line numbers and missing files), and for
// box and tag supervision parses every XML file. get() then reads and validates one sample:
// image, weak label, full label (when ROOT/segcls has the id), region map, tags.
//
// Sample::tags: for box and tag supervision, the classes of the XML objects (tag supervision
// without ROOT/Annotations: the foreground values of segcls); otherwise the foreground values of
// the whole weak label.
class VocDataset : public Dataset {
 public:
  explicit VocDataset(VocConfig config);

  int64_t size() const override { return int64_t(entries_.size()); }
  Sample get(int64_t index) const override;
  int num_classes() const override { return int(class_names_.size()); }
  std::string describe() const override;

  const VocConfig& config() const { return config_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::string& id(int64_t index) const;
  // The directory of the weak labels under ROOT after defaults ("" when none).
  const std::string& label_dir() const { return label_dir_; }

 private:
  std::string path(const std::string& dir, const std::string& id, const char* ext) const;
  engine::Tensor read_label(const std::string& file, const engine::Tensor& image,
                            const std::string& image_file) const;

  VocConfig config_;
  std::vector<std::string> class_names_;
  std::string list_path_;
  std::vector<ListEntry> entries_;
  std::string label_dir_;
  bool have_regions_ = false;
  bool have_xml_ = false;                   // annotations_ filled (box, tag)
  std::vector<VocAnnotation> annotations_;  // per entry
  std::vector<char> has_full_label_;        // per entry
};

}  // namespace data
