#include "data/densepose.h"

#include <simdjson.h>
#include <spng.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/progress.h"

namespace data {

using engine::DType;
using engine::Tensor;
namespace fs = std::filesystem;
namespace od = simdjson::ondemand;

// ---------------------------------------------------------------------------------------------
// COCO RLE

std::vector<int64_t> decode_rle_counts(const std::string& s, const std::string& context) {
  std::vector<int64_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      ENGINE_CHECK(p < s.size(), "{}: RLE counts string ends inside a number", context);
      int c = int(static_cast<unsigned char>(s[p])) - 48;
      ENGINE_CHECK(c >= 0 && c < 64, "{}: bad character '{}' at offset {} of the RLE counts",
                   context, s[p], p);
      ENGINE_CHECK(k < 12, "{}: RLE count at offset {} is too long", context, p);
      x |= int64_t(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t(1) << (5 * k));  // sign extension
    }
    // From the third run on, counts are stored as differences to the run two back.
    if (counts.size() > 2) x += counts[counts.size() - 2];
    counts.push_back(x);
  }
  return counts;
}

std::vector<uint8_t> decode_rle(const CocoRle& rle, const std::string& context) {
  ENGINE_CHECK(rle.height > 0 && rle.width > 0 && rle.height <= 65536 && rle.width <= 65536,
               "{}: RLE size [{}, {}] is not a valid mask size", context, rle.height, rle.width);
  std::vector<int64_t> counts;
  if (!rle.compressed.empty()) {
    counts = decode_rle_counts(rle.compressed, context);
  } else {
    counts.assign(rle.counts.begin(), rle.counts.end());
  }
  int64_t total = int64_t(rle.height) * rle.width;
  std::vector<uint8_t> colmajor(size_t(total), 0);
  int64_t at = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    ENGINE_CHECK(counts[i] >= 0, "{}: negative RLE run {} at position {}", context, counts[i], i);
    ENGINE_CHECK(at + counts[i] <= total, "{}: RLE runs cover more than the {}x{} = {} pixels",
                 context, rle.height, rle.width, total);
    if (i % 2 == 1) std::fill(colmajor.begin() + at, colmajor.begin() + at + counts[i], 1);
    at += counts[i];
  }
  ENGINE_CHECK(at == total, "{}: RLE runs cover {} pixels, the {}x{} mask has {}", context, at,
               rle.height, rle.width, total);
  std::vector<uint8_t> mask(static_cast<size_t>(total));
  for (int x = 0; x < rle.width; ++x)
    for (int y = 0; y < rle.height; ++y)
      mask[size_t(y) * rle.width + x] = colmajor[size_t(x) * rle.height + y];
  return mask;
}

int coarse_part(int fine_part) {
  static constexpr int table[25] = {0, 1, 1,  2,  3,  4,  5,  6,  7,  6,  7,  8, 9,
                                    8, 9, 10, 11, 10, 11, 12, 13, 12, 13, 14, 14};
  return fine_part >= 1 && fine_part <= 24 ? table[fine_part] : 0;
}

// ---------------------------------------------------------------------------------------------
// JSON

