// SPML stage-1 embedding training on DensePose-COCO (spec spml.md §1.4, §4.7, §5.1, §10.3):
// the train_voc loop with the DensePose recipe as its defaults (docs/training.md "DensePose").
//
//   convert_densepose --json densepose_coco_2014_train.json --images DATA/images/train2014
//                     --out DATA --split train2014
//   train_densepose --data-root DATA --split train2014 --run-dir runs/densepose
//   train_densepose --resume runs/densepose
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "apps/common/config.h"
#include "apps/common/device_choice.h"
#include "apps/common/train_loop.h"
#include "engine/error.h"
#include "spml/loss_config.h"

int main(int argc, char** argv) {
  apps::TrainConfig config = apps::densepose_defaults();
  std::string config_file;
  bool print_config = false;
  CLI::App app(
      "Train an SPML embedding network for DensePose part segmentation from point labels "
      "(ResNet + PSPNet pyramid pooling, D = 32). Defaults are the paper's DensePose recipe: SGD "
      "lr 3e-3, poly 0.9, batch 16, crop 512, flip with the left/right part swap, 45k "
      "iterations, loss preset densepose_point (annotation 6/1.0, image similarity 16/0.1 without "
      "location, feature affinity 12/0.5 on, no memory bank, 12x12 k-means).\n"
      "Expected data layout under --data-root (spec §10.3):\n"
      "  lists/<split>.txt                         'image dense_label point_label' per line, "
      "paths relative to the root\n"
      "  images/...                                the COCO images the list names\n"
      "  segcls/densepose/gray/<id>.png            dense part map (0 bg, 1..14 parts, 255 "
      "unknown)\n"
      "  segcls/densepose_points/gray/<id>.png     point labels (paper appendix A.3)\n"
      "  seginst/pmi_0.1_256/<id>.png              optional region maps (--region-dir); absent: "
      "the built-in over-segmentation\n"
      "Make the labels and the list from the DensePose-COCO JSON with apps/convert_densepose "
      "(build/apps/convert_densepose --help). The run folder gets config.json, metrics.jsonl and "
      "checkpoints; Ctrl-C saves a checkpoint and stops, --resume RUN_DIR continues.");
  apps::add_train_flags(app, config, config_file, print_config);
  // The config file is applied before the flags, so that flags override it: find it first.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) config_file = argv[i + 1];
    if (std::strncmp(argv[i], "--config=", 9) == 0) config_file = argv[i] + 9;
  }
  try {
    if (!config_file.empty()) apps::apply_json_file(config, config_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  CLI11_PARSE(app, argc, argv);
  if (print_config) {
    std::fputs(apps::to_json(config).c_str(), stdout);
    // The preset's values are not settings of their own; show them apart from the JSON on
    // stdout, which stays a valid --config file.
    try {
      const std::string preset = apps::resolved_preset(config);
      std::fprintf(stderr, "loss preset %s: %s\n", preset.c_str(),
                   spml::to_json(spml::loss_preset(preset)).c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    }
    return 0;
  }
  try {
    if (!config.resume.empty() && app.count("--device") == 0)
      config.device = apps::stored_device<apps::TrainConfig>(config.resume);
    apps::TrainOutcome out = apps::train_spml(config);
    if (out.interrupted)
      std::fprintf(stderr, "stopped after step %lld; checkpoint %s; continue with --resume\n",
                   static_cast<long long>(out.steps_done), out.last_checkpoint.c_str());
    else
      std::fprintf(stderr, "done: %lld steps; final checkpoint %s\n",
                   static_cast<long long>(out.steps_done), out.last_checkpoint.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
