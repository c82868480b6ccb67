// DensePoseDataset: the processed layout of spec §10.3 (written by apps/convert_densepose).
// Kept apart from densepose.cpp so that the converter and the JSON/RLE code link without the
// image readers.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/densepose.h"
#include "data/image_io.h"
#include "engine/error.h"

namespace data {

namespace fs = std::filesystem;

DensePoseDataset::DensePoseDataset(std::string root, std::string list_path, bool use_points,
                                   std::string region_dir, std::string label_dir)
    : root_(std::move(root)),
      list_path_(std::move(list_path)),
      region_dir_(std::move(region_dir)),
      label_dir_(std::move(label_dir)),
      use_points_(use_points) {
  std::ifstream in(list_path_);
  ENGINE_CHECK(in.good(), "DensePose list '{}' cannot be opened", list_path_);
  auto resolve = [&](const std::string& p) {
    return fs::path(p).is_absolute() ? p : (fs::path(root_) / p).string();
  };
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Entry e;
    fields >> e.image >> e.dense >> e.points;
    ENGINE_CHECK(
        !e.points.empty(),
        "DensePose list '{}' line {}: expected \"image dense_label point_label\", got '{}'",
        list_path_, number, line);
    e.id = fs::path(e.image).stem().string();
    e.image = resolve(e.image);
    e.dense = resolve(e.dense);
    e.points = resolve(e.points);
    for (const std::string* p : {&e.image, &e.dense, &e.points})
      ENGINE_CHECK(fs::is_regular_file(*p), "DensePose list '{}' line {}: missing file '{}'",
                   list_path_, number, *p);
    if (!label_dir_.empty()) {
      e.label = (fs::path(resolve(label_dir_)) / (e.id + ".png")).string();
      ENGINE_CHECK(fs::is_regular_file(e.label),
                   "DensePose list '{}' line {}: label folder '{}' has no '{}.png' (expected "
                   "'{}')",
                   list_path_, number, label_dir_, e.id, e.label);
    }
    entries_.push_back(std::move(e));
  }
  ENGINE_CHECK(!entries_.empty(), "DensePose list '{}' has no entries", list_path_);
}

Sample DensePoseDataset::get(int64_t index) const {
  ENGINE_CHECK(index >= 0 && index < size(), "DensePoseDataset: index {} out of range [0, {})",
               index, size());
  const Entry& e = entries_[size_t(index)];
  Sample s;
  s.id = e.id;
  s.image = read_image(e.image);
  int64_t h = s.image.size(0), w = s.image.size(1);
  auto check_size = [&](const engine::Tensor& t, const std::string& path) {
    ENGINE_CHECK(t.size(0) == h && t.size(1) == w,
                 "DensePose label '{}' is {}x{} but its image '{}' is {}x{}", path, t.size(1),
                 t.size(0), e.image, w, h);
  };
  s.full_label = read_label_png(e.dense).ids;
  check_size(s.full_label, e.dense);
  if (!e.label.empty()) {
    s.label = read_label_png(e.label).ids;
    check_size(s.label, e.label);
    uint8_t* l = s.label.data<uint8_t>();
    for (int64_t i = 0; i < h * w; ++i)
      if (l[i] >= kDensePoseClasses) l[i] = kUnlabeled;
  } else if (use_points_) {
    s.label = read_label_png(e.points).ids;
    check_size(s.label, e.points);
  } else {
    s.label = s.full_label;
  }
  if (!region_dir_.empty()) {
    std::string path = (fs::path(root_) / region_dir_ / (e.id + ".png")).string();
    s.region = read_region_png(path);
    check_size(s.region, path);
  }
  const uint8_t* l = s.label.data<uint8_t>();
  for (int64_t i = 0; i < h * w; ++i)
    if (l[i] >= 1 && l[i] < kDensePoseClasses) s.tags |= uint64_t(1) << l[i];
  return s;
}

std::string DensePoseDataset::describe() const {
  return fmt::format("densepose {} ({}), {} images", fs::path(list_path_).stem().string(),
                     !label_dir_.empty() ? "labels from " + label_dir_
                     : use_points_       ? std::string("points")
                                         : std::string("dense"),
                     entries_.size());
}

}  // namespace data
