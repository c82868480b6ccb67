#include "data/voc.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "data/image_io.h"
#include "engine/error.h"

namespace data {
namespace fs = std::filesystem;

const char* supervision_name(Supervision s) {
  switch (s) {
    case Supervision::full:
      return "full";
    case Supervision::scribble:
      return "scribble";
    case Supervision::point:
      return "point";
    case Supervision::box:
      return "box";
    case Supervision::tag:
      return "tag";
  }
  return "?";
}

Supervision parse_supervision(const std::string& name) {
  for (Supervision s : {Supervision::full, Supervision::scribble, Supervision::point,
                        Supervision::box, Supervision::tag})
    if (name == supervision_name(s)) return s;
  ENGINE_THROW("unknown supervision '{}'; expected full, scribble, point, box or tag", name);
}

const std::vector<std::string>& voc_class_names() {
  static const std::vector<std::string> names = {
      "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
      "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
      "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};
  return names;
}

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The number held by child `name` of `node`, rounded to an integer.
int xml_int(const pugi::xml_node& node, const char* name, const std::string& path,
            const std::string& where) {
  const pugi::xml_node child = node.child(name);
  ENGINE_CHECK(child, "VOC XML '{}': {} has no <{}>", path, where, name);
  const std::string text = trim(child.text().get());
  ENGINE_CHECK(!text.empty(), "VOC XML '{}': {} <{}> is empty", path, where, name);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  ENGINE_CHECK(end == text.c_str() + text.size() && std::isfinite(v) && std::abs(v) < 1e7,
               "VOC XML '{}': {} <{}> is not a number: '{}'", path, where, name, text);
  return int(std::lround(v));
}

std::vector<std::string> read_class_names(const std::string& root) {
  const std::string file = root + "/classes.txt";
  std::error_code ec;
  if (!fs::exists(file, ec)) return voc_class_names();
  std::ifstream in(file);
  ENGINE_CHECK(in.good(), "class list '{}' cannot be opened for reading", file);
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (!line.empty()) names.push_back(line);
  }
  ENGINE_CHECK(names.size() >= 2 && names.size() <= size_t(kMaxTagClasses),
               "class list '{}' holds {} names; expected 2..{} (background first)", file,
               names.size(), kMaxTagClasses);
  return names;
}

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

}  // namespace

VocAnnotation read_voc_xml(const std::string& path, const std::vector<std::string>& class_names) {
  ENGINE_CHECK(is_file(path), "VOC XML '{}' does not exist", path);
  pugi::xml_document doc;
  const pugi::xml_parse_result result = doc.load_file(path.c_str());
  ENGINE_CHECK(result, "VOC XML '{}': malformed XML at byte {}: {}", path, int64_t(result.offset),
               result.description());
  const pugi::xml_node root = doc.child("annotation");
  ENGINE_CHECK(root, "VOC XML '{}': no <annotation> root element", path);
  const pugi::xml_node size = root.child("size");
  ENGINE_CHECK(size, "VOC XML '{}': no <size> element", path);
  VocAnnotation ann;
  ann.width = xml_int(size, "width", path, "<size>");
  ann.height = xml_int(size, "height", path, "<size>");
  ENGINE_CHECK(ann.width > 0 && ann.height > 0, "VOC XML '{}': image size {}x{} is not positive",
               path, ann.width, ann.height);
  int index = 0;
  for (const pugi::xml_node obj : root.children("object")) {
    ++index;
    VocObject o;
    o.name = trim(obj.child("name").text().get());
    const std::string where = fmt::format("object {} ('{}')", index, o.name);
    ENGINE_CHECK(!o.name.empty(), "VOC XML '{}': object {} has no <name>", path, index);
    const auto it = std::find(class_names.begin(), class_names.end(), o.name);
    ENGINE_CHECK(it != class_names.end() && it != class_names.begin(),
                 "VOC XML '{}': {}: unknown class name; expected one of the {} foreground "
                 "classes ({}, ...)",
                 path, where, class_names.size() - 1, class_names[1]);
    o.class_id = int(it - class_names.begin());
    if (obj.child("difficult")) o.difficult = xml_int(obj, "difficult", path, where) != 0;
    const pugi::xml_node box = obj.child("bndbox");
    ENGINE_CHECK(box, "VOC XML '{}': {} has no <bndbox>", path, where);
    o.xmin = std::max(1, xml_int(box, "xmin", path, where + " <bndbox>"));
    o.ymin = std::max(1, xml_int(box, "ymin", path, where + " <bndbox>"));
    o.xmax = xml_int(box, "xmax", path, where + " <bndbox>");
    o.ymax = xml_int(box, "ymax", path, where + " <bndbox>");
    ENGINE_CHECK(
        o.xmin <= o.xmax && o.ymin <= o.ymax && o.xmax <= ann.width && o.ymax <= ann.height,
        "VOC XML '{}': {}: box x {}..{}, y {}..{} is empty or outside the {}x{} image "
        "(expected 1 <= min <= max <= size)",
        path, where, o.xmin, o.xmax, o.ymin, o.ymax, ann.width, ann.height);
    ann.objects.push_back(std::move(o));
  }
  return ann;
}

