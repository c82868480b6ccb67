#include "spml/metrics.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace spml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Below this many pixels a single thread beats the cost of starting a team.
constexpr int64_t kParallelPixels = int64_t(1) << 19;

const char* policy_name(AbsentClassPolicy p) {
  return p == AbsentClassPolicy::exclude ? "exclude" : "zero";
}

std::string json_number(double v) {
  if (std::isnan(v)) return "null";
  return fmt::format("{:.10g}", v);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", unsigned(c));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string csv_number(double v) {
  return std::isnan(v) ? "nan" : fmt::format("{:.10g}", v);
}

std::string percent(double v) {
  return std::isnan(v) ? "     -" : fmt::format("{:6.2f}", 100 * v);
}

}  // namespace

const std::vector<std::string>& voc_class_names() {
  static const std::vector<std::string> names = {
      "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
      "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
      "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};
  return names;
}

const std::vector<std::string>& densepose_class_names() {
  static const std::vector<std::string> names = {
      "Background", "Torso", "R.Hand", "L.Hand", "L.Foot",    "R.Foot",    "R.Thigh", "L.Thigh",
      "R.Leg",      "L.Leg", "L.Arm",  "R.Arm",  "L.Forearm", "R.Forearm", "Head"};
  return names;
}

ConfusionMatrix::ConfusionMatrix(int num_classes, int ignore_index)
    : c_(num_classes), ignore_(ignore_index) {
  ENGINE_CHECK(num_classes >= 1 && num_classes <= 65536,
               "ConfusionMatrix: num_classes must be in [1, 65536], got {}", num_classes);
  ENGINE_CHECK(ignore_index < 0 || ignore_index >= num_classes,
               "ConfusionMatrix: ignore_index {} is one of the {} classes; it must lie outside "
               "[0, {})",
               ignore_index, num_classes, num_classes);
  counts_.assign(size_t(c_) * size_t(c_ + 1), 0);
}

template <typename T>
void ConfusionMatrix::add_impl(const T* prediction, const T* target, int64_t n,
                               const std::string& what) {
  ENGINE_CHECK(n >= 0, "ConfusionMatrix::add ({}): negative pixel count {}", what, n);
  if (n == 0) return;
  ENGINE_CHECK(prediction != nullptr && target != nullptr,
               "ConfusionMatrix::add ({}): null label pointer", what);
  const int64_t C = c_;
  const int64_t cols = C + 1;
  const int64_t cells = C * cols;
  // Per-thread histogram: C*(C+1) cells, then ignored, then bad-target count.
  const int64_t stride = cells + 2;
  const bool parallel = n >= kParallelPixels && !omp_in_parallel();
  const int threads = parallel ? std::max(1, omp_get_max_threads()) : 1;
  std::vector<int64_t> hist(size_t(stride) * size_t(threads), 0);
  std::vector<int64_t> first_bad(size_t(threads), -1);
  const int64_t ignore = ignore_;

#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int t = omp_get_thread_num();
    int64_t* h = hist.data() + size_t(t) * size_t(stride);
    int64_t bad_at = -1;
    const int nt = omp_get_num_threads();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t begin = std::min(n, chunk * t), end = std::min(n, begin + chunk);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t g = int64_t(target[i]);
      const int64_t p = int64_t(prediction[i]);
      if (g >= 0 && g < C) [[likely]] {
        const int64_t col = (p >= 0 && p < C) ? p : C;
        ++h[g * cols + col];
      } else if (g == ignore) {
        ++h[cells];
      } else {
        ++h[cells + 1];
        if (bad_at < 0) bad_at = i;
      }
    }
    first_bad[size_t(t)] = bad_at;
  }

  int64_t bad = 0;
  for (int t = 0; t < threads; ++t) bad += hist[size_t(t) * size_t(stride) + size_t(cells) + 1];
  if (bad > 0) {
    int64_t at = -1;
    for (int64_t b : first_bad)
      if (b >= 0) {
        at = b;
        break;
      }
    ENGINE_THROW(
        "ConfusionMatrix::add ({}): {} ground-truth pixels are outside [0, {}) and are not the "
        "ignore index {} (first: value {} at flat index {}); is the class count right?",
        what, bad, c_, ignore_, int64_t(target[at]), at);
  }
  for (int t = 0; t < threads; ++t) {
    const int64_t* h = hist.data() + size_t(t) * size_t(stride);
    for (int64_t k = 0; k < cells; ++k) counts_[size_t(k)] += h[k];
    ignored_ += h[cells];
  }
}

