// predict: the final inference of the SPML pipeline (spec spml.md §7, README decisions 4 and 8):
// a trained run (stage 1 or a stage-2 classifier run) -> palette label maps readable by
// eval_miou, optional overlays and probability maps. The modes live in apps/common/predict_modes.
#include <fmt/format.h>
#include <omp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/device_choice.h"
#include "apps/common/overlay.h"
#include "apps/common/predict_modes.h"
#include "apps/common/stage1_model.h"
#include "data/image_io.h"
#include "data/list_file.h"
#include "data/npy.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/progress.h"

namespace {

namespace fs = std::filesystem;

struct Input {
  std::string id;
  std::string path;
};

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// A list given as a file path, or as a split name under ROOT/ImageSets/Segmentation.
std::string list_path(const std::string& root, const std::string& list_or_split) {
  if (fs::is_regular_file(list_or_split) || root.empty()) return list_or_split;
  return (fs::path(root) / "ImageSets" / "Segmentation" / (list_or_split + ".txt")).string();
}

// A folder given absolute or existing as is, else relative to the dataset root.
std::string dir_under(const std::string& root, const std::string& dir) {
  if (fs::path(dir).is_absolute() || fs::is_directory(dir) || root.empty()) return dir;
  return (fs::path(root) / dir).string();
}

// The images of a DensePose list (spec §10.3, ROOT/lists/<split>.txt, or a list file given as a
// path): the first path of each "image dense_label point_label" line, relative to ROOT unless
// absolute; the id is its stem.
std::vector<Input> densepose_inputs(const std::string& root, const std::string& list_or_split) {
  const std::string list = fs::is_regular_file(list_or_split)
                               ? list_or_split
                               : (fs::path(root) / "lists" / (list_or_split + ".txt")).string();
  std::ifstream in(list);
  ENGINE_CHECK(in.good(),
               "DensePose list '{}' cannot be opened (expected ROOT/lists/<split>.txt as written "
               "by convert_densepose)",
               list);
  std::vector<Input> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string image;
    if (!(fields >> image) || image[0] == '#') continue;
    const fs::path p = fs::path(image).is_absolute() ? fs::path(image) : fs::path(root) / image;
    out.push_back({p.stem().string(), p.string()});
  }
  ENGINE_CHECK(!out.empty(), "DensePose list '{}' has no entries", list);
  return out;
}

bool same_folder(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::exists(a) && fs::exists(b) && fs::equivalent(a, b, ec);
}

// Where a knn memory is built from (flags --memory-root/--memory-list/--memory-labels/
// --memory-from-gt), in either dataset layout.
struct MemorySource {
  std::string root, list, labels, image_dir;
  bool from_gt = false, densepose = false;
};

struct MemoryItem {
  std::string id, image, label;
};

struct MemoryImages {
  std::string list, label_dir;
  std::vector<MemoryItem> items;
};

// The ground truth of the layout: VOC ROOT/segcls, DensePose ROOT/segcls/densepose/gray
// (spec §10.1, §10.3).
std::string ground_truth_dir(const MemorySource& src) {
  const fs::path r(src.root);
  return (src.densepose ? r / "segcls" / "densepose" / "gray" : r / "segcls").string();
}

