// The pieces of apps/report: reading a run folder's metrics.jsonl and settings, eval_miou's JSON,
// and writing a Markdown report with loss plots (apps/common/plot.h) and prediction overlays.
// Every input error names the file (and line, for JSONL) and the key that is missing or wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace apps {

// A run's metrics.jsonl (apps/common/run_folder.h): one JSON object per line. "step" and "total"
// are required on every line ("loss" stands for "total" in a classifier run's file, which has no
// "total"); every other numeric key becomes a column, NaN where the line has
// null (a relation that is off) or lacks the key. Non-numeric values are skipped.
struct MetricsLog {
  std::string path;
  std::vector<double> step;
  std::vector<std::string> keys;  // numeric keys other than "step", in first-seen order
  std::map<std::string, std::vector<double>> values;  // key -> one value per line
  // The column of `key`; all NaN when the file never had it.
  std::vector<double> column(const std::string& key) const;
  bool has_values(const std::string& key) const;  // any finite value
};
MetricsLog read_metrics_jsonl(const std::string& path);

// The loss columns a training run logs, in display order (those present are plotted).
const std::vector<std::string>& loss_keys();

// A run folder: its metrics and the key settings from RUN/config.json (else RUN/network.json;
// neither is fine: the settings list is then empty).
struct RunInfo {
  std::string name;
  std::string dir;
  std::string settings_file;                                  // "" when there is none
  std::vector<std::pair<std::string, std::string>> settings;  // key, compact JSON value
  MetricsLog metrics;
};
RunInfo read_run(const std::string& name, const std::string& dir);

// eval_miou --json output (spml::ConfusionMatrix::to_json plus "images").
struct ClassScore {
  int id = 0;
  std::string name;
  double iou = 0;  // in [0, 1]; NaN when the class was absent (null in the file)
  int64_t gt_pixels = 0;
};
struct EvalScores {
  std::string label;
  std::string path;
  double miou = 0, pixel_accuracy = 0, mean_class_accuracy = 0;  // in [0, 1] (NaN: null)
  int64_t images = -1;                                           // -1: not in the file
  std::vector<ClassScore> classes;
};
// Required keys: miou, pixel_accuracy, classes[] with id, name, iou.
EvalScores read_eval_json(const std::string& path, const std::string& label);

// Prediction overlays: the first `count` ids of ROOT/ImageSets/Segmentation/SPLIT.txt, each a row
// image | ground truth | prediction (label colours blended over the image).
struct OverlaySpec {
  std::string pred_dir;  // <id>.png label maps
  std::string root;
  std::string split;
  int count = 0;  // 0 = no overlays
  std::string image_dir = "JPEGImages";
  std::string gt_dir = "segcls";
};
// The grid as u8 [H, W, 3] (small images are enlarged by an integer factor); `ids` receives
// the ids shown. Errors name the missing file or the pair of files whose sizes differ.
engine::Tensor overlay_grid(const OverlaySpec& spec, std::vector<std::string>* ids = nullptr);

struct ReportRequest {
  std::vector<std::pair<std::string, std::string>> runs;   // name, run folder
  std::vector<std::pair<std::string, std::string>> evals;  // label, eval JSON
  OverlaySpec overlays;
  std::string out_dir;
  std::string title = "SPML report";
  int smooth_window = 0;  // moving-average points; 0 = about 1/25 of the run
  bool log_y = false;     // loss plots on a log axis
};
struct ReportFiles {
  std::string markdown;             // OUT/report.md
  std::vector<std::string> images;  // loss.png, loss-<run>.png, overlays.png as written
};
// Writes OUT/report.md and its images (OUT is created). Needs at least one run or one eval.
ReportFiles write_report(const ReportRequest& request);

// "NAME=VALUE" -> {NAME, VALUE} when NAME is non-empty and holds no '/'; otherwise
// {default_name(VALUE), VALUE} with the folder's or file's stem as the name.
std::pair<std::string, std::string> split_named(const std::string& text, bool is_file);

}  // namespace apps
