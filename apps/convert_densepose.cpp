// convert_densepose: DensePose-COCO annotation JSON → the processed label layout that training
// and evaluation read (spec §10.3): dense part maps, A.3 point labels and a list file.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "data/densepose.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Convert DensePose-COCO annotations (e.g. densepose_coco_2014_train.json) into label PNGs.\n"
      "Writes, under --out:\n"
      "  segcls/densepose/gray/<image>.png         dense map: 0 background, 1..14 parts, 255 "
      "unknown\n"
      "  segcls/densepose_points/gray/<image>.png  point labels (paper appendix A.3)\n"
      "  lists/<split>.txt                         'image dense_label point_label' per line\n"
      "Only images with at least one DensePose-annotated person are written. Example:\n"
      "  convert_densepose --json densepose_coco_2014_train.json \\\n"
      "      --images $DATAROOT/images/train2014 --out $DATAROOT --threads 8"};
  data::ConvertOptions o;
  std::string source = "mask";
  app.add_option("--json", o.json_path, "DensePose-COCO annotation file")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--images", o.image_dir,
                 "directory holding the JSON's file_name images (paths go into the list, "
                 "relative to --out when inside it; images are not read)")
      ->required();
  app.add_option("--out", o.out_dir, "data root to write into")->required();
  app.add_option("--split", o.split, "list name (default: the JSON file's name without .json)");
  app.add_option("--threads", o.threads, "worker threads")->check(CLI::Range(1, 1024));
  app.add_option("--sigma-scale", o.points.sigma_scale,
                 "Gaussian sigma = this x sqrt(person box area)")
      ->capture_default_str();
  app.add_option("--label-threshold", o.points.label_threshold,
                 "heat at or above which a pixel takes the keypoint's part")
      ->capture_default_str();
  app.add_option("--background-threshold", o.points.background_threshold,
                 "heat below which (for every keypoint) a pixel is background")
      ->capture_default_str();
  app.add_option("--keypoints", source,
                 "keypoint of each part: 'mask' (centre of the part mask, as in the paper) or "
                 "'points' (the annotated dp point nearest the mean of the part's points)")
      ->check(CLI::IsMember({"mask", "points"}))
      ->capture_default_str();
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress bar");
  CLI11_PARSE(app, argc, argv);
  o.points.source =
      source == "mask" ? data::KeypointSource::mask_centre : data::KeypointSource::dp_points;
  o.progress = !quiet;
  try {
    data::ConvertReport r = data::convert_densepose(o);
    fmt::print("{} images written ({} DensePose persons), {} skipped without DensePose; list {}\n",
               r.images, r.annotations, r.skipped, r.list_path);
  } catch (const engine::Error& e) {
    fmt::print(stderr, "convert_densepose: {}\n", e.message());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "convert_densepose: {}\n", e.what());
    return 1;
  }
  return 0;
}