namespace {

// Where the parser is, for messages.
struct Where {
  const std::string& file;
  std::string section;  // "images[3]" or "annotation id 17 (#4)"
  std::string str() const { return section.empty() ? file : fmt::format("{}: {}", file, section); }
};

std::string annotation_where(int64_t position, bool has_id, int64_t id) {
  return has_id ? fmt::format("annotation id {} (#{})", id, position)
                : fmt::format("annotation #{}", position);
}

double number(od::value v, const Where& w, const char* key) {
  double d = 0;
  auto err = v.get_double().get(d);
  ENGINE_CHECK(!err, "{}: \"{}\" must be a number ({})", w.str(), key,
               simdjson::error_message(err));
  ENGINE_CHECK(std::isfinite(d), "{}: \"{}\" is not finite", w.str(), key);
  return d;
}

int64_t integer(od::value v, const Where& w, const char* key) {
  double d = number(v, w, key);
  ENGINE_CHECK(d == std::floor(d) && std::abs(d) < 9.0e15, "{}: \"{}\" must be an integer, got {}",
               w.str(), key, d);
  return int64_t(d);
}

std::vector<double> numbers(od::value v, const Where& w, const char* key) {
  od::array a;
  auto err = v.get_array().get(a);
  ENGINE_CHECK(!err, "{}: \"{}\" must be an array of numbers", w.str(), key);
  std::vector<double> out;
  for (auto item : a) {
    od::value x;
    ENGINE_CHECK(!item.get(x), "{}: \"{}\": malformed array element", w.str(), key);
    out.push_back(number(x, w, key));
  }
  return out;
}

CocoRle parse_rle(od::value v, const Where& w, int part) {
  CocoRle rle;
  od::json_type type;
  ENGINE_CHECK(!v.type().get(type), "{}: dp_masks[{}] is malformed", w.str(), part);
  if (type == od::json_type::array) {
    // DensePose writes [] for a part that is not visible.
    ENGINE_CHECK(numbers(v, w, "dp_masks").empty(),
                 "{}: dp_masks[{}] must be an RLE object or an empty array", w.str(), part);
    return rle;
  }
  ENGINE_CHECK(type == od::json_type::object,
               "{}: dp_masks[{}] must be an RLE object {{\"size\", \"counts\"}}", w.str(), part);
  od::object obj = v.get_object();
  bool has_size = false, has_counts = false;
  for (auto field : obj) {
    std::string_view key = field.unescaped_key();
    od::value x = field.value();
    if (key == "size") {
      std::vector<double> size = numbers(x, w, "size");
      ENGINE_CHECK(size.size() == 2, "{}: dp_masks[{}].size must be [height, width]", w.str(),
                   part);
      rle.height = int(size[0]);
      rle.width = int(size[1]);
      has_size = true;
    } else if (key == "counts") {
      od::json_type ct;
      ENGINE_CHECK(!x.type().get(ct), "{}: dp_masks[{}].counts is malformed", w.str(), part);
      if (ct == od::json_type::string) {
        std::string_view s = x.get_string();
        rle.compressed = std::string(s);
        ENGINE_CHECK(!rle.compressed.empty(), "{}: dp_masks[{}].counts is empty", w.str(), part);
      } else {
        for (double d : numbers(x, w, "counts")) {
          ENGINE_CHECK(d >= 0 && d == std::floor(d) && d < 4.3e9,
                       "{}: dp_masks[{}].counts holds {}, not a run length", w.str(), part, d);
          rle.counts.push_back(uint32_t(d));
        }
      }
      has_counts = true;
    }
  }
  ENGINE_CHECK(has_size && has_counts, "{}: dp_masks[{}] lacks \"{}\"", w.str(), part,
               has_size ? "counts" : "size");
  ENGINE_CHECK(rle.height > 0 && rle.width > 0, "{}: dp_masks[{}] has size [{}, {}]", w.str(), part,
               rle.height, rle.width);
  return rle;
}

DensePoseImage parse_image(od::value v, Where& w) {
  od::object obj;
  ENGINE_CHECK(!v.get_object().get(obj), "{}: must be an object", w.str());
  DensePoseImage img;
  bool id = false, name = false, width = false, height = false;
  for (auto field : obj) {
    std::string_view key = field.unescaped_key();
    od::value x = field.value();
    if (key == "id") {
      img.id = integer(x, w, "id");
      id = true;
    } else if (key == "file_name") {
      std::string_view s;
      ENGINE_CHECK(!x.get_string().get(s), "{}: \"file_name\" must be a string", w.str());
      img.file_name = std::string(s);
      name = true;
    } else if (key == "width") {
      img.width = int(integer(x, w, "width"));
      width = true;
    } else if (key == "height") {
      img.height = int(integer(x, w, "height"));
      height = true;
    }
  }
  ENGINE_CHECK(id && name && width && height,
               "{}: image lacks \"{}\" (needs id, file_name, width, height)", w.str(),
               !id      ? "id"
               : !name  ? "file_name"
               : !width ? "width"
                        : "height");
  ENGINE_CHECK(img.width > 0 && img.height > 0 && img.width <= 65536 && img.height <= 65536,
               "{}: image size {}x{} is not valid", w.str(), img.width, img.height);
  ENGINE_CHECK(!img.file_name.empty() && img.file_name.find("..") == std::string::npos,
               "{}: file_name '{}' is not a plain file name", w.str(), img.file_name);
  return img;
}

DensePoseAnnotation parse_annotation(od::value v, Where& w, int64_t position) {
  od::object obj;
  ENGINE_CHECK(!v.get_object().get(obj), "{}: must be an object", w.str());
  DensePoseAnnotation a;
  bool has_id = false, has_image = false, has_bbox = false;
  bool has_I = false, has_x = false, has_y = false;
  std::vector<double> dp_I;
  for (auto field : obj) {
    std::string_view key = field.unescaped_key();
    od::value x = field.value();
    if (key == "id") {
      a.id = integer(x, w, "id");
      has_id = true;
      w.section = annotation_where(position, true, a.id);
    } else if (key == "image_id") {
      a.image_id = integer(x, w, "image_id");
      has_image = true;
    } else if (key == "bbox") {
      std::vector<double> b = numbers(x, w, "bbox");
      ENGINE_CHECK(b.size() == 4, "{}: \"bbox\" must be [x, y, w, h], got {} numbers", w.str(),
                   b.size());
      std::copy(b.begin(), b.end(), a.bbox.begin());
      has_bbox = true;
    } else if (key == "iscrowd") {
      a.iscrowd = integer(x, w, "iscrowd") != 0;
    } else if (key == "dp_masks") {
      od::array arr;
      ENGINE_CHECK(!x.get_array().get(arr), "{}: \"dp_masks\" must be an array", w.str());
      int k = 0;
      for (auto item : arr) {
        ENGINE_CHECK(k < 14, "{}: \"dp_masks\" has more than 14 entries", w.str());
        od::value m;
        ENGINE_CHECK(!item.get(m), "{}: dp_masks[{}] is malformed", w.str(), k);
        a.dp_masks[size_t(k)] = parse_rle(m, w, k);
        ++k;
      }
      ENGINE_CHECK(k == 14, "{}: \"dp_masks\" has {} entries, expected 14", w.str(), k);
      a.has_dense = true;
    } else if (key == "dp_I") {
      dp_I = numbers(x, w, "dp_I");
      has_I = true;
    } else if (key == "dp_x") {
      for (double d : numbers(x, w, "dp_x")) a.dp_x.push_back(float(d));
      has_x = true;
    } else if (key == "dp_y") {
      for (double d : numbers(x, w, "dp_y")) a.dp_y.push_back(float(d));
      has_y = true;
    }
  }
  ENGINE_CHECK(has_id, "{}: annotation lacks \"id\"", w.str());
  ENGINE_CHECK(has_image, "{}: annotation lacks \"image_id\"", w.str());
  ENGINE_CHECK(has_bbox, "{}: annotation lacks \"bbox\"", w.str());
  ENGINE_CHECK(a.bbox[2] >= 0 && a.bbox[3] >= 0, "{}: bbox has negative size", w.str());
  ENGINE_CHECK(has_I == has_x && has_x == has_y, "{}: dp_I, dp_x and dp_y must come together",
               w.str());
  ENGINE_CHECK(dp_I.size() == a.dp_x.size() && dp_I.size() == a.dp_y.size(),
               "{}: dp_I, dp_x, dp_y have {}, {}, {} entries", w.str(), dp_I.size(), a.dp_x.size(),
               a.dp_y.size());
  for (size_t i = 0; i < dp_I.size(); ++i) {
    ENGINE_CHECK(dp_I[i] >= 1 && dp_I[i] <= 24 && dp_I[i] == std::floor(dp_I[i]),
                 "{}: dp_I[{}] = {} is not a part 1..24", w.str(), i, dp_I[i]);
    ENGINE_CHECK(a.dp_x[i] >= 0 && a.dp_x[i] <= 256 && a.dp_y[i] >= 0 && a.dp_y[i] <= 256,
                 "{}: point {} at ({}, {}) is outside the 0..255 box grid", w.str(), i, a.dp_x[i],
                 a.dp_y[i]);
    a.dp_I.push_back(uint8_t(dp_I[i]));
  }
  return a;
}

}  // namespace

