// eval_miou: scores a folder of predicted label PNGs against ground-truth label PNGs (spec
// spml.md §8): per-class IoU table, mIoU, pixel accuracy, optional confusion matrix, JSON and CSV.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/image_io.h"
#include "data/list_file.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/progress.h"
#include "spml/metrics.h"

namespace {

namespace fs = std::filesystem;

struct Pair {
  std::string id;
  std::string gt;
  std::string pred;
};

std::vector<std::string> read_class_names(const fs::path& path) {
  std::ifstream f(path);
  ENGINE_CHECK(f.good(), "cannot read the class-name file '{}'", path.string());
  std::vector<std::string> names;
  std::string line;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    names.push_back(line);
  }
  ENGINE_CHECK(!names.empty(), "the class-name file '{}' has no names", path.string());
  return names;
}

std::string join_first(const std::vector<std::string>& items, size_t n) {
  std::string out;
  for (size_t i = 0; i < std::min(n, items.size()); ++i) out += "\n  " + items[i];
  if (items.size() > n) out += fmt::format("\n  ... and {} more", items.size() - n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root, split, gt_subdir, gt_dir, pred_dir, list_path, classes_path, json_path,
      csv_path, absent = "exclude";
  int num_classes = 0, ignore_index = 255;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  bool densepose = false, confusion = false, allow_missing = false, quiet = false;
  CLI::App app{
      "Scores predicted segmentations against ground truth: per-class IoU, mean IoU (mIoU),\n"
      "pixel accuracy and mean class accuracy, accumulated over the whole set (one confusion\n"
      "matrix, not a mean of per-image scores), as in the SPML paper.\n\n"
      "Both sides are label PNGs holding class ids: 8-bit grayscale or palette PNGs (the\n"
      "palette index is the id, so the coloured PNGs that `infer` writes work as they are).\n"
      "Ground-truth pixels equal to --ignore (255, VOC's 'void' border) are skipped.\n\n"
      "Two ways to name the files:\n"
      "  --root ROOT --split val --pred-dir P   ids from ROOT/ImageSets/Segmentation/val.txt,\n"
      "                                         GT ROOT/segcls/<id>.png, prediction P/<id>.png\n"
      "  --gt-dir G --pred-dir P                every G/*.png, prediction P/<same name>\n"
      "(--list FILE replaces the split's list in either form.)\n\n"
      "Class names come from --classes, else ROOT/classes.txt, else the 21 VOC classes\n"
      "(--densepose: the 15 DensePose parts, GT under ROOT/segcls/densepose/gray).\n"
      "A missing prediction or one whose size differs from its GT is an error naming both\n"
      "files; --allow-missing instead scores a missing one as entirely wrong.\n\n"
      "Example: eval_miou --root data/synthetic --split val --pred-dir runs/a/pred "
      "--json runs/a/miou.json",
      "eval_miou"};
  app.add_option("--root", root, "Dataset root in the VOC layout");
  app.add_option("--split", split, "List under ROOT/ImageSets/Segmentation (without .txt)");
  app.add_option("--gt-subdir", gt_subdir,
                 "GT folder under ROOT (default segcls; segcls/densepose/gray with --densepose)");
  app.add_option("--gt-dir", gt_dir, "A folder of GT PNGs (instead of --root/--split)");
  app.add_option("--pred-dir", pred_dir, "The folder of predicted label PNGs <id>.png")->required();
  app.add_option("--list", list_path, "A list file of ids (one per line) to score");
  app.add_option("--num-classes", num_classes,
                 "Number of classes C, background included (default: the number of class "
                 "names)")
      ->check(CLI::Range(1, 255));
  app.add_option("--classes", classes_path, "Class names, one per line, line i = id i");
  app.add_option("--ignore", ignore_index, "GT value that is skipped")
      ->capture_default_str()
      ->check(CLI::Range(0, 255));
  app.add_option("--absent", absent,
                 "Classes absent from both GT and prediction: 'exclude' (NaN, left out of the "
                 "mean, as the VOC devkit) or 'zero' (IoU 0, mean over all C, as the SPML "
                 "reference script)")
      ->capture_default_str()
      ->check(CLI::IsMember({"exclude", "zero"}));
  app.add_flag("--densepose", densepose,
               "DensePose parts: 15 classes (background + 14 coarse parts) with their names");
  app.add_flag("--confusion", confusion, "Also print the confusion matrix (% of each GT row)");
  app.add_flag("--allow-missing", allow_missing,
               "Score a missing prediction as all wrong (every valid GT pixel a miss) instead "
               "of failing");
  app.add_option("--json", json_path, "Write the scores and confusion matrix as JSON here");
  app.add_option("--csv", csv_path, "Write the per-class scores as CSV here");
  app.add_option("--threads", threads, "Images read in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_flag("--quiet", quiet, "No progress bar and no table (files are still written)");
  CLI11_PARSE(app, argc, argv);

  try {
    // --- class names and count ---
    std::vector<std::string> names;
    if (!classes_path.empty())
      names = read_class_names(classes_path);
    else if (densepose)
      names = spml::densepose_class_names();
    else if (!root.empty() && fs::exists(fs::path(root) / "classes.txt"))
      names = read_class_names(fs::path(root) / "classes.txt");
    else
      names = spml::voc_class_names();
    if (num_classes == 0) num_classes = int(names.size());
    if (int(names.size()) != num_classes) {
      ENGINE_CHECK(classes_path.empty(), "--classes '{}' names {} classes but --num-classes is {}",
                   classes_path, names.size(), num_classes);
      // A count that differs from the default names: numbered names, not wrong ones.
      names.clear();
    }
    ENGINE_CHECK(ignore_index >= num_classes,
                 "--ignore {} is one of the {} classes; the ignored value must be >= C",
                 ignore_index, num_classes);

    // --- the pairs of files ---
    std::vector<Pair> pairs;
    if (!gt_dir.empty()) {
      ENGINE_CHECK(root.empty() && split.empty(),
                   "give either --gt-dir or --root/--split, not both");
      ENGINE_CHECK(fs::is_directory(gt_dir), "--gt-dir '{}' is not a folder", gt_dir);
      std::vector<std::string> ids;
      if (!list_path.empty()) {
        for (const data::ListEntry& e : data::read_list_file(list_path)) ids.push_back(e.id);
      } else {
        for (const auto& e : fs::directory_iterator(gt_dir))
          if (e.is_regular_file() && e.path().extension() == ".png")
            ids.push_back(e.path().stem().string());
        std::sort(ids.begin(), ids.end());
        ENGINE_CHECK(!ids.empty(), "no .png files in --gt-dir '{}'", gt_dir);
      }
      for (const std::string& id : ids)
        pairs.push_back({id, (fs::path(gt_dir) / (id + ".png")).string(),
                         (fs::path(pred_dir) / (id + ".png")).string()});
    } else {
      ENGINE_CHECK(!root.empty() && (!split.empty() || !list_path.empty()),
                   "name the ground truth with --root and --split (or --list), or with --gt-dir "
                   "(see --help)");
      if (list_path.empty())
        list_path = (fs::path(root) / "ImageSets" / "Segmentation" / (split + ".txt")).string();
      if (gt_subdir.empty()) gt_subdir = densepose ? "segcls/densepose/gray" : "segcls";
      for (const data::ListEntry& e : data::read_list_file(list_path))
        pairs.push_back({e.id, (fs::path(root) / gt_subdir / (e.id + ".png")).string(),
                         (fs::path(pred_dir) / (e.id + ".png")).string()});
    }
    ENGINE_CHECK(fs::is_directory(pred_dir), "--pred-dir '{}' is not a folder", pred_dir);

    // Missing files are reported all at once, before any decoding.
    std::vector<std::string> missing_gt, missing_pred;
    std::vector<char> pred_missing(pairs.size(), 0);
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (!fs::is_regular_file(pairs[i].gt)) missing_gt.push_back(pairs[i].gt);
      if (!fs::is_regular_file(pairs[i].pred)) {
        missing_pred.push_back(pairs[i].pred);
        pred_missing[i] = 1;
      }
    }
    ENGINE_CHECK(missing_gt.empty(), "{} of {} ground-truth files are missing:{}",
                 missing_gt.size(), pairs.size(), join_first(missing_gt, 10));
    ENGINE_CHECK(missing_pred.empty() || allow_missing,
                 "{} of {} predictions are missing (--allow-missing scores them as all wrong):{}",
                 missing_pred.size(), pairs.size(), join_first(missing_pred, 10));

    // --- scoring: one matrix per worker, merged at the end ---
    std::unique_ptr<engine::ProgressBar> bar;
    if (!quiet) bar = std::make_unique<engine::ProgressBar>("eval", int64_t(pairs.size()), "img");
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mutex;
    const int workers = int(std::min<size_t>(size_t(threads), std::max<size_t>(1, pairs.size())));
    std::vector<spml::ConfusionMatrix> partial(size_t(workers),
                                               spml::ConfusionMatrix(num_classes, ignore_index));
    auto work = [&](int w) {
      spml::ConfusionMatrix& m = partial[size_t(w)];
      while (!failed) {
        size_t i = next.fetch_add(1);
        if (i >= pairs.size()) return;
        try {
          const Pair& p = pairs[i];
          engine::Tensor gt = data::read_label_png(p.gt).ids.contiguous();
          if (pred_missing[i]) {
            m.add_all_wrong(gt.data<uint8_t>(), gt.numel(), p.gt);
          } else {
            engine::Tensor pred = data::read_label_png(p.pred).ids.contiguous();
            ENGINE_CHECK(pred.shape() == gt.shape(),
                         "prediction '{}' is {}x{} (HxW) but its ground truth '{}' is {}x{}",
                         p.pred, pred.size(0), pred.size(1), p.gt, gt.size(0), gt.size(1));
            m.add(pred.data<uint8_t>(), gt.data<uint8_t>(), gt.numel(), p.gt);
          }
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!error) error = std::current_exception();
          failed = true;
          return;
        }
        if (bar) {
          std::lock_guard<std::mutex> lock(mutex);
          bar->advance();
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < workers; ++t) pool.emplace_back(work, t);
    work(0);
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    if (bar) bar->finish();
    spml::ConfusionMatrix total(num_classes, ignore_index);
    for (const spml::ConfusionMatrix& m : partial) total.merge(m);

    const spml::AbsentClassPolicy policy =
        absent == "zero" ? spml::AbsentClassPolicy::zero : spml::AbsentClassPolicy::exclude;
    if (!json_path.empty()) {
      // The per-set facts join the matrix's own object: images scored and predictions missing.
      std::string json = total.to_json(names, policy, true);
      const size_t brace = json.find('{');
      json.insert(brace + 1, fmt::format("\n  \"images\": {},\n  \"missing_predictions\": {},",
                                         pairs.size(), missing_pred.size()));
      engine::io::write_file_atomic(json_path, json);
    }
    if (!csv_path.empty()) engine::io::write_file_atomic(csv_path, total.to_csv(names, policy));
    if (!quiet) {
      std::printf("%s", total.table(names, policy).c_str());
      if (confusion) std::printf("\n%s", total.matrix_table(names, true).c_str());
      std::printf("%zu images", pairs.size());
      if (!missing_pred.empty())
        std::printf(", %zu predictions missing (scored as all wrong)", missing_pred.size());
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval_miou: %s\n", e.what());
    return 1;
  }
  return 0;
}
