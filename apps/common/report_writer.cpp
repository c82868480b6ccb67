#include "apps/common/report_writer.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "apps/common/plot.h"
#include "data/image_io.h"
#include "data/list_file.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace apps {

namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  ENGINE_CHECK(in.good(), "cannot read the {} '{}'", what, path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JSON number (or null -> NaN); false for other types.
bool number_of(simdjson::dom::element e, double& out) {
  if (e.is_null()) {
    out = kNaN;
    return true;
  }
  double d = 0;
  if (!e.get_double().get(d)) {
    out = d;
    return true;
  }
  int64_t i = 0;
  if (!e.get_int64().get(i)) {
    out = double(i);
    return true;
  }
  uint64_t u = 0;
  if (!e.get_uint64().get(u)) {
    out = double(u);
    return true;
  }
  return false;
}

std::string compact_value(simdjson::dom::element e) {
  std::string_view sv;
  if (!e.get_string().get(sv)) return std::string(sv);
  return simdjson::minify(e);
}

std::string fmt_num(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string("n/a");
}

std::string fmt_loss(double v) {
  if (!std::isfinite(v)) return "n/a";
  return std::abs(v) >= 1e-3 || v == 0 ? fmt::format("{:.4f}", v) : fmt::format("{:.3e}", v);
}

// File-name-safe version of a run name.
std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(uint8_t(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "run" : out;
}

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Nearest-neighbour enlargement by an integer factor of u8 [H, W, 3].
engine::Tensor enlarge(const engine::Tensor& rgb, int factor) {
  if (factor == 1) return rgb;
  const int64_t h = rgb.size(0), w = rgb.size(1);
  engine::Tensor out = engine::Tensor::empty({h * factor, w * factor, 3}, engine::DType::u8);
  const uint8_t* src = rgb.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  for (int64_t y = 0; y < h * factor; ++y)
    for (int64_t x = 0; x < w * factor; ++x)
      std::memcpy(dst + (y * w * factor + x) * 3, src + ((y / factor) * w + x / factor) * 3, 3);
  return out;
}

void blit(engine::Tensor& dst, const engine::Tensor& src, int64_t top, int64_t left) {
  const int64_t dw = dst.size(1), sh = src.size(0), sw = src.size(1);
  const uint8_t* s = src.data<uint8_t>();
  uint8_t* d = dst.data<uint8_t>();
  for (int64_t y = 0; y < sh; ++y)
    std::memcpy(d + ((top + y) * dw + left) * 3, s + y * sw * 3, size_t(sw) * 3);
}

struct LossStats {
  double first = kNaN, final_mean = kNaN, last = kNaN, min = kNaN, min_step = kNaN;
};

LossStats loss_stats(const std::vector<double>& step, const std::vector<double>& v) {
  LossStats s;
  std::vector<size_t> finite;
  for (size_t i = 0; i < v.size(); ++i)
    if (std::isfinite(v[i])) finite.push_back(i);
  if (finite.empty()) return s;
  s.first = v[finite.front()];
  s.last = v[finite.back()];
  const size_t tail = std::max<size_t>(1, finite.size() / 10);
  double sum = 0;
  for (size_t k = finite.size() - tail; k < finite.size(); ++k) sum += v[finite[k]];
  s.final_mean = sum / double(tail);
  for (size_t i : finite)
    if (!(v[i] >= s.min)) s.min = v[i], s.min_step = step[i];
  return s;
}

// The key settings shown from config.json / network.json, in this order when present.
const std::vector<std::string>& setting_keys() {
  static const std::vector<std::string> keys = {
      "data_root", "split", "supervision",   "preset",        "depth",      "blocks",
      "stem",      "width", "output_stride", "embedding_dim", "iterations", "batch_size",
      "crop",      "lr",    "warmup_iters",  "seed",          "device",     "num_classes",
      "labels",    "init"};
  return keys;
}

Plot loss_plot(const std::vector<PlotSeries>& smoothed, const std::vector<PlotSeries>& raw,
               const std::string& title, bool log_y) {
  std::vector<PlotSeries> all = raw;
  all.insert(all.end(), smoothed.begin(), smoothed.end());
  PlotOptions opt;
  opt.width = 900;
  opt.height = 500;
  opt.title = title;
  opt.x_label = "step";
  opt.y_label = log_y ? "loss (log)" : "loss";
  opt.log_y = log_y;
  return render_line_plot(all, opt);
}

// Adds `key` of `log` as a faint raw curve and a smoothed curve in colour `color`.
void add_loss_series(const MetricsLog& log, const std::string& key, const std::string& name,
                     Rgb color, int window, std::vector<PlotSeries>& smoothed,
                     std::vector<PlotSeries>& raw) {
  const std::vector<double> y = log.column(key);
  PlotSeries r;
  r.x = log.step;
  r.y = y;
  r.color = color;
  r.opacity = 0.25f;
  raw.push_back(std::move(r));
  PlotSeries s;
  s.name = name;
  s.x = log.step;
  s.y = moving_average(y, window);
  s.color = color;
  s.thickness = 2;
  smoothed.push_back(std::move(s));
}

int auto_window(size_t n, int requested) {
  if (requested > 0) return requested;
  return int(std::clamp<size_t>(n / 25, 1, 101));
}

}  // namespace

std::vector<double> MetricsLog::column(const std::string& key) const {
  if (key == "step") return step;
  auto it = values.find(key);
  if (it == values.end()) return std::vector<double>(step.size(), kNaN);
  return it->second;
}

bool MetricsLog::has_values(const std::string& key) const {
  auto it = values.find(key);
  return it != values.end() && std::any_of(it->second.begin(), it->second.end(),
                                           [](double v) { return std::isfinite(v); });
}

const std::vector<std::string>& loss_keys() {
  static const std::vector<std::string> keys = {"total",   "sem_ann",  "sem_occ",
                                                "img_sim", "feat_aff", "ce"};
  return keys;
}

MetricsLog read_metrics_jsonl(const std::string& path) {
  MetricsLog log;
  log.path = path;
  std::ifstream in(path, std::ios::binary);
  ENGINE_CHECK(in.good(), "cannot read the metrics file '{}'", path);
  simdjson::dom::parser parser;
  std::string line;
  int line_no = 0;
  size_t rows = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    simdjson::dom::element root;
    ENGINE_CHECK(!parser.parse(line).get(root), "{}:{}: not valid JSON", path, line_no);
    simdjson::dom::object obj;
    ENGINE_CHECK(!root.get_object().get(obj), "{}:{}: expected a JSON object", path, line_no);
    simdjson::dom::element e;
    double step = kNaN, total = kNaN;
    ENGINE_CHECK(!obj["step"].get(e) && number_of(e, step) && std::isfinite(step),
                 "{}:{}: missing or non-numeric key 'step'", path, line_no);
    // Stage-1 runs log "total"; classifier runs (train_classifier) a single "loss".
    const bool has_total = !obj["total"].get(e);
    ENGINE_CHECK((has_total || !obj["loss"].get(e)) && number_of(e, total),
                 "{}:{}: missing or non-numeric key 'total' (or 'loss')", path, line_no);
    log.step.push_back(step);
    for (auto field : obj) {
      std::string key(field.key);
      if (key == "step") continue;
      if (!has_total && key == "loss") key = "total";
      double v = kNaN;
      if (!number_of(field.value, v)) continue;
      auto it = log.values.find(key);
      if (it == log.values.end()) {
        log.keys.push_back(key);
        it = log.values.emplace(key, std::vector<double>(rows, kNaN)).first;
      }
      it->second.push_back(v);
    }
    ++rows;
    for (auto& [key, col] : log.values) col.resize(rows, kNaN);  // keys this line lacks
  }
  ENGINE_CHECK(rows > 0, "the metrics file '{}' has no lines", path);
  return log;
}