void ConfusionMatrix::add(const uint8_t* prediction, const uint8_t* target, int64_t n,
                          const std::string& what) {
  add_impl(prediction, target, n, what);
}

void ConfusionMatrix::add(const int32_t* prediction, const int32_t* target, int64_t n,
                          const std::string& what) {
  add_impl(prediction, target, n, what);
}

void ConfusionMatrix::add(const engine::Tensor& prediction, const engine::Tensor& target) {
  ENGINE_CHECK(prediction.defined() && target.defined(),
               "ConfusionMatrix::add: undefined prediction or target tensor");
  ENGINE_CHECK(prediction.shape() == target.shape(),
               "ConfusionMatrix::add: prediction shape {} differs from target shape {}",
               engine::shape_str(prediction.shape()), engine::shape_str(target.shape()));
  ENGINE_CHECK(target.dim() == 2 || target.dim() == 3,
               "ConfusionMatrix::add: label maps must be [H, W] or [N, H, W], got {}",
               engine::shape_str(target.shape()));
  for (const engine::Tensor* t : {&prediction, &target}) {
    ENGINE_CHECK(t->dtype() == engine::DType::u8 || t->dtype() == engine::DType::i32,
                 "ConfusionMatrix::add: label maps must be u8 or i32, got {}", t->desc());
    ENGINE_CHECK(t->device().is_cpu(),
                 "ConfusionMatrix::add: label maps must be on the CPU, got {}", t->desc());
  }
  if (prediction.dtype() == engine::DType::u8 && target.dtype() == engine::DType::u8) {
    engine::Tensor p = prediction.contiguous(), t = target.contiguous();
    add(p.data<uint8_t>(), t.data<uint8_t>(), t.numel(), "tensors");
  } else {
    engine::Tensor p = prediction.to(engine::DType::i32).contiguous();
    engine::Tensor t = target.to(engine::DType::i32).contiguous();
    add(p.data<int32_t>(), t.data<int32_t>(), t.numel(), "tensors");
  }
}

void ConfusionMatrix::add_all_wrong(const uint8_t* target, int64_t n, const std::string& what) {
  ENGINE_CHECK(n >= 0, "ConfusionMatrix::add_all_wrong ({}): negative pixel count {}", what, n);
  if (n == 0) return;
  // A prediction value outside [0, C) lands in the out-of-range column for every valid pixel.
  if (c_ > 255) {
    std::vector<int32_t> p(size_t(n), c_), t(target, target + n);
    add_impl(p.data(), t.data(), n, what);
  } else {
    std::vector<uint8_t> p(static_cast<size_t>(n), static_cast<uint8_t>(c_));
    add_impl(p.data(), target, n, what);
  }
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  ENGINE_CHECK(other.c_ == c_ && other.ignore_ == ignore_,
               "ConfusionMatrix::merge: matrices differ ({} classes, ignore {} vs {} classes, "
               "ignore {})",
               c_, ignore_, other.c_, other.ignore_);
  for (size_t k = 0; k < counts_.size(); ++k) counts_[k] += other.counts_[k];
  ignored_ += other.ignored_;
}

void ConfusionMatrix::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  ignored_ = 0;
}

int64_t ConfusionMatrix::count(int gt, int pred) const {
  ENGINE_CHECK(gt >= 0 && gt < c_ && pred >= 0 && pred <= c_,
               "ConfusionMatrix::count: ({}, {}) is outside the [{}, {}] matrix", gt, pred, c_,
               c_ + 1);
  return counts_[size_t(gt) * size_t(c_ + 1) + size_t(pred)];
}

int64_t ConfusionMatrix::total_valid() const {
  int64_t s = 0;
  for (int64_t v : counts_) s += v;
  return s;
}