engine::Tensor box_label_map(const VocAnnotation& ann, int height, int width,
                             bool include_difficult) {
  ENGINE_CHECK(height == ann.height && width == ann.width,
               "box_label_map: annotation size {}x{} differs from the requested {}x{}", ann.width,
               ann.height, width, height);
  engine::Tensor out = engine::Tensor::empty({height, width}, engine::DType::u8);
  uint8_t* dst = out.data<uint8_t>();
  std::fill(dst, dst + size_t(height) * size_t(width), uint8_t(0));
  // Drawing larger boxes first and smaller ones over them gives every pixel the class of the
  // smallest box covering it; a stable sort keeps the earlier-listed box on equal areas, so it is
  // drawn last.
  std::vector<const VocObject*> order;
  for (const VocObject& o : ann.objects)
    if (include_difficult || !o.difficult) order.push_back(&o);
  const auto area = [](const VocObject* o) {
    return int64_t(o->xmax - o->xmin + 1) * int64_t(o->ymax - o->ymin + 1);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const VocObject* a, const VocObject* b) { return area(a) < area(b); });
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const VocObject& o = **it;
    for (int y = o.ymin - 1; y < o.ymax; ++y)
      std::fill(dst + size_t(y) * width + (o.xmin - 1), dst + size_t(y) * width + o.xmax,
                uint8_t(o.class_id));
  }
  return out;
}

uint64_t tags_from_label(const engine::Tensor& label, int num_classes) {
  ENGINE_CHECK(label.dtype() == engine::DType::u8 && label.is_contiguous(),
               "tags_from_label: expected a contiguous u8 label map, got {}", label.desc());
  bool seen[256] = {};
  const uint8_t* p = label.data<uint8_t>();
  const int64_t n = label.numel();
  for (int64_t i = 0; i < n; ++i) seen[p[i]] = true;
  uint64_t tags = 0;
  for (int c = 1; c < std::min(num_classes, kMaxTagClasses); ++c)
    if (seen[c]) tags |= uint64_t(1) << c;
  return tags;
}

uint64_t tags_from_objects(const VocAnnotation& ann) {
  uint64_t tags = 0;
  for (const VocObject& o : ann.objects)
    if (o.class_id >= 1 && o.class_id < kMaxTagClasses) tags |= uint64_t(1) << o.class_id;
  return tags;
}

VocDataset::VocDataset(VocConfig config) : config_(std::move(config)) {
  const std::string& root = config_.root;
  ENGINE_CHECK(is_dir(root), "VOC root '{}' is not a directory", root);
  class_names_ = read_class_names(root);
  list_path_ = root + "/ImageSets/Segmentation/" + config_.split + ".txt";
  entries_ = read_list_file(list_path_);

  label_dir_ = config_.label_dir;
  if (label_dir_.empty()) {
    switch (config_.supervision) {
      case Supervision::full:
        label_dir_ = "segcls";
        break;
      case Supervision::scribble:
        label_dir_ = "scribble/dilate_3";
        break;
      case Supervision::point:
        label_dir_ = "scribble/dilate_6_0.0";
        break;
      case Supervision::box:
      case Supervision::tag:
        break;
    }
  }
  ENGINE_CHECK(label_dir_.empty() || is_dir(root + "/" + label_dir_),
               "VOC root '{}': the {} label directory '{}' does not exist", root,
               supervision_name(config_.supervision), root + "/" + label_dir_);
  have_regions_ = !config_.region_dir.empty() && is_dir(root + "/" + config_.region_dir);
  const bool box = config_.supervision == Supervision::box;
  const bool tag = config_.supervision == Supervision::tag;
  have_xml_ = box || (tag && is_dir(root + "/Annotations"));
  const bool have_segcls = is_dir(root + "/segcls");
  ENGINE_CHECK(!tag || have_xml_ || have_segcls,
               "VOC root '{}': tag supervision needs image tags from Annotations/*.xml or "
               "segcls/*.png, and neither directory exists",
               root);

  std::vector<RequiredFile> required;
  required.push_back(
      {"image", [this](const std::string& id) { return path("JPEGImages", id, ".jpg"); }});
  if (!label_dir_.empty())
    required.push_back({fmt::format("{} label", supervision_name(config_.supervision)),
                        [this](const std::string& id) { return path(label_dir_, id, ".png"); }});
  if (have_regions_)
    required.push_back({"region map", [this](const std::string& id) {
                          return path(config_.region_dir, id, ".png");
                        }});
  if (have_xml_)
    required.push_back(
        {"VOC XML", [this](const std::string& id) { return path("Annotations", id, ".xml"); }});
  if (tag && !have_xml_)
    required.push_back({"full label (for tags)",
                        [this](const std::string& id) { return path("segcls", id, ".png"); }});
  check_list_files(list_path_, entries_, required);

  has_full_label_.resize(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i)
    has_full_label_[i] = have_segcls && is_file(path("segcls", entries_[i].id, ".png"));
  if (have_xml_) {
    annotations_.reserve(entries_.size());
    for (const ListEntry& e : entries_)
      annotations_.push_back(read_voc_xml(path("Annotations", e.id, ".xml"), class_names_));
  }
}