RunInfo read_run(const std::string& name, const std::string& dir) {
  ENGINE_CHECK(fs::is_directory(dir), "run folder '{}' does not exist", dir);
  RunInfo run;
  run.name = name;
  run.dir = dir;
  run.metrics = read_metrics_jsonl((fs::path(dir) / "metrics.jsonl").string());
  for (const char* file : {"config.json", "network.json"}) {
    const fs::path p = fs::path(dir) / file;
    if (!fs::is_regular_file(p)) continue;
    run.settings_file = p.string();
    const std::string text = read_text(p.string(), "run settings");
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ENGINE_CHECK(!parser.parse(text).get(root), "run settings '{}': not valid JSON", p.string());
    simdjson::dom::object obj;
    ENGINE_CHECK(!root.get_object().get(obj), "run settings '{}': expected a JSON object",
                 p.string());
    for (const std::string& key : setting_keys()) {
      simdjson::dom::element e;
      if (obj[key].get(e)) continue;
      const std::string v = compact_value(e);
      if (v.empty() || v == "[]") continue;
      run.settings.emplace_back(key, v);
    }
    // train_voc ignores depth when blocks are given; showing both would mislead.
    const bool has_blocks = std::any_of(run.settings.begin(), run.settings.end(),
                                        [](const auto& kv) { return kv.first == "blocks"; });
    if (has_blocks)
      run.settings.erase(std::remove_if(run.settings.begin(), run.settings.end(),
                                        [](const auto& kv) { return kv.first == "depth"; }),
                         run.settings.end());
    break;
  }
  return run;
}