namespace {

DensePoseSet parse_padded(const simdjson::padded_string& padded, const std::string& name) {
  DensePoseSet set;
  Where w{name, ""};
  od::parser parser;
  try {
    od::document doc = parser.iterate(padded);
    od::object root;
    auto err = doc.get_object().get(root);
    ENGINE_CHECK(!err, "{}: malformed JSON: the top level is not a readable object ({})", name,
                 simdjson::error_message(err));
    bool has_images = false, has_annotations = false;
    for (auto field : root) {
      w.section.clear();
      std::string_view key = field.unescaped_key();
      od::value v = field.value();
      if (key == "images") {
        od::array arr;
        ENGINE_CHECK(!v.get_array().get(arr), "{}: \"images\" must be an array", name);
        int64_t k = 0;
        for (auto item : arr) {
          w.section = fmt::format("images[{}]", k++);
          od::value x;
          ENGINE_CHECK(!item.get(x), "{}: malformed element", w.str());
          set.images.push_back(parse_image(x, w));
        }
        has_images = true;
      } else if (key == "annotations") {
        od::array arr;
        ENGINE_CHECK(!v.get_array().get(arr), "{}: \"annotations\" must be an array", name);
        int64_t k = 0;
        for (auto item : arr) {
          w.section = annotation_where(k, false, 0);
          od::value x;
          ENGINE_CHECK(!item.get(x), "{}: malformed element", w.str());
          set.annotations.push_back(parse_annotation(x, w, k));
          ++k;
        }
        has_annotations = true;
      }
    }
    w.section.clear();
    ENGINE_CHECK(has_images, "{}: no \"images\" array", name);
    ENGINE_CHECK(has_annotations, "{}: no \"annotations\" array", name);
  } catch (const simdjson::simdjson_error& e) {
    ENGINE_THROW("{}: malformed JSON ({})", w.str(), e.what());
  }

  std::unordered_map<int64_t, int64_t> index_of;
  index_of.reserve(set.images.size());
  for (size_t i = 0; i < set.images.size(); ++i)
    ENGINE_CHECK(index_of.emplace(set.images[i].id, int64_t(i)).second,
                 "{}: image id {} appears twice", name, set.images[i].id);
  set.by_image.resize(set.images.size());
  for (size_t i = 0; i < set.annotations.size(); ++i) {
    const DensePoseAnnotation& a = set.annotations[i];
    auto it = index_of.find(a.image_id);
    ENGINE_CHECK(it != index_of.end(), "{}: annotation id {} refers to unknown image id {}", name,
                 a.id, a.image_id);
    set.by_image[size_t(it->second)].push_back(int64_t(i));
  }
  return set;
}

}  // namespace