// Resolves the memory's images and label files, refusing ground truth unless asked for, and
// checks that every file exists before any network pass.
MemoryImages memory_images(const MemorySource& src) {
  ENGINE_CHECK(!src.list.empty(), "building a knn memory needs --memory-list");
  ENGINE_CHECK(!src.root.empty(),
               "building a knn memory needs the images' dataset root: --memory-root or --root");
  const std::string gt_dir = ground_truth_dir(src);
  MemoryImages out;
  if (src.from_gt) {
    ENGINE_CHECK(src.labels.empty(), "--memory-from-gt and --memory-labels exclude each other");
    out.label_dir = gt_dir;
    std::fprintf(stderr,
                 "predict: warning: --memory-from-gt labels the retrieval memory with the "
                 "ground truth of '%s'; full supervision leaks into this result (spec §7, "
                 "README decision 8): use it for diagnostics, not as a weakly supervised "
                 "figure\n",
                 gt_dir.c_str());
  } else {
    ENGINE_CHECK(!src.labels.empty(),
                 "building a knn memory needs --memory-labels DIR (pseudo-labels or weak labels)");
    out.label_dir = dir_under(src.root, src.labels);
    ENGINE_CHECK(fs::is_directory(out.label_dir), "--memory-labels '{}' is not a folder",
                 out.label_dir);
    ENGINE_CHECK(!same_folder(out.label_dir, gt_dir),
                 "--memory-labels '{}' is the ground truth folder; pass --memory-from-gt to "
                 "build the memory from ground truth on purpose",
                 out.label_dir);
  }
  const auto label_of = [&](const std::string& id) {
    return (fs::path(out.label_dir) / (id + ".png")).string();
  };
  if (src.densepose) {
    out.list = fs::is_regular_file(src.list)
                   ? src.list
                   : (fs::path(src.root) / "lists" / (src.list + ".txt")).string();
    for (const Input& in : densepose_inputs(src.root, src.list))
      out.items.push_back({in.id, in.path, label_of(in.id)});
  } else {
    out.list = list_path(src.root, src.list);
    for (const data::ListEntry& e : data::read_list_file(out.list))
      out.items.push_back(
          {e.id, (fs::path(src.root) / src.image_dir / (e.id + ".jpg")).string(), label_of(e.id)});
  }
  std::vector<std::string> missing;
  for (const MemoryItem& m : out.items) {
    if (!fs::is_regular_file(m.image)) missing.push_back("image " + m.image);
    if (!fs::is_regular_file(m.label)) missing.push_back("memory label " + m.label);
  }
  if (!missing.empty()) {
    std::string shown;
    for (size_t i = 0; i < missing.size() && i < 10; ++i) shown += "\n  " + missing[i];
    ENGINE_CHECK(false, "knn memory list '{}': {} files are missing:{}{}", out.list, missing.size(),
                 shown, missing.size() > 10 ? "\n  ..." : "");
  }
  return out;
}