EvalScores read_eval_json(const std::string& path, const std::string& label) {
  const std::string text = read_text(path, "eval JSON");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ENGINE_CHECK(!parser.parse(text).get(root), "eval JSON '{}': not valid JSON", path);
  EvalScores s;
  s.label = label;
  s.path = path;
  simdjson::dom::element e;
  const auto need_number = [&](const char* key, double& out) {
    ENGINE_CHECK(!root[key].get(e) && number_of(e, out),
                 "eval JSON '{}': missing or non-numeric key '{}'", path, key);
  };
  need_number("miou", s.miou);
  need_number("pixel_accuracy", s.pixel_accuracy);
  if (!root["mean_class_accuracy"].get(e)) number_of(e, s.mean_class_accuracy);
  double images = -1;
  if (!root["images"].get(e) && number_of(e, images) && std::isfinite(images))
    s.images = int64_t(images);
  simdjson::dom::array classes;
  ENGINE_CHECK(!root["classes"].get_array().get(classes),
               "eval JSON '{}': missing key 'classes' (an array)", path);
  size_t i = 0;
  for (simdjson::dom::element c : classes) {
    ClassScore cs;
    double id = 0, gt = 0;
    std::string_view name;
    ENGINE_CHECK(!c["id"].get(e) && number_of(e, id) && std::isfinite(id),
                 "eval JSON '{}': classes[{}] lacks a numeric 'id'", path, i);
    ENGINE_CHECK(!c["name"].get_string().get(name),
                 "eval JSON '{}': classes[{}] lacks a string 'name'", path, i);
    ENGINE_CHECK(!c["iou"].get(e) && number_of(e, cs.iou),
                 "eval JSON '{}': classes[{}] lacks a numeric 'iou'", path, i);
    if (!c["gt_pixels"].get(e) && number_of(e, gt) && std::isfinite(gt)) cs.gt_pixels = int64_t(gt);
    cs.id = int(id);
    cs.name = std::string(name);
    s.classes.push_back(cs);
    ++i;
  }
  ENGINE_CHECK(!s.classes.empty(), "eval JSON '{}': 'classes' is empty", path);
  return s;
}