DensePoseSet parse_densepose_json(const std::string& json, const std::string& name) {
  return parse_padded(simdjson::padded_string(json), name);
}

DensePoseSet read_densepose_json(const std::string& path) {
  simdjson::padded_string text;
  auto err = simdjson::padded_string::load(path).get(text);
  ENGINE_CHECK(!err, "cannot read DensePose JSON '{}': {}", path, simdjson::error_message(err));
  return parse_padded(text, path);
}

// ---------------------------------------------------------------------------------------------
// Labels

namespace {

struct Box {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  bool empty() const { return x2 <= x1 || y2 <= y1; }
};

// DensePose's own convention (GetDensePoseMask + resize): integer corners, clipped to the image.
Box pixel_box(const std::array<double, 4>& b, int width, int height) {
  Box r;
  r.x1 = std::clamp(int(b[0]), 0, width);
  r.y1 = std::clamp(int(b[1]), 0, height);
  r.x2 = std::clamp(int(b[0] + b[2]), 0, width);
  r.y2 = std::clamp(int(b[1] + b[3]), 0, height);
  return r;
}

}  // namespace

DensePoseLabels make_densepose_labels(const DensePoseSet& set, int64_t image_index,
                                      const PointLabelParams& p, const std::string& json_name) {
  ENGINE_CHECK(image_index >= 0 && image_index < int64_t(set.images.size()),
               "make_densepose_labels: image index {} out of range", image_index);
  ENGINE_CHECK(p.sigma_scale > 0 && p.background_threshold > 0 &&
                   p.background_threshold < p.label_threshold && p.label_threshold <= 1,
               "point labels: need sigma_scale > 0 and 0 < background_threshold < "
               "label_threshold <= 1, got {}, {}, {}",
               p.sigma_scale, p.background_threshold, p.label_threshold);
  const DensePoseImage& img = set.images[size_t(image_index)];
  const int W = img.width, H = img.height;
  DensePoseLabels out;
  out.dense = Tensor::empty({H, W}, DType::u8);
  out.points = Tensor::empty({H, W}, DType::u8);
  uint8_t* dense = out.dense.data<uint8_t>();
  std::fill(dense, dense + int64_t(H) * W, uint8_t(0));
  std::vector<uint8_t> unknown_person(size_t(H) * W, 0);

  const auto& anns = set.by_image[size_t(image_index)];
  // People whose parts are unknown: not background.
  for (int64_t ai : anns) {
    const DensePoseAnnotation& a = set.annotations[size_t(ai)];
    if (a.has_dense && !a.iscrowd) continue;
    Box b = pixel_box(a.bbox, W, H);
    for (int y = b.y1; y < b.y2; ++y)
      for (int x = b.x1; x < b.x2; ++x) {
        dense[int64_t(y) * W + x] = kUnlabeled;
        unknown_person[size_t(y) * W + x] = 1;
      }
  }

  std::vector<uint8_t> person;  // the person's part ids over its box
  for (int64_t ai : anns) {
    const DensePoseAnnotation& a = set.annotations[size_t(ai)];
    if (!a.has_dense || a.iscrowd) continue;
    std::string context = fmt::format("{}: annotation id {}", json_name, a.id);
    Box b = pixel_box(a.bbox, W, H);
    if (b.empty()) continue;
    const int bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    // The 256×256 part map, later parts over earlier ones as in DensePose's code.
    std::vector<uint8_t> parts(size_t(kDensePoseMaskSize) * kDensePoseMaskSize, 0);
    for (int k = 0; k < 14; ++k) {
      const CocoRle& rle = a.dp_masks[size_t(k)];
      if (rle.height == 0) continue;
      ENGINE_CHECK(rle.height == kDensePoseMaskSize && rle.width == kDensePoseMaskSize,
                   "{}: dp_masks[{}] is {}x{}, expected 256x256", context, k, rle.height,
                   rle.width);
      std::vector<uint8_t> m = decode_rle(rle, fmt::format("{}: dp_masks[{}]", context, k));
      for (size_t i = 0; i < m.size(); ++i)
        if (m[i]) parts[i] = uint8_t(k + 1);
    }
    // Nearest resize into the box (OpenCV INTER_NEAREST: floor(dst · src / dst_size)).
    person.assign(size_t(bw) * bh, 0);
    std::vector<int> mx(static_cast<size_t>(bw));
    for (int x = 0; x < bw; ++x)
      mx[size_t(x)] = std::min(kDensePoseMaskSize - 1, int(int64_t(x) * kDensePoseMaskSize / bw));
    std::array<double, 15> sx{}, sy{}, cnt{};
    for (int y = 0; y < bh; ++y) {
      int my = std::min(kDensePoseMaskSize - 1, int(int64_t(y) * kDensePoseMaskSize / bh));
      for (int x = 0; x < bw; ++x) {
        uint8_t v = parts[size_t(my) * kDensePoseMaskSize + mx[size_t(x)]];
        person[size_t(y) * bw + x] = v;
        if (!v) continue;
        dense[int64_t(y + b.y1) * W + x + b.x1] = v;
        sx[v] += x;
        sy[v] += y;
        cnt[v] += 1;
      }
    }

    // Keypoints: one per coarse part present.
    double sigma = p.sigma_scale * std::sqrt(std::max(1.0, a.bbox[2] * a.bbox[3]));
    std::array<std::vector<std::pair<double, double>>, 15> pts;
    for (size_t i = 0; i < a.dp_I.size(); ++i) {
      int part = coarse_part(a.dp_I[i]);
      pts[size_t(part)].emplace_back(a.bbox[0] + a.dp_x[i] / 255.0 * a.bbox[2],
                                     a.bbox[1] + a.dp_y[i] / 255.0 * a.bbox[3]);
    }
    auto mask_centre = [&](int part, Keypoint& kp) {
      if (cnt[size_t(part)] == 0) return false;
      double cx = sx[size_t(part)] / cnt[size_t(part)], cy = sy[size_t(part)] / cnt[size_t(part)];
      double best = std::numeric_limits<double>::infinity();
      for (int y = 0; y < bh; ++y)
        for (int x = 0; x < bw; ++x) {
          if (person[size_t(y) * bw + x] != part) continue;
          double d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
          if (d < best) {
            best = d;
            kp.x = x + b.x1;
            kp.y = y + b.y1;
          }
        }
      return true;
    };
    auto point_centre = [&](int part, Keypoint& kp) {
      const auto& v = pts[size_t(part)];
      if (v.empty()) return false;
      double cx = 0, cy = 0;
      for (const auto& q : v) {
        cx += q.first;
        cy += q.second;
      }
      cx /= double(v.size());
      cy /= double(v.size());
      double best = std::numeric_limits<double>::infinity();
      for (const auto& q : v) {
        double d = (q.first - cx) * (q.first - cx) + (q.second - cy) * (q.second - cy);
        if (d < best) {
          best = d;
          kp.x = q.first;
          kp.y = q.second;
        }
      }
      return true;
    };
    for (int part = 1; part < kDensePoseClasses; ++part) {
      Keypoint kp;
      kp.part = part;
      kp.sigma = sigma;
      bool found = p.source == KeypointSource::mask_centre
                       ? (mask_centre(part, kp) || point_centre(part, kp))
                       : (point_centre(part, kp) || mask_centre(part, kp));
      if (found) out.keypoints.push_back(kp);
    }
  }

  // Gaussian blobs: the highest heat and its part per pixel.
  std::vector<float> heat(size_t(H) * W, 0.0f);
  std::vector<uint8_t> part_of(size_t(H) * W, 0);
  for (const Keypoint& kp : out.keypoints) {
    double radius = kp.sigma * std::sqrt(-2.0 * std::log(p.background_threshold));
    int y0 = std::max(0, int(std::floor(kp.y - radius))), y1 = std::min(H - 1, int(kp.y + radius));
    int x0 = std::max(0, int(std::floor(kp.x - radius))), x1 = std::min(W - 1, int(kp.x + radius));
    double inv = 1.0 / (2.0 * kp.sigma * kp.sigma);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        double d2 = (x - kp.x) * (x - kp.x) + (y - kp.y) * (y - kp.y);
        float h = float(std::exp(-d2 * inv));
        size_t i = size_t(y) * W + x;
        if (h > heat[i]) {
          heat[i] = h;
          part_of[i] = uint8_t(kp.part);
        }
      }
  }
  uint8_t* pts = out.points.data<uint8_t>();
  for (size_t i = 0; i < heat.size(); ++i) {
    if (heat[i] >= p.label_threshold)
      pts[i] = part_of[i];
    else if (heat[i] < p.background_threshold && !unknown_person[i])
      pts[i] = 0;
    else
      pts[i] = kUnlabeled;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_gray_png(const std::string& path, const Tensor& ids) {
  ENGINE_CHECK(ids.defined() && ids.dtype() == DType::u8 && ids.dim() == 2 && ids.device().is_cpu(),
               "write_gray_png '{}': expected u8 [H, W] on cpu, got {}", path,
               ids.defined() ? ids.desc() : std::string("undefined"));
  Tensor c = ids.contiguous();
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  ENGINE_CHECK(ctx != nullptr, "write_gray_png '{}': cannot create a PNG encoder", path);
  struct Guard {
    spng_ctx* ctx;
    ~Guard() { spng_ctx_free(ctx); }
  } guard{ctx};
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = uint32_t(c.size(1));
  ihdr.height = uint32_t(c.size(0));
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
  int rc = spng_set_ihdr(ctx, &ihdr);
  if (!rc)
    rc = spng_encode_image(ctx, c.raw_data(), c.nbytes(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  ENGINE_CHECK(!rc, "write_gray_png '{}': {}", path, spng_strerror(rc));
  size_t size = 0;
  void* buf = spng_get_png_buffer(ctx, &size, &rc);
  ENGINE_CHECK(buf != nullptr && !rc, "write_gray_png '{}': {}", path, spng_strerror(rc));
  struct Free {
    void* p;
    ~Free() { free(p); }
  } free_buf{buf};
  engine::io::AtomicFile file(path);
  file.write(buf, size);
  file.commit();
}

ConvertReport convert_densepose(const ConvertOptions& o) {
  ENGINE_CHECK(!o.json_path.empty() && !o.out_dir.empty() && !o.image_dir.empty(),
               "convert_densepose: json, images and out paths are required");
  ENGINE_CHECK(o.threads >= 1, "convert_densepose: threads must be >= 1, got {}", o.threads);
  DensePoseSet set = read_densepose_json(o.json_path);

  ConvertReport report;
  std::vector<int64_t> todo;
  for (size_t i = 0; i < set.images.size(); ++i) {
    int64_t dense = 0;
    for (int64_t ai : set.by_image[i])
      dense += set.annotations[size_t(ai)].has_dense && !set.annotations[size_t(ai)].iscrowd;
    if (dense > 0) {
      todo.push_back(int64_t(i));
      report.annotations += dense;
    } else {
      ++report.skipped;
    }
  }

  fs::path out(o.out_dir);
  fs::path dense_dir = out / "segcls" / "densepose" / "gray";
  fs::path point_dir = out / "segcls" / "densepose_points" / "gray";
  std::error_code ec;
  for (const fs::path& d : {dense_dir, point_dir, out / "lists"}) {
    fs::create_directories(d, ec);
    ENGINE_CHECK(!ec, "convert_densepose: cannot create '{}': {}", d.string(), ec.message());
  }
  // The list holds image paths relative to the data root when the images live under it.
  fs::path images = fs::absolute(o.image_dir).lexically_normal();
  fs::path root = fs::absolute(out).lexically_normal();
  fs::path rel = images.lexically_relative(root);
  std::string image_prefix =
      (!rel.empty() && *rel.begin() != "..") ? rel.string() : images.string();

  std::vector<std::string> lines(todo.size());
  std::atomic<int64_t> next{0};
  std::mutex mutex;
  std::exception_ptr error;
  std::optional<engine::ProgressBar> bar;
  if (o.progress) bar.emplace("densepose labels", int64_t(todo.size()), "img");
  auto work = [&] {
    while (true) {
      int64_t k = next.fetch_add(1);
      if (k >= int64_t(todo.size())) return;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (error) return;
      }
      try {
        const DensePoseImage& img = set.images[size_t(todo[size_t(k)])];
        DensePoseLabels labels = make_densepose_labels(set, todo[size_t(k)], o.points, o.json_path);
        std::string stem = fs::path(img.file_name).stem().string();
        write_gray_png((dense_dir / (stem + ".png")).string(), labels.dense);
        write_gray_png((point_dir / (stem + ".png")).string(), labels.points);
        lines[size_t(k)] = fmt::format(
            "{}/{} segcls/densepose/gray/{}.png "
            "segcls/densepose_points/gray/{}.png",
            image_prefix, img.file_name, stem, stem);
        std::lock_guard<std::mutex> lock(mutex);
        if (bar) bar->advance();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < o.threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  if (bar) bar->finish();
  if (error) std::rethrow_exception(error);

  std::string split = o.split.empty() ? fs::path(o.json_path).stem().string() : o.split;
  report.list_path = (out / "lists" / (split + ".txt")).string();
  engine::io::AtomicFile list(report.list_path);
  for (const std::string& line : lines) {
    list.write(line);
    list.write("\n");
  }
  list.commit();
  report.images = int64_t(todo.size());
  return report;
}

}  // namespace data
