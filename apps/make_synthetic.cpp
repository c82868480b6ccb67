// make_synthetic: writes the synthetic dataset (data/synthetic.h) in our Pascal VOC layout, the
// default dataset of the README's demo and of the end-to-end tests.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <thread>

#include "data/synthetic.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  data::SyntheticDatasetSpec spec;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  bool quiet = false;
  CLI::App app{
      "Writes a synthetic segmentation dataset in the Pascal VOC layout the trainers read:\n"
      "  ROOT/JPEGImages/<id>.jpg                    images\n"
      "  ROOT/segcls/<id>.png                        full ground truth (palette PNG of class ids)\n"
      "  ROOT/scribble/dilate_3/<id>.png             scribbles (3 px wide, 255 = unlabeled)\n"
      "  ROOT/scribble/dilate_3_0.5/<id>.png         scribbles cut to half their length\n"
      "  ROOT/scribble/dilate_6_0.0/<id>.png         points (one disc per scribble)\n"
      "  ROOT/Annotations/<id>.xml                   VOC XML with one box per object\n"
      "  ROOT/hed/<id>.png                           over-segmentation region maps\n"
      "  ROOT/ImageSets/Segmentation/{train,val}.txt image ids\n"
      "  ROOT/classes.txt                            class names, line i = class id i\n"
      "Scenes hold textured objects (each class has its own shape and texture; colours are\n"
      "random) on a cluttered background. The same --seed gives the same files whatever\n"
      "--threads is.\n\nExample: make_synthetic --out data/synthetic --num-train 500",
      "make_synthetic"};
  app.add_option("--out", spec.root, "Output directory (created if missing)")->required();
  app.add_option("--seed", spec.seed, "Random seed of the whole dataset")->capture_default_str();
  app.add_option("--num-train", spec.num_train, "Number of training images")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--num-val", spec.num_val, "Number of validation images")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--classes", spec.config.num_classes,
                 "Number of object classes, background not counted (labels are 0..classes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 254));
  app.add_option("--height", spec.config.height, "Image height in pixels")
      ->capture_default_str()
      ->check(CLI::Range(16, 8192));
  app.add_option("--width", spec.config.width, "Image width in pixels")
      ->capture_default_str()
      ->check(CLI::Range(16, 8192));
  app.add_option("--max-objects", spec.config.max_objects, "At most this many objects per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--threads", threads, "Worker threads (the output does not depend on it)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_flag("--quiet", quiet, "No progress bar");
  CLI11_PARSE(app, argc, argv);
  try {
    data::write_synthetic_dataset(spec, threads, !quiet);
    if (!quiet)
      std::fprintf(stderr, "%s\n",
                   fmt::format("wrote {} train + {} val images ({} classes + background) to {}",
                               spec.num_train, spec.num_val, spec.config.num_classes, spec.root)
                       .c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_synthetic: %s\n", e.what());
    return 1;
  }
  return 0;
}