engine::Tensor overlay_grid(const OverlaySpec& spec, std::vector<std::string>* ids_out) {
  ENGINE_CHECK(spec.count >= 1 && spec.count <= 64, "overlays: count {} is outside 1..64",
               spec.count);
  ENGINE_CHECK(!spec.pred_dir.empty() && !spec.root.empty() && !spec.split.empty(),
               "overlays need a prediction folder, a dataset root and a split");
  const std::string list =
      (fs::path(spec.root) / "ImageSets" / "Segmentation" / (spec.split + ".txt")).string();
  std::vector<data::ListEntry> entries = data::read_list_file(list);
  if (entries.size() > size_t(spec.count)) entries.resize(size_t(spec.count));

  constexpr int kGap = 6;
  const int band = text_height() + 8;  // caption above each row
  std::vector<std::array<engine::Tensor, 3>> rows;
  std::vector<std::string> ids;
  int64_t width = 0, height = band;  // the header band
  for (const data::ListEntry& e : entries) {
    const std::string img_path = (fs::path(spec.root) / spec.image_dir / (e.id + ".jpg")).string();
    const std::string gt_path = (fs::path(spec.root) / spec.gt_dir / (e.id + ".png")).string();
    const std::string pred_path = (fs::path(spec.pred_dir) / (e.id + ".png")).string();
    for (const std::string& p : {img_path, gt_path, pred_path})
      ENGINE_CHECK(fs::is_regular_file(p), "overlays: '{}' does not exist", p);
    engine::Tensor rgb = data::read_image(img_path).contiguous();
    engine::Tensor gt = data::read_label_png(gt_path).ids.contiguous();
    engine::Tensor pred = data::read_label_png(pred_path).ids.contiguous();
    ENGINE_CHECK(gt.size(0) == rgb.size(0) && gt.size(1) == rgb.size(1),
                 "overlays: ground truth '{}' is {}x{} but image '{}' is {}x{} (HxW)", gt_path,
                 gt.size(0), gt.size(1), img_path, rgb.size(0), rgb.size(1));
    ENGINE_CHECK(pred.size(0) == rgb.size(0) && pred.size(1) == rgb.size(1),
                 "overlays: prediction '{}' is {}x{} but image '{}' is {}x{} (HxW)", pred_path,
                 pred.size(0), pred.size(1), img_path, rgb.size(0), rgb.size(1));
    const int factor = int(std::clamp<int64_t>(256 / std::max<int64_t>(1, rgb.size(1)), 1, 4));
    std::array<engine::Tensor, 3> row = {
        enlarge(rgb, factor), enlarge(data::overlay(rgb, gt, 0.6f).contiguous(), factor),
        enlarge(data::overlay(rgb, pred, 0.6f).contiguous(), factor)};
    width = std::max<int64_t>(width, 3 * row[0].size(1) + 4 * kGap);
    height += band + row[0].size(0) + kGap;
    rows.push_back(std::move(row));
    ids.push_back(e.id);
  }
  width = std::max<int64_t>(width, text_width("image | ground truth | prediction") + 2 * kGap);
  engine::Tensor grid = engine::Tensor::empty({height, width, 3}, engine::DType::u8);
  std::memset(grid.data<uint8_t>(), 255, size_t(grid.numel()));
  const Rgb text{40, 40, 40};
  int64_t y = 0;
  if (!rows.empty()) {
    const int64_t w = rows[0][0].size(1);
    const char* heads[3] = {"image", "ground truth", "prediction"};
    for (int k = 0; k < 3; ++k) draw_text(grid, int(kGap + k * (w + kGap)), 4, heads[k], text, 1);
  }
  y += band;
  for (size_t r = 0; r < rows.size(); ++r) {
    draw_text(grid, kGap, int(y + 4), ids[r], Rgb{110, 110, 110}, 1);
    y += band;
    for (int k = 0; k < 3; ++k)
      blit(grid, rows[r][size_t(k)], y, kGap + k * (rows[r][0].size(1) + kGap));
    y += rows[r][0].size(0) + kGap;
  }
  if (ids_out) *ids_out = ids;
  return grid;
}

