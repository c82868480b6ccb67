// pseudo_label: turns a stage-1 run's network and the weak labels of a training list into dense
// pseudo-labels for classifier training (spec ../shared/spec/spml.md §6; docs/pseudo-labels.md).
//
//   pseudo_label --run runs/s1 --out runs/s1/pseudo                       (random walk + CRF)
//   pseudo_label --run runs/s1 --out runs/s1/pseudo --cam-dir cams        (tags with CAMs)
//   pseudo_label --run runs/dp --out runs/dp/pseudo                       (DensePose points)
//   pseudo_label --run runs/s1 --method knn --memory-labels runs/s1/pseudo --out runs/s1/knn
#include <omp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/common/device_choice.h"
#include "apps/common/pseudo_labels.h"
#include "apps/common/signals.h"
#include "apps/common/stage1_model.h"
#include "data/densepose.h"
#include "data/image_io.h"
#include "data/voc.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/progress.h"
#include "spml/metrics.h"

namespace {

namespace fs = std::filesystem;

std::string join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

// Reads one sample; a failure names the list entry as well as the file the dataset complains
// about.
data::Sample get_sample(const data::Dataset& ds, int64_t i) {
  try {
    return ds.get(i);
  } catch (const std::exception& e) {
    ENGINE_THROW("image {} of the list ({}): {}", i + 1, ds.describe(), e.what());
  }
}

// The training list of the DensePose layout (spec §10.3, data/densepose.h) with its point labels.
std::shared_ptr<const data::Dataset> densepose_dataset(const std::string& root,
                                                       const std::string& split) {
  ENGINE_CHECK(fs::is_directory(root), "DensePose data root '{}' is not a folder", root);
  const std::string list = (fs::path(root) / "lists" / (split + ".txt")).string();
  ENGINE_CHECK(fs::is_regular_file(list),
               "DensePose list '{}' not found (expected ROOT/lists/<split>.txt as written by "
               "convert_densepose)",
               list);
  return std::make_shared<const data::DensePoseDataset>(root, list, /*use_points=*/true);
}

// Pixels the pseudo-label leaves unlabeled (255) drop out of the target, so that the score
// measures the labels written rather than how many were written.
engine::Tensor ignore_where_unlabeled(const engine::Tensor& target, const engine::Tensor& label) {
  engine::Tensor t = target.contiguous().clone();
  const engine::Tensor l = label.contiguous();
  uint8_t* tp = t.data<uint8_t>();
  const uint8_t* lp = l.data<uint8_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (lp[i] == 255) tp[i] = 255;
  return t;
}

engine::Tensor to_i32(const engine::Tensor& u8) {
  return u8.to(engine::DType::i32);
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "cpu";
  std::string run, root, split, supervision, label_dir, out_dir, method, cam_dir, memory_labels,
      memory_file;
  int64_t window = -1, threads = 0, step = -1;
  bool no_crf = false, gt_check = false, skip_existing = false, quiet = false,
       restore_unlabeled = false;
  CLI::App app{
      "Writes pseudo-labels for classifier training from a finished stage-1 run (train_voc or\n"
      "train_densepose):\n"
      "  OUT/<id>.png    8-bit grayscale class ids 0..C-1 at the image's size, one per image of\n"
      "                  the split (what train_classifier --labels reads); 255 = unlabeled\n"
      "  OUT/list.txt    the ids written, one per line\n\n"
      "Methods (spec spml.md §6):\n"
      "  rw   the embedding-affinity random walk (§6.1), then DenseCRF (§6.4). Seeds: the\n"
      "       run's joint softmax head, each class max-normalized and zeroed where the weak\n"
      "       label does not mention it (scribble, point, box; for tags the image's tags plus\n"
      "       background). With --cam-dir D (image tags), seeds come from D/<id>.npy instead:\n"
      "       float32 [C-1, H, W], one CAM per foreground class (map c = class c+1), values\n"
      "       in [0, 1]; background = (1 - max CAM)^6.\n"
      "  knn  kNN pseudo-labels for tags (§6.2): a memory of segment prototypes is built from\n"
      "       the pseudo-labels in --memory-labels DIR (e.g. the output of an rw pass), every\n"
      "       image is labelled by top-20 votes of its segments, then DenseCRF. --memory FILE\n"
      "       saves the memory (or, without --memory-labels, loads it).\n"
      "  densepose-rw  DensePose points (§6.1 \"DensePose point\"; the default for a\n"
      "       train_densepose run): 24x24 k-means on the stride-2 embedding, clusters split by\n"
      "       the point labels, each unlabeled segment takes the label of its most similar\n"
      "       labeled segment, then the random walk and DenseCRF; every pixel is labelled\n"
      "       (--restore-unlabeled: set the pixels that are 255 in the point labels back to\n"
      "       255, as the reference does). Reads ROOT/lists/<split>.txt of the DensePose\n"
      "       layout.\n\n"
      "Example (a quick check on the synthetic data, which has full ground truth):\n"
      "  pseudo_label --run runs/s1 --out runs/s1/pseudo --gt-check",
      "pseudo_label"};
  app.add_option("--run", run, "Stage-1 run folder (config.json + model-<step>.safetensors)")
      ->required();
  app.add_option("--out", out_dir, "Output folder (created if missing)")->required();
  app.add_option("--data-root", root, "Dataset root (VOC or DensePose layout; default: the run's)");
  app.add_option("--split", split,
                 "List ROOT/ImageSets/Segmentation/<split>.txt (VOC; default train) or "
                 "ROOT/lists/<split>.txt (DensePose; default: the run's split)");
  app.add_option("--supervision", supervision,
                 "VOC: weak labels that mask the seeds: full, scribble, point, box, tag (default: "
                 "the run's)")
      ->check(CLI::IsMember({"full", "scribble", "point", "box", "tag"}));
  app.add_option("--label-dir", label_dir,
                 "VOC: weak label folder under ROOT (default: the run's when --supervision is the "
                 "run's, else the type's default)");
  app.add_option("--method", method,
                 "rw (random walk), knn, or densepose-rw (default: densepose-rw for a DensePose "
                 "run, else rw)")
      ->check(CLI::IsMember({"rw", "knn", "densepose-rw"}));
  app.add_flag("--no-crf", no_crf, "Skip the DenseCRF: argmax of the walk / kNN scores");
  app.add_flag("--restore-unlabeled", restore_unlabeled,
               "densepose-rw: set the pixels that are 255 in the point labels back to 255 (the "
               "reference's step 6) instead of keeping the propagated labels there");
  app.add_option("--cam-dir", cam_dir, "rw: CAM seeds D/<id>.npy, float32 [C-1, H, W]");
  app.add_option("--memory-labels", memory_labels,
                 "knn: pseudo-label folder (<id>.png) the memory is built from");
  app.add_option("--memory", memory_file,
                 "knn: memory file (.safetensors): written after building it from "
                 "--memory-labels, or read when --memory-labels is not given");
  app.add_option("--window", window,
                 "Sliding-window size of the network views (-1: the run's training crop; 0: the "
                 "whole image in one pass)")
      ->capture_default_str();
  app.add_option("--step", step, "Checkpoint step of the run (default: the newest)");
  app.add_option("--threads", threads, "OpenMP threads (0: the runtime's default)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--skip-existing", skip_existing,
               "Keep OUT/<id>.png files already there (continue an interrupted pass)");
  app.add_flag("--gt-check", gt_check,
               "Print the pseudo-labels' mIoU against the dense ground truth (VOC: ROOT/segcls; "
               "DensePose: segcls/densepose/gray), for the images that have one");
  app.add_option("--device", device,
                 "Where the network, the random walk, the CRF and k-means run: cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "No progress bar");
  CLI11_PARSE(app, argc, argv);

  try {
    if (threads > 0) omp_set_num_threads(int(threads));
    apps::install_stop_handler();
    const engine::Device dev = apps::choose_device(device, "pseudo_label");
    apps::Stage1 net = apps::load_stage1(run, step);
    apps::move_to(net, dev);
    const bool densepose = net.config.dataset == "densepose";
    if (method.empty()) method = densepose ? "densepose-rw" : "rw";
    ENGINE_CHECK(densepose == (method == "densepose-rw"),
                 "--method {} does not fit the run '{}' (dataset {}): use {} ", method, run,
                 net.config.dataset, densepose ? "densepose-rw" : "rw or knn");
    ENGINE_CHECK(method == "rw" || cam_dir.empty(), "--cam-dir belongs to --method rw");
    ENGINE_CHECK(method == "knn" || (memory_labels.empty() && memory_file.empty()),
                 "--memory-labels and --memory belong to --method knn");
    ENGINE_CHECK(method == "densepose-rw" || !restore_unlabeled,
                 "--restore-unlabeled belongs to --method densepose-rw");
    ENGINE_CHECK(!densepose || (supervision.empty() && label_dir.empty()),
                 "--supervision and --label-dir apply to the VOC layout; a DensePose run reads "
                 "the point labels its list names");
    ENGINE_CHECK(method != "knn" || !memory_labels.empty() || !memory_file.empty(),
                 "--method knn needs --memory-labels DIR (pseudo-labels to build the memory from) "
                 "or --memory FILE (a memory saved before)");
    ENGINE_CHECK(cam_dir.empty() || fs::is_directory(cam_dir), "--cam-dir '{}' is not a folder",
                 cam_dir);
    ENGINE_CHECK(memory_labels.empty() || fs::is_directory(memory_labels),
                 "--memory-labels '{}' is not a folder", memory_labels);
    ENGINE_CHECK(!memory_labels.empty() || memory_file.empty() || fs::is_regular_file(memory_file),
                 "--memory '{}' does not exist (give --memory-labels to build it)", memory_file);

    const int num_classes = net.num_classes;
    if (root.empty()) root = net.config.data_root;
    ENGINE_CHECK(!root.empty(), "no dataset root: give --data-root (the run '{}' has none)", run);
    std::shared_ptr<const data::Dataset> dataset;
    std::vector<std::string> class_names;
    bool tags_only = false;
    if (densepose) {
      dataset = densepose_dataset(root, split.empty() ? net.config.split : split);
      class_names = spml::densepose_class_names();
    } else {
      data::VocConfig vc;
      vc.root = root;
      vc.split = split.empty() ? "train" : split;
      const std::string sup = supervision.empty() ? net.config.supervision : supervision;
      vc.supervision = data::parse_supervision(sup);
      vc.label_dir = !label_dir.empty()              ? label_dir
                     : sup == net.config.supervision ? net.config.label_dir
                                                     : std::string();
      vc.region_dir.clear();  // region maps play no part here
      auto voc = std::make_shared<const data::VocDataset>(vc);
      class_names = voc->class_names();
      tags_only = vc.supervision == data::Supervision::tag;
      dataset = voc;
    }
    const data::Dataset& ds = *dataset;
    ENGINE_CHECK(ds.num_classes() == num_classes,
                 "the dataset '{}' has {} classes but the run's classifier has {}", root,
                 ds.num_classes(), num_classes);

    apps::PseudoLabelOptions opt;
    opt.device = dev;
    opt.crf = !no_crf;
    opt.window = window < 0 ? net.config.crop : window;
    opt.restore_unlabeled = restore_unlabeled;

    std::error_code ec;
    fs::create_directories(out_dir, ec);
    ENGINE_CHECK(!ec, "cannot create the output folder '{}': {}", out_dir, ec.message());
    engine::autograd::NoGradGuard no_grad;
    const auto t0 = std::chrono::steady_clock::now();

    // --- kNN memory ---
    spml::PrototypeMemory memory;
    if (method == "knn") {
      if (!memory_labels.empty()) {
        std::vector<spml::PrototypeMemory> parts;
        auto bar =
            quiet ? nullptr : std::make_unique<engine::ProgressBar>("memory", ds.size(), "img");
        for (int64_t i = 0; i < ds.size(); ++i) {
          ENGINE_CHECK(!apps::stop_requested(), "interrupted while building the memory");
          data::Sample s = get_sample(ds, i);
          const std::string f = join(memory_labels, s.id + ".png");
          ENGINE_CHECK(fs::is_regular_file(f), "--memory-labels: '{}' is missing (image '{}')", f,
                       s.id);
          engine::Tensor lab = data::read_label_png(f).ids;
          ENGINE_CHECK(lab.size(0) == s.image.size(0) && lab.size(1) == s.image.size(1),
                       "pseudo-label '{}' is {}x{} but the image is {}x{}", f, lab.size(0),
                       lab.size(1), s.image.size(0), s.image.size(1));
          parts.push_back(apps::image_knn_memory(net, s.image, lab, opt));
          if (bar) bar->advance();
        }
        if (bar) bar->finish();
        memory = spml::concat_prototype_memory(parts);
        if (!memory_file.empty()) apps::save_knn_memory(memory_file, memory, ds.size());
      } else {
        memory = apps::load_knn_memory(memory_file);
      }
      ENGINE_CHECK(memory.prototypes.size(1) == net.config.embedding_dim,
                   "the kNN memory has {}-d prototypes but the run's embedding is {}-d",
                   memory.prototypes.size(1), net.config.embedding_dim);
      if (!quiet)
        std::fprintf(stderr, "kNN memory: %lld prototypes\n",
                     static_cast<long long>(memory.prototypes.size(0)));
    }

    // --- pseudo-labels ---
    spml::ConfusionMatrix cm(num_classes), cm_labeled(num_classes);
    int64_t gt_images = 0, written = 0, labeled_pixels = 0, pixels = 0;
    std::string list;
    auto bar =
        quiet ? nullptr : std::make_unique<engine::ProgressBar>("pseudo_label", ds.size(), "img");
    const auto t1 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < ds.size(); ++i) {
      ENGINE_CHECK(!apps::stop_requested(),
                   "interrupted after {} images; rerun with --skip-existing to continue", i);
      data::Sample s = get_sample(ds, i);
      const std::string out = join(out_dir, s.id + ".png");
      engine::Tensor label;
      if (skip_existing && fs::is_regular_file(out)) {
        label = data::read_label_png(out).ids;
      } else {
        const std::vector<bool> present =
            apps::present_classes(s.label, tags_only ? s.tags : 0, num_classes, tags_only);
        if (method == "densepose-rw") {
          label = apps::densepose_pseudo_label(net, s.image, s.label, opt);
        } else if (method == "rw") {
          engine::Tensor cams;
          if (!cam_dir.empty())
            cams = apps::read_cam_npy(join(cam_dir, s.id + ".npy"), num_classes, s.image.size(0),
                                      s.image.size(1));
          label = apps::random_walk_pseudo_label(net, s.image, present, cams, opt);
        } else {
          label = apps::knn_pseudo_label(net, s.image, present, memory, opt);
        }
        data::write_region_png(out, to_i32(label));
        ++written;
      }
      if (gt_check && s.full_label.defined()) {
        cm.add(label, s.full_label);
        cm_labeled.add(label, ignore_where_unlabeled(s.full_label, label));
        ++gt_images;
        const engine::Tensor l = label.contiguous();
        pixels += l.numel();
        for (int64_t k = 0; k < l.numel(); ++k) labeled_pixels += l.data<uint8_t>()[k] != 255;
      }
      list += s.id + "\n";
      if (bar) bar->advance();
    }
    if (bar) bar->finish();
    engine::io::write_file_atomic(join(out_dir, "list.txt"), list);
    const auto t2 = std::chrono::steady_clock::now();
    const double total = std::chrono::duration<double>(t2 - t0).count();
    const double labelling = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr,
                 "pseudo_label: %lld written, %lld kept, %.1f s (%.3f s per written image)\n",
                 static_cast<long long>(written), static_cast<long long>(ds.size() - written),
                 total, written > 0 ? labelling / double(written) : 0.0);
    if (gt_check) {
      if (gt_images == 0) {
        std::fprintf(stderr, "--gt-check: no image of the split has dense ground truth\n");
      } else {
        const spml::SegmentationScores sc = cm.scores();
        std::printf("gt-check: %lld images, mIoU %.2f%%, pixel accuracy %.2f%%\n",
                    static_cast<long long>(gt_images), 100.0 * sc.mean_iou,
                    100.0 * sc.pixel_accuracy);
        if (labeled_pixels < pixels) {
          const spml::SegmentationScores sl = cm_labeled.scores();
          std::printf(
              "gt-check: %.1f%% of the pixels labeled; on those: mIoU %.2f%%, pixel accuracy "
              "%.2f%%\n",
              100.0 * double(labeled_pixels) / double(pixels), 100.0 * sl.mean_iou,
              100.0 * sl.pixel_accuracy);
        }
        std::printf("%s", cm.table(class_names).c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pseudo_label: %s\n", e.what());
    return 1;
  }
  return 0;
}
