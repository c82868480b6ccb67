// overseg: writes over-segmentation region maps (data/overseg.h, Felzenszwalb–Huttenlocher) for
// a whole dataset, for runs that have no precomputed HED/UCM regions.
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
#include "data/overseg.h"
#include "engine/error.h"
#include "engine/progress.h"

namespace {

namespace fs = std::filesystem;

struct Job {
  std::string image;   // input path
  std::string output;  // region PNG path
};

std::vector<std::string> read_list(const fs::path& list) {
  std::ifstream f(list);
  ENGINE_CHECK(f.good(), "cannot read the image list '{}' (does the split exist?)", list.string());
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(f, line)) {
    // VOC lists may carry a second column ("2008_000002 -1"); the id is the first word.
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    size_t e = line.find_first_of(" \t\r", b);
    ids.push_back(line.substr(b, e == std::string::npos ? std::string::npos : e - b));
  }
  ENGINE_CHECK(!ids.empty(), "the image list '{}' is empty", list.string());
  return ids;
}

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

}  // namespace

int main(int argc, char** argv) {
  std::string root, split, image_dir = "JPEGImages", out_dir = "overseg", images, out;
  data::OversegParams params;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  bool skip_existing = false, quiet = false;
  CLI::App app{
      "Over-segments images into regions (Felzenszwalb-Huttenlocher graph segmentation) and\n"
      "writes one region map per image: a grayscale PNG of region ids 0..R-1 (8-bit when\n"
      "R <= 256, else 16-bit), the format the trainers read for HED/UCM regions.\n\n"
      "Two ways to name the images:\n"
      "  --root ROOT --split train   ids from ROOT/ImageSets/Segmentation/train.txt, images\n"
      "                              ROOT/JPEGImages/<id>.jpg, maps ROOT/overseg/<id>.png\n"
      "  --images DIR --out DIR      every .jpg/.jpeg/.png in DIR, maps OUT/<name>.png\n\n"
      "Larger --k gives fewer, larger regions; --min-size removes small ones.\n\n"
      "Example: overseg --root data/synthetic --split train --threads 8",
      "overseg"};
  app.add_option("--root", root, "Dataset root in the VOC layout");
  app.add_option("--split", split, "List name under ROOT/ImageSets/Segmentation (without .txt)");
  app.add_option("--image-dir", image_dir, "Image folder under ROOT")->capture_default_str();
  app.add_option("--out-dir", out_dir, "Output folder under ROOT (created if missing)")
      ->capture_default_str();
  app.add_option("--images", images, "A folder of images (instead of --root/--split)");
  app.add_option("--out", out, "Output folder for --images (created if missing)");
  app.add_option("--sigma", params.sigma, "Gaussian smoothing before segmentation, in pixels")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 50.0));
  app.add_option("--k", params.k, "Scale: larger values give larger regions")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--min-size", params.min_size, "Smallest region, in pixels")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Images processed in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_flag("--skip-existing", skip_existing, "Keep region maps that already exist");
  app.add_flag("--quiet", quiet, "No progress bar");
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<Job> jobs;
    fs::path out_path;
    if (!images.empty()) {
      ENGINE_CHECK(root.empty() && split.empty(),
                   "give either --images or --root/--split, not both");
      ENGINE_CHECK(!out.empty(), "--images needs --out (the folder for the region maps)");
      ENGINE_CHECK(fs::is_directory(images), "--images '{}' is not a folder", images);
      out_path = out;
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(images))
        if (e.is_regular_file() && is_image(e.path())) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      ENGINE_CHECK(!found.empty(), "no .jpg/.jpeg/.png images in '{}'", images);
      for (const fs::path& p : found)
        jobs.push_back({p.string(), (out_path / p.stem()).string() + ".png"});
    } else {
      ENGINE_CHECK(
          !root.empty() && !split.empty(),
          "name the images with --root and --split, or with --images and --out (see --help)");
      out_path = fs::path(root) / out_dir;
      for (const std::string& id :
           read_list(fs::path(root) / "ImageSets" / "Segmentation" / (split + ".txt")))
        jobs.push_back({(fs::path(root) / image_dir / (id + ".jpg")).string(),
                        (out_path / (id + ".png")).string()});
    }
    std::error_code ec;
    fs::create_directories(out_path, ec);
    ENGINE_CHECK(!ec, "cannot create the output folder '{}': {}", out_path.string(), ec.message());

    int64_t skipped = 0;
    if (skip_existing) {
      std::vector<Job> todo;
      for (Job& j : jobs)
        if (fs::exists(j.output))
          ++skipped;
        else
          todo.push_back(std::move(j));
      jobs.swap(todo);
    }

    std::unique_ptr<engine::ProgressBar> bar;
    if (!quiet) bar = std::make_unique<engine::ProgressBar>("overseg", int64_t(jobs.size()), "img");
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::atomic<int64_t> regions{0};
    std::exception_ptr error;
    std::mutex mutex;
    auto work = [&] {
      while (!failed) {
        size_t i = next.fetch_add(1);
        if (i >= jobs.size()) return;
        try {
          engine::Tensor map = data::oversegment(data::read_image(jobs[i].image), params);
          regions += data::count_regions(map);
          data::write_region_png(jobs[i].output, map);
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
    for (int t = 1; t < threads && size_t(t) < jobs.size(); ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    if (bar) {
      bar->finish();
      std::fprintf(
          stderr, "%s\n",
          fmt::format("wrote {} region maps to {} (mean {:.1f} regions){}", jobs.size(),
                      out_path.string(), jobs.empty() ? 0.0 : double(regions) / double(jobs.size()),
                      skipped ? fmt::format(", {} existing kept", skipped) : "")
              .c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "overseg: %s\n", e.what());
    return 1;
  }
  return 0;
}
