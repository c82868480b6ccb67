// SPML stage-1 embedding training on a dataset in the VOC layout (docs/training.md).
//
//   train_voc --data-root DATA --supervision scribble --run-dir runs/scribble
//   train_voc --resume runs/scribble            # continue after Ctrl-C or a crash
//   train_voc --config my.json --print-config   # show the resolved settings
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "apps/common/config.h"
#include "apps/common/device_choice.h"
#include "apps/common/train_loop.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  apps::TrainConfig config;
  std::string config_file;
  bool print_config = false;
  CLI::App app(
      "Train an SPML embedding network (ResNet + DeepLab-v2 ASPP) with weak labels: scribbles, "
      "points, boxes or image tags. Defaults are the paper's VOC recipe (SGD lr 3e-3, poly 0.9, "
      "batch 16, crop 512, 30k iterations); a tiny model for a quick try: --blocks 1 1 1 1 "
      "--width 8 --embedding-dim 16 --crop 64 --batch-size 4 --iterations 200. The run folder "
      "gets config.json, metrics.jsonl and checkpoints; Ctrl-C saves a checkpoint and stops, "
      "--resume RUN_DIR continues.");
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