SegmentationScores ConfusionMatrix::scores(AbsentClassPolicy policy) const {
  SegmentationScores s;
  s.policy = policy;
  const size_t C = size_t(c_), cols = C + 1;
  s.iou.assign(C, kNaN);
  s.class_accuracy.assign(C, kNaN);
  s.gt_pixels.assign(C, 0);
  s.pred_pixels.assign(C, 0);
  int64_t tp_sum = 0;
  for (size_t g = 0; g < C; ++g) {
    for (size_t p = 0; p <= C; ++p) {
      const int64_t v = counts_[g * cols + p];
      s.gt_pixels[g] += v;
      if (p < C)
        s.pred_pixels[p] += v;
      else
        s.invalid_predictions += v;
    }
    tp_sum += counts_[g * cols + g];
  }
  for (size_t g = 0; g < C; ++g) s.valid_pixels += s.gt_pixels[g];
  s.ignored_pixels = ignored_;

  double iou_sum = 0, acc_sum = 0, fw_sum = 0;
  int iou_n = 0, acc_n = 0;
  for (size_t c = 0; c < C; ++c) {
    const int64_t tp = counts_[c * cols + c];
    const int64_t uni = s.gt_pixels[c] + s.pred_pixels[c] - tp;
    if (uni > 0) {
      s.iou[c] = double(tp) / double(uni);
      ++s.classes_present;
    } else if (policy == AbsentClassPolicy::zero) {
      s.iou[c] = 0.0;
    }
    if (!std::isnan(s.iou[c])) {
      iou_sum += s.iou[c];
      ++iou_n;
    }
    if (s.gt_pixels[c] > 0) {
      s.class_accuracy[c] = double(tp) / double(s.gt_pixels[c]);
      acc_sum += s.class_accuracy[c];
      ++acc_n;
      fw_sum += double(s.gt_pixels[c]) * s.iou[c];
    }
  }
  s.mean_iou = iou_n ? iou_sum / iou_n : kNaN;
  s.mean_class_accuracy = acc_n ? acc_sum / acc_n : kNaN;
  s.pixel_accuracy = s.valid_pixels ? double(tp_sum) / double(s.valid_pixels) : kNaN;
  s.frequency_weighted_iou = s.valid_pixels ? fw_sum / double(s.valid_pixels) : kNaN;
  return s;
}

std::vector<std::string> ConfusionMatrix::names_or_default(
    const std::vector<std::string>& names) const {
  if (names.empty()) {
    std::vector<std::string> out;
    out.reserve(size_t(c_));
    for (int c = 0; c < c_; ++c) out.push_back(fmt::format("class_{}", c));
    return out;
  }
  ENGINE_CHECK(int64_t(names.size()) == c_, "ConfusionMatrix: {} class names given for {} classes",
               names.size(), c_);
  return names;
}

std::string ConfusionMatrix::to_json(const std::vector<std::string>& class_names,
                                     AbsentClassPolicy policy, bool include_matrix) const {
  const std::vector<std::string> names = names_or_default(class_names);
  const SegmentationScores s = scores(policy);
  std::string j = "{\n";
  j += fmt::format("  \"num_classes\": {},\n  \"ignore_index\": {},\n", c_, ignore_);
  j += fmt::format("  \"absent_class_policy\": \"{}\",\n", policy_name(policy));
  j += fmt::format("  \"miou\": {},\n", json_number(s.mean_iou));
  j += fmt::format("  \"pixel_accuracy\": {},\n", json_number(s.pixel_accuracy));
  j += fmt::format("  \"mean_class_accuracy\": {},\n", json_number(s.mean_class_accuracy));
  j += fmt::format("  \"frequency_weighted_iou\": {},\n", json_number(s.frequency_weighted_iou));
  j += fmt::format("  \"valid_pixels\": {},\n  \"ignored_pixels\": {},\n", s.valid_pixels,
                   s.ignored_pixels);
  j += fmt::format("  \"invalid_predictions\": {},\n  \"classes_present\": {},\n",
                   s.invalid_predictions, s.classes_present);
  j += "  \"classes\": [\n";
  for (int c = 0; c < c_; ++c) {
    j += fmt::format(
        "    {{\"id\": {}, \"name\": {}, \"iou\": {}, \"accuracy\": {}, \"gt_pixels\": {}, "
        "\"pred_pixels\": {}}}{}\n",
        c, json_string(names[size_t(c)]), json_number(s.iou[size_t(c)]),
        json_number(s.class_accuracy[size_t(c)]), s.gt_pixels[size_t(c)], s.pred_pixels[size_t(c)],
        c + 1 < c_ ? "," : "");
  }
  j += "  ]";
  if (include_matrix) {
    j += ",\n  \"confusion_matrix\": [\n";
    const size_t cols = size_t(c_) + 1;
    for (int g = 0; g < c_; ++g) {
      j += "    [";
      for (size_t p = 0; p < cols; ++p)
        j += fmt::format("{}{}", p ? ", " : "", counts_[size_t(g) * cols + p]);
      j += g + 1 < c_ ? "],\n" : "]\n";
    }
    j += "  ]";
  }
  j += "\n}\n";
  return j;
}

