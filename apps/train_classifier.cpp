// SPML stage 2: train a new softmax classifier on the frozen stage-1 embedding with pseudo-labels
// (docs/classifier.md, spec spml.md §5.2).
//
//   train_classifier --run S1 --labels S1/pseudo --run-dir S2
//   train_classifier --resume S2                  # continue after Ctrl-C or a crash
//   train_classifier --run S1 --labels L --print-config
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "apps/common/classifier_config.h"
#include "apps/common/classifier_loop.h"
#include "apps/common/device_choice.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  apps::ClassifierConfig config;
  std::string config_file;
  bool print_config = false;
  CLI::App app(
      "Stage 2 of SPML: train a new softmax classifier (conv3x3 D->2D, BN, ReLU, dropout 0.65, "
      "conv1x1 2D->C) on top of a frozen stage-1 embedding network, with pseudo-labels as "
      "targets.\n\n"
      "Where it sits in the pipeline:\n"
      "  train_voc --run-dir S1   (or train_densepose)   stage 1: embedding network\n"
      "  pseudo_label --run S1 --out S1/pseudo           pseudo-labels for the training images\n"
      "  train_classifier --run S1 --labels S1/pseudo --run-dir S2     <- this program\n"
      "  predict --run S2 --root DATA --split val --out S2/pred        segmentation of new images\n"
      "  eval_miou --root DATA --split val --pred-dir S2/pred\n\n"
      "The embedding network is loaded from S1 (its settings from S1/config.json, the newest "
      "checkpoint) and stays in eval mode; only the classifier learns, with cross-entropy on the "
      "pseudo-labels (values >= the class count are ignored). Images come from the stage-1 "
      "run's data root and layout unless --data-root / --dataset are given (a train_densepose "
      "run: ROOT/lists/<split>.txt, 15 parts, flips swap left and right parts). Augmentation: "
      "flip, scale 0.5-2, crop, "
      "grayscale (p 0.3), Gaussian blur (p 0.5). Defaults are the paper's recipe: batch 16, "
      "4000 iterations, SGD lr 3e-3 (x10 weights, x20 biases), poly 0.9, 100 warm-up "
      "iterations, crop 512.\n\n"
      "S2 gets config.json, network.json (the stage-1 network settings), metrics.jsonl and "
      "checkpoints model-<s>.safetensors holding the embedding network and the new classifier, "
      "so every later program takes --run S2. Ctrl-C saves a checkpoint and stops; --resume S2 "
      "continues exactly where it stopped.");
  apps::add_classifier_flags(app, config, config_file, print_config);
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
      config.device = apps::stored_device<apps::ClassifierConfig>(config.resume);
    apps::ClassifierOutcome out = apps::train_classifier(config);
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