std::pair<std::string, std::string> split_named(const std::string& text, bool is_file) {
  const size_t eq = text.find('=');
  if (eq != std::string::npos && eq > 0 && text.substr(0, eq).find('/') == std::string::npos)
    return {text.substr(0, eq), text.substr(eq + 1)};
  fs::path p(text);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing '/'
  return {is_file ? p.stem().string() : p.filename().string(), text};
}

ReportFiles write_report(const ReportRequest& req) {
  ENGINE_CHECK(!req.runs.empty() || !req.evals.empty(),
               "report: nothing to report; give at least one run or one eval JSON");
  ENGINE_CHECK(!req.out_dir.empty(), "report: no output folder");
  std::error_code ec;
  fs::create_directories(req.out_dir, ec);
  ENGINE_CHECK(!ec, "report: cannot create the output folder '{}': {}", req.out_dir, ec.message());

  std::vector<RunInfo> runs;
  for (const auto& [name, dir] : req.runs) runs.push_back(read_run(name, dir));
  std::vector<EvalScores> evals;
  for (const auto& [label, path] : req.evals) evals.push_back(read_eval_json(path, label));

  ReportFiles files;
  std::string md = fmt::format("# {}\n\n", req.title);

  // --- loss plots: one run -> its losses in loss.png; several -> totals compared in loss.png
  // and each run's losses in loss-<name>.png ---
  std::vector<std::string> run_plot(runs.size());
  if (runs.size() > 1) {
    std::vector<PlotSeries> smoothed, raw;
    for (size_t r = 0; r < runs.size(); ++r)
      add_loss_series(runs[r].metrics, "total", runs[r].name, series_color(int(r)),
                      auto_window(runs[r].metrics.step.size(), req.smooth_window), smoothed, raw);
    const std::string path = (fs::path(req.out_dir) / "loss.png").string();
    data::write_png(path, loss_plot(smoothed, raw, "total loss", req.log_y).image);
    files.images.push_back(path);
  }
  for (size_t r = 0; r < runs.size(); ++r) {
    const MetricsLog& log = runs[r].metrics;
    std::vector<PlotSeries> smoothed, raw;
    int color = 0;
    for (const std::string& key : loss_keys())
      if (log.has_values(key))
        add_loss_series(log, key, key, series_color(color++),
                        auto_window(log.step.size(), req.smooth_window), smoothed, raw);
    if (smoothed.empty()) continue;
    const std::string file =
        runs.size() == 1 ? std::string("loss.png") : "loss-" + file_safe(runs[r].name) + ".png";
    const std::string path = (fs::path(req.out_dir) / file).string();
    const std::string title = runs.size() == 1 ? std::string("losses") : runs[r].name;
    data::write_png(path, loss_plot(smoothed, raw, title, req.log_y).image);
    files.images.push_back(path);
    run_plot[r] = file;
  }
  if (runs.size() > 1) md += "![total loss of each run](loss.png)\n\n";

  for (size_t r = 0; r < runs.size(); ++r) {
    const RunInfo& run = runs[r];
    const MetricsLog& log = run.metrics;
    md += fmt::format("## Run `{}`\n\nFolder: `{}`", run.name, run.dir);
    md += run.settings_file.empty() ? " (no config.json)\n\n"
                                    : fmt::format(" (settings from `{}`)\n\n",
                                                  fs::path(run.settings_file).filename().string());
    if (!run.settings.empty()) {
      md += "| setting | value |\n| --- | --- |\n";
      for (const auto& [k, v] : run.settings) md += fmt::format("| {} | `{}` |\n", k, v);
      md += "\n";
    }
    md += fmt::format("{} steps logged (steps {} to {}).\n\n", log.step.size(),
                      fmt_num(log.step.front(), 0), fmt_num(log.step.back(), 0));
    md +=
        "| loss | first | final (mean of last 10%) | last | min (step) |\n"
        "| --- | --- | --- | --- | --- |\n";
    for (const std::string& key : loss_keys()) {
      if (key != "total" && !log.values.count(key)) continue;
      if (!log.has_values(key)) {
        md += fmt::format("| {} | off | | | |\n", key);
        continue;
      }
      const LossStats s = loss_stats(log.step, log.column(key));
      md += fmt::format("| {} | {} | {} | {} | {} ({}) |\n", key, fmt_loss(s.first),
                        fmt_loss(s.final_mean), fmt_loss(s.last), fmt_loss(s.min),
                        fmt_num(s.min_step, 0));
    }
    md += "\n";
    if (log.has_values("images_per_s")) {
      // The first step pays for start-up (allocation, caches); it is left out when there are more.
      std::vector<double> ips;
      const std::vector<double> col = log.column("images_per_s");
      for (size_t i = col.size() > 1 ? 1 : 0; i < col.size(); ++i)
        if (std::isfinite(col[i])) ips.push_back(col[i]);
      double mean = 0;
      for (double v : ips) mean += v;
      mean /= double(std::max<size_t>(1, ips.size()));
      md += fmt::format("Throughput: {} images/s (median over {} steps; mean {}).\n\n",
                        fmt_num(median(ips), 2), ips.size(), fmt_num(mean, 2));
    }
    if (!run_plot[r].empty())
      md += fmt::format(
          "![losses of {}]({})\n\nThick lines: moving average over {} steps; faint: "
          "every step.\n\n",
          run.name, run_plot[r], auto_window(log.step.size(), req.smooth_window));
  }

  if (!evals.empty()) {
    md += "## Segmentation scores\n\nIoU per class in %, from `eval_miou --json`";
    md += evals.size() == 1 ? fmt::format(" (`{}`).\n\n", evals[0].path) : ".\n\n";
    md += "| id | class |";
    for (const EvalScores& e : evals) md += fmt::format(" {} |", e.label);
    md += "\n| --- | --- |";
    for (size_t i = 0; i < evals.size(); ++i) md += " --- |";
    md += "\n";
    for (size_t c = 0; c < evals[0].classes.size(); ++c) {
      const ClassScore& cs = evals[0].classes[c];
      md += fmt::format("| {} | {} |", cs.id, cs.name);
      for (const EvalScores& e : evals) {
        auto it = std::find_if(e.classes.begin(), e.classes.end(),
                               [&](const ClassScore& o) { return o.id == cs.id; });
        md += fmt::format(" {} |", it == e.classes.end() ? "" : fmt_num(100.0 * it->iou, 1));
      }
      md += "\n";
    }
    md += "| | **mIoU** |";
    for (const EvalScores& e : evals) md += fmt::format(" **{}** |", fmt_num(100.0 * e.miou, 1));
    md += "\n| | pixel accuracy |";
    for (const EvalScores& e : evals)
      md += fmt::format(" {} |", fmt_num(100.0 * e.pixel_accuracy, 1));
    md += "\n| | images |";
    for (const EvalScores& e : evals)
      md += fmt::format(" {} |", e.images >= 0 ? std::to_string(e.images) : std::string("?"));
    md += "\n\n";
  }

  if (req.overlays.count > 0) {
    std::vector<std::string> ids;
    const engine::Tensor grid = overlay_grid(req.overlays, &ids);
    const std::string path = (fs::path(req.out_dir) / "overlays.png").string();
    data::write_png(path, grid);
    files.images.push_back(path);
    md += fmt::format(
        "## Predictions\n\nFirst {} images of `{}` split `{}`: image | ground truth | "
        "prediction (`{}`), class colours blended over the image.\n\n![overlays](overlays.png)\n",
        ids.size(), req.overlays.root, req.overlays.split, req.overlays.pred_dir);
  }

  files.markdown = (fs::path(req.out_dir) / "report.md").string();
  engine::io::write_file_atomic(files.markdown, md);
  return files;
}

}  // namespace apps