// One set of prototypes per memory image (its k-means clusters labelled by the label map),
// concatenated.
spml::PrototypeMemory build_memory(apps::Stage1& net, const MemoryImages& images,
                                   const apps::PredictOptions& opt, bool labelled_only,
                                   bool quiet) {
  std::vector<spml::PrototypeMemory> parts;
  std::unique_ptr<engine::ProgressBar> bar;
  if (!quiet)
    bar = std::make_unique<engine::ProgressBar>("memory", int64_t(images.items.size()), "img");
  for (const MemoryItem& m : images.items) {
    engine::Tensor rgb = data::read_image(m.image);
    engine::Tensor lab = data::read_label_png(m.label).ids;
    ENGINE_CHECK(lab.size(0) == rgb.size(0) && lab.size(1) == rgb.size(1),
                 "memory label '{}' is {}x{} but its image '{}' is {}x{}", m.label, lab.size(0),
                 lab.size(1), m.image, rgb.size(0), rgb.size(1));
    parts.push_back(apps::memory_from_image(net, rgb, lab, opt, labelled_only));
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  return spml::concat_prototype_memory(parts);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", int(c));
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  std::string run, root, split, image_dir = "JPEGImages", images_dir, out_dir,
                                mode_name = "softmax", memory_file, memory_list, memory_labels,
                                memory_root;
  std::string device = "cpu";
  std::vector<std::string> files;
  std::vector<double> scales{0.5, 0.75, 1.0, 1.25, 1.5};
  int64_t size = -1, window = -1, step = -1;
  int grid = 0, knn_k = 20, threads = 0, crf_iterations = 10;
  float alpha = 0.5f;
  bool no_flip = false, overlays = false, save_probs = false, memory_from_gt = false,
       labelled_only = false, quiet = false, white_ignore = false;
  CLI::App app{
      "Predicts a class for every pixel with a trained SPML network and writes\n"
      "  OUT/<id>.png             class ids as a VOC-palette PNG at the image's size (255 = no\n"
      "                           label, only in knn mode); eval_miou reads these\n"
      "  OUT/overlays/<id>.png    --overlays: the image blended with the class colours\n"
      "  OUT/<id>.probs.npy       --save-probs: class probabilities float32 [H, W, C]\n"
      "  OUT/predict.json         mode, run, device, image count and seconds per image\n\n"
      "Where this sits in the pipeline (each app has its own --help):\n"
      "  train_voc --run-dir S1                                   stage 1: the embedding\n"
      "  pseudo_label --run S1 --out S1/pseudo                    random walk + CRF labels\n"
      "  train_classifier --run S1 --labels S1/pseudo --run-dir S2  stage 2: the classifier\n"
      "  predict --run S2 --root DATA --split val --out S2/pred   this app\n"
      "  eval_miou --root DATA --split val --pred-dir S2/pred     mIoU\n"
      "--run takes either run folder (a stage-1 run uses its joint classifier).\n\n"
      "Modes (spec §7):\n"
      "  softmax      longer side resized to --size, sliding --window windows, classifier,\n"
      "               logits upsampled bilinearly to the image's size, argmax (scribbles,\n"
      "               points, DensePose)\n"
      "  softmax-crf  the same plus a dense CRF at the image's size (boxes)\n"
      "  msc          --scales at the image's size, each with and without flip, softmax\n"
      "               probabilities averaged (10 network passes: slow)\n"
      "  msc-crf      msc plus the CRF (tags)\n"
      "  knn          segment retrieval: 12x12 k-means on the image's embedding, each\n"
      "               cluster takes the majority class of its 20 nearest memory prototypes\n"
      "  knn-msc      knn on each --scales view (and flip): each view's cluster classes as\n"
      "               one-hot maps at the image's size, averaged, argmax\n"
      "  knn-msc-crf  knn-msc plus the CRF on the averaged votes\n"
      "The knn memory is either a file written earlier (--memory, e.g. OUT/memory.safetensors\n"
      "from a previous run) or built here from training images and their pseudo-labels or weak\n"
      "labels (--memory-list, --memory-labels). Building it from ground truth leaks full\n"
      "supervision and needs --memory-from-gt explicitly.\n\n"
      "Images: files on the command line, --images DIR (every .jpg/.jpeg/.png), or --root ROOT\n"
      "--split S (ROOT/JPEGImages/<id>.jpg for the ids of ROOT/ImageSets/Segmentation/S.txt;\n"
      "for a DensePose run (train_densepose and its classifier), the images named by\n"
      "ROOT/lists/S.txt). Score DensePose output with\n"
      "  eval_miou --densepose --root ROOT --list ROOT/lists/S.txt --pred-dir OUT\n\n"
      "Example: predict --run runs/s2 --root data/synthetic --split val --out runs/s2/pred\n"
      "         --mode softmax-crf --overlays",
      "predict"};
  app.add_option("--run", run,
                 "Run folder: a stage-1 run (train_voc) or a classifier run (train_classifier)")
      ->required();
  app.add_option("--step", step, "Checkpoint step to load (default: the newest)");
  app.add_option("files", files, "Image files");
  app.add_option("--images", images_dir, "A folder of images");
  app.add_option("--root", root, "Dataset root (VOC layout, or DensePose for a DensePose run)");
  app.add_option("--split", split,
                 "List under ROOT/ImageSets/Segmentation (VOC) or ROOT/lists (DensePose), without "
                 ".txt");
  app.add_option("--image-dir", image_dir, "Image folder under ROOT")->capture_default_str();
  app.add_option("--out", out_dir, "Output folder (created if missing)")->required();
  app.add_option("--mode", mode_name,
                 "softmax, softmax-crf, msc, msc-crf, knn, knn-msc or knn-msc-crf")
      ->capture_default_str()
      ->check(CLI::IsMember(
          {"softmax", "softmax-crf", "msc", "msc-crf", "knn", "knn-msc", "knn-msc-crf"}));
  app.add_option("--scales", scales, "msc modes: scales of the original size")
      ->capture_default_str();
  app.add_flag("--no-flip", no_flip, "msc modes: no flipped views");
  app.add_option("--size", size,
                 "softmax, softmax-crf, knn: resize so the longer side is this many pixels (0: "
                 "as is; default 512 for VOC, 640 for a DensePose run)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--window", window,
                 "Sliding-window size in pixels (default: the run's training crop; 0: the whole "
                 "image in one pass)");
  app.add_option("--crf-iterations", crf_iterations, "Mean-field iterations of the CRF")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_flag("--overlays", overlays, "Write OUT/overlays/<id>.png");
  app.add_option("--overlay-alpha", alpha, "Weight of the class colour in overlays")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--overlay-white-ignore", white_ignore,
               "Draw label 255 (no label) as white in overlays instead of leaving the image");
  app.add_flag("--save-probs", save_probs, "Write OUT/<id>.probs.npy");
  app.add_option("--memory", memory_file, "knn: a prototype memory file (.safetensors)");
  app.add_option("--memory-list", memory_list,
                 "knn: training images for the memory: a list file, or a split name under "
                 "MEMORY_ROOT/ImageSets/Segmentation (VOC) or MEMORY_ROOT/lists (DensePose)");
  app.add_option("--memory-labels", memory_labels,
                 "knn: folder of <id>.png pseudo-labels or weak labels for the memory images "
                 "(absolute, or under MEMORY_ROOT)");
  app.add_option("--memory-root", memory_root,
                 "knn: dataset root of the memory images (default "
                 "--root)");
  app.add_flag("--memory-labelled-only", labelled_only,
               "knn: only labelled pixels vote for a memory cluster's label (use with sparse "
               "weak labels such as scribbles; by default unlabeled pixels vote as a class of "
               "their own, as the reference does with dense pseudo-labels)");
  app.add_flag("--memory-from-gt", memory_from_gt,
               "knn: label the memory with the ground truth MEMORY_ROOT/segcls (DensePose: "
               "MEMORY_ROOT/segcls/densepose/gray; leaks full supervision into a weakly "
               "supervised result: diagnostics only)");
  app.add_option("--kmeans-grid", grid,
                 "knn: K for the KxK k-means grid (default 12 for VOC, 24 for a DensePose run)")
      ->check(CLI::Range(1, 256));
  app.add_option("--knn-k", knn_k, "knn: prototypes retrieved per cluster")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", threads, "OpenMP threads (0: the runtime's default)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--device", device,
                 "Where the network, the CRF and k-means run: cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "No progress bar and no summary");
  CLI11_PARSE(app, argc, argv);

  try {
    if (threads > 0) omp_set_num_threads(threads);
    const engine::Device dev = apps::choose_device(device, "predict");
    apps::Stage1 net = apps::load_stage1(run, step);
    apps::move_to(net, dev);
    // Spec §7: longer side 640 and 24x24 clusters for DensePose, 512 and 12x12 for VOC.
    const bool densepose = net.config.dataset == "densepose";
    if (size < 0) size = densepose ? 640 : 512;
    if (grid == 0) grid = densepose ? 24 : 12;
    apps::PredictOptions opt;
    opt.device = dev;
    opt.mode = apps::parse_predict_mode(mode_name);
    opt.size = size;
    opt.window = window;
    opt.views = apps::make_views(scales, !no_flip);
    opt.crf.iterations = crf_iterations;
    opt.kmeans.grid = grid;
    opt.knn.k = knn_k;
    const bool knn = apps::uses_memory(opt.mode);
    const bool building_memory = !memory_list.empty() || !memory_labels.empty() || memory_from_gt;
    if (knn) {
      ENGINE_CHECK(memory_file.empty() != !building_memory,
                   "--mode {} needs a memory: either --memory FILE or --memory-list LIST with "
                   "--memory-labels DIR (or --memory-from-gt), not both",
                   mode_name);
    } else {
      ENGINE_CHECK(memory_file.empty() && !building_memory,
                   "--memory* flags are for the knn modes (the mode is {})", mode_name);
    }

    // --- inputs ---
    std::vector<Input> inputs;
    for (const std::string& f : files) inputs.push_back({fs::path(f).stem().string(), f});
    if (!images_dir.empty()) {
      ENGINE_CHECK(fs::is_directory(images_dir), "--images '{}' is not a folder", images_dir);
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(images_dir))
        if (e.is_regular_file() && is_image(e.path())) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      ENGINE_CHECK(!found.empty(), "no .jpg/.jpeg/.png images in '{}'", images_dir);
      for (const fs::path& p : found) inputs.push_back({p.stem().string(), p.string()});
    }
    if (!split.empty() && densepose) {
      ENGINE_CHECK(!root.empty(), "--split needs --root");
      for (Input& in : densepose_inputs(root, split)) inputs.push_back(std::move(in));
    } else if (!split.empty()) {
      ENGINE_CHECK(!root.empty(), "--split needs --root");
      const std::string list = list_path(root, split);
      for (const data::ListEntry& e : data::read_list_file(list))
        inputs.push_back({e.id, (fs::path(root) / image_dir / (e.id + ".jpg")).string()});
    }
    ENGINE_CHECK(!inputs.empty(), "no images: give files, --images or --root/--split (see --help)");
    for (const Input& in : inputs)
      ENGINE_CHECK(fs::is_regular_file(in.path), "image '{}' does not exist", in.path);

    if (!quiet)
      std::fprintf(stderr, "predict: %s step %lld, %d classes, D = %lld, mode %s\n", run.c_str(),
                   (long long)net.step, net.num_classes, (long long)net.config.embedding_dim,
                   mode_name.c_str());

    std::error_code ec;
    fs::create_directories(out_dir, ec);
    ENGINE_CHECK(!ec, "cannot create the output folder '{}': {}", out_dir, ec.message());
    if (overlays) {
      fs::create_directories(fs::path(out_dir) / "overlays", ec);
      ENGINE_CHECK(!ec, "cannot create '{}/overlays': {}", out_dir, ec.message());
    }

    // --- knn memory ---
    spml::PrototypeMemory memory;
    if (knn && !memory_file.empty()) {
      std::map<std::string, std::string> meta;
      memory = apps::load_memory(memory_file, net.config.embedding_dim, &meta);
      if (meta.count("num_classes"))
        ENGINE_CHECK(meta["num_classes"] == std::to_string(net.num_classes),
                     "memory '{}' was built for {} classes but the run has {}", memory_file,
                     meta["num_classes"], net.num_classes);
      if (meta.count("label_source") && meta["label_source"] == "ground-truth")
        std::fprintf(stderr,
                     "predict: warning: memory '%s' is labelled with ground truth; the result "
                     "is not weakly supervised\n",
                     memory_file.c_str());
      if (!quiet)
        std::fprintf(stderr, "predict: memory %s: %lld prototypes\n", memory_file.c_str(),
                     (long long)memory.prototypes.size(0));
    } else if (knn) {
      MemorySource src;
      src.root = memory_root.empty() ? root : memory_root;
      src.list = memory_list;
      src.labels = memory_labels;
      src.image_dir = image_dir;
      src.from_gt = memory_from_gt;
      src.densepose = densepose;
      const MemoryImages images = memory_images(src);
      memory = build_memory(net, images, opt, labelled_only, quiet);
      const std::string mpath = (fs::path(out_dir) / "memory.safetensors").string();
      apps::save_memory(mpath, memory,
                        {{"num_classes", std::to_string(net.num_classes)},
                         {"embedding_dim", std::to_string(net.config.embedding_dim)},
                         {"grid", std::to_string(grid)},
                         {"label_source", memory_from_gt ? "ground-truth" : "labels"},
                         {"label_dir", images.label_dir},
                         {"list", images.list},
                         {"labelled_only", labelled_only ? "true" : "false"},
                         {"run", run}});
      if (!quiet)
        std::fprintf(stderr, "predict: memory of %lld prototypes from %zu images -> %s\n",
                     (long long)memory.prototypes.size(0), images.items.size(), mpath.c_str());
    }

    // --- predictions ---
    std::vector<double> seconds;
    std::unique_ptr<engine::ProgressBar> bar;
    if (!quiet)
      bar = std::make_unique<engine::ProgressBar>("predict", int64_t(inputs.size()), "img");
    const apps::IgnoreStyle ignore =
        white_ignore ? apps::IgnoreStyle::white : apps::IgnoreStyle::image;
    for (const Input& in : inputs) {
      engine::Tensor rgb = data::read_image(in.path);
      const auto t0 = std::chrono::steady_clock::now();
      apps::Prediction p = apps::predict_image(net, rgb, opt, knn ? &memory : nullptr);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      const fs::path base = fs::path(out_dir) / in.id;
      data::write_label_png(base.string() + ".png", p.labels);
      if (save_probs) data::write_npy(base.string() + ".probs.npy", p.probs);
      if (overlays)
        apps::write_overlay((fs::path(out_dir) / "overlays" / (in.id + ".png")).string(), rgb,
                            p.labels, alpha, ignore);
      if (bar) bar->advance();
    }
    if (bar) bar->finish();

    double total = 0, lo = seconds.front(), hi = seconds.front();
    for (double s : seconds) total += s, lo = std::min(lo, s), hi = std::max(hi, s);
    const double mean = total / double(seconds.size());
    const int64_t used_window = window < 0 ? net.config.crop : window;
    engine::io::write_file_atomic(
        (fs::path(out_dir) / "predict.json").string(),
        fmt::format("{{\"run\": {}, \"step\": {}, \"mode\": \"{}\", \"device\": \"{}\", "
                    "\"size\": {}, \"window\": {}, \"images\": {}, "
                    "\"seconds_per_image\": {:.6f}, \"seconds_min\": {:.6f}, "
                    "\"seconds_max\": {:.6f}}}\n",
                    json_string(run), net.step, mode_name, dev.str(), size, used_window,
                    seconds.size(), mean, lo, hi));
    if (!quiet)
      std::printf(
          "predict: %zu images, mode %s: %.3f s per image (min %.3f, max %.3f), %.1f s "
          "in all (network, mode and CRF; reading and writing files excluded)\n",
          seconds.size(), mode_name.c_str(), mean, lo, hi, total);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "predict: %s\n", e.what());
    return 1;
  }
  return 0;
}