std::string VocDataset::path(const std::string& dir, const std::string& id, const char* ext) const {
  return config_.root + "/" + dir + "/" + id + ext;
}

const std::string& VocDataset::id(int64_t index) const {
  ENGINE_CHECK(index >= 0 && index < size(), "VocDataset: index {} out of range [0, {})", index,
               size());
  return entries_[size_t(index)].id;
}

std::string VocDataset::describe() const {
  return fmt::format("voc '{}' {} ({}{}{}), {} images, {} classes", config_.root, config_.split,
                     supervision_name(config_.supervision), label_dir_.empty() ? "" : ": ",
                     label_dir_, size(), num_classes());
}

engine::Tensor VocDataset::read_label(const std::string& file, const engine::Tensor& image,
                                      const std::string& image_file) const {
  engine::Tensor ids = read_label_png(file).ids;
  ENGINE_CHECK(ids.size(0) == image.size(0) && ids.size(1) == image.size(1),
               "label map '{}' is {}x{} but its image '{}' is {}x{} (width x height)", file,
               ids.size(1), ids.size(0), image_file, image.size(1), image.size(0));
  const int c = num_classes();
  uint8_t* p = ids.data<uint8_t>();
  const int64_t n = ids.numel();
  if (config_.map_unlabeled_values) {
    for (int64_t i = 0; i < n; ++i)
      if (p[i] >= c) p[i] = kUnlabeled;
  } else {
    for (int64_t i = 0; i < n; ++i)
      ENGINE_CHECK(p[i] < c || p[i] == kUnlabeled,
                   "label map '{}': value {} at pixel ({}, {}) is neither a class id 0..{} nor "
                   "{} (unlabeled)",
                   file, int(p[i]), i % ids.size(1), i / ids.size(1), c - 1, int(kUnlabeled));
  }
  return ids;
}

Sample VocDataset::get(int64_t index) const {
  const std::string& sample_id = id(index);
  const size_t i = size_t(index);
  Sample s;
  s.id = sample_id;
  const std::string image_file = path("JPEGImages", sample_id, ".jpg");
  s.image = read_image(image_file);
  const int h = int(s.image.size(0)), w = int(s.image.size(1));

  if (has_full_label_[i])
    s.full_label = read_label(path("segcls", sample_id, ".png"), s.image, image_file);

  if (config_.supervision == Supervision::full) {
    s.label = s.full_label;
  } else if (!label_dir_.empty()) {
    s.label = read_label(path(label_dir_, sample_id, ".png"), s.image, image_file);
  } else if (config_.supervision == Supervision::box) {
    const VocAnnotation& ann = annotations_[i];
    ENGINE_CHECK(ann.width == w && ann.height == h,
                 "VOC XML '{}' gives size {}x{} but its image '{}' is {}x{} (width x height)",
                 path("Annotations", sample_id, ".xml"), ann.width, ann.height, image_file, w, h);
    s.label = box_label_map(ann, h, w, config_.box_include_difficult);
  } else {  // tag supervision without CAM labels: nothing is localized
    s.label = engine::Tensor::empty({h, w}, engine::DType::u8);
    std::fill_n(s.label.data<uint8_t>(), size_t(h) * size_t(w), kUnlabeled);
  }

  if (have_xml_)
    s.tags = tags_from_objects(annotations_[i]);
  else if (config_.supervision == Supervision::tag)
    s.tags = tags_from_label(s.full_label, num_classes());
  else
    s.tags = tags_from_label(s.label, num_classes());

  if (have_regions_) {
    const std::string file = path(config_.region_dir, sample_id, ".png");
    s.region = read_region_png(file);
    ENGINE_CHECK(s.region.size(0) == h && s.region.size(1) == w,
                 "region map '{}' is {}x{} but its image '{}' is {}x{} (width x height)", file,
                 s.region.size(1), s.region.size(0), image_file, w, h);
  }
  return s;
}

}  // namespace data