std::string ConfusionMatrix::to_csv(const std::vector<std::string>& class_names,
                                    AbsentClassPolicy policy) const {
  const std::vector<std::string> names = names_or_default(class_names);
  const SegmentationScores s = scores(policy);
  std::string out = "class_id,name,iou,accuracy,gt_pixels,pred_pixels\n";
  for (int c = 0; c < c_; ++c)
    out += fmt::format("{},{},{},{},{},{}\n", c, csv_field(names[size_t(c)]),
                       csv_number(s.iou[size_t(c)]), csv_number(s.class_accuracy[size_t(c)]),
                       s.gt_pixels[size_t(c)], s.pred_pixels[size_t(c)]);
  out += fmt::format("mean,mean,{},{},{},\n", csv_number(s.mean_iou),
                     csv_number(s.mean_class_accuracy), s.valid_pixels);
  out += fmt::format("pixel_accuracy,pixel_accuracy,,{},{},\n", csv_number(s.pixel_accuracy),
                     s.valid_pixels);
  return out;
}

std::string ConfusionMatrix::table(const std::vector<std::string>& class_names,
                                   AbsentClassPolicy policy) const {
  const std::vector<std::string> names = names_or_default(class_names);
  const SegmentationScores s = scores(policy);
  size_t w = 5;
  for (const std::string& n : names) w = std::max(w, n.size());
  std::string out = fmt::format("{:>3}  {:<{}}  {:>6}  {:>6}  {:>12}  {:>12}\n", "id", "class", w,
                                "IoU%", "Acc%", "gt pixels", "pred pixels");
  for (int c = 0; c < c_; ++c)
    out += fmt::format("{:>3}  {:<{}}  {}  {}  {:>12}  {:>12}\n", c, names[size_t(c)], w,
                       percent(s.iou[size_t(c)]), percent(s.class_accuracy[size_t(c)]),
                       s.gt_pixels[size_t(c)], s.pred_pixels[size_t(c)]);
  out += fmt::format("mIoU {} % over {} classes ({} absent classes {})\n", percent(s.mean_iou),
                     policy == AbsentClassPolicy::exclude ? s.classes_present : c_,
                     c_ - s.classes_present,
                     policy == AbsentClassPolicy::exclude ? "excluded" : "counted as 0");
  out += fmt::format("pixel accuracy {} %, mean class accuracy {} %, frequency-weighted IoU {} %\n",
                     percent(s.pixel_accuracy), percent(s.mean_class_accuracy),
                     percent(s.frequency_weighted_iou));
  out += fmt::format("{} valid pixels, {} ignored, {} predicted outside [0, {})\n", s.valid_pixels,
                     s.ignored_pixels, s.invalid_predictions, c_);
  return out;
}

std::string ConfusionMatrix::matrix_table(const std::vector<std::string>& class_names,
                                          bool normalized) const {
  const std::vector<std::string> names = names_or_default(class_names);
  const size_t cols = size_t(c_) + 1;
  size_t w = 5;
  for (const std::string& n : names) w = std::max(w, n.size());
  const size_t cw = normalized ? 6 : 10;
  const std::string corner = normalized ? "GT \\ pred (% of row)" : "GT \\ pred";
  w = std::max(w, corner.size());
  std::string out = fmt::format("{:<{}}", corner, w);
  for (int p = 0; p < c_; ++p) out += fmt::format(" {:>{}}", p, cw);
  out += fmt::format(" {:>{}}\n", "other", cw);
  for (int g = 0; g < c_; ++g) {
    out += fmt::format("{:<{}}", names[size_t(g)], w);
    int64_t row = 0;
    for (size_t p = 0; p < cols; ++p) row += counts_[size_t(g) * cols + p];
    for (size_t p = 0; p < cols; ++p) {
      const int64_t v = counts_[size_t(g) * cols + p];
      if (normalized)
        out += row ? fmt::format(" {:>{}.1f}", 100.0 * double(v) / double(row), cw)
                   : fmt::format(" {:>{}}", "-", cw);
      else
        out += fmt::format(" {:>{}}", v, cw);
    }
    out += "\n";
  }
  return out;
}

}  // namespace spml
