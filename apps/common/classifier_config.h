// Settings of apps/train_classifier, SPML's stage 2 (spec ../shared/spec/spml.md §5.2, §1.6):
// a new softmax classifier trained on the frozen stage-1 embedding with pseudo-labels. Every value
// of the reference recipe is a default; a JSON config file overrides the defaults and
// command-line flags override the file (the same scheme as apps/common/config.h).
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace apps {

struct ClassifierConfig {
  // --- inputs ---
  std::string run;        // the stage-1 run folder (apps/train_voc's --run-dir); required
  int64_t run_step = -1;  // its checkpoint to start from; < 0 = the newest
  // Layout of the data root: "voc" (ROOT/ImageSets/Segmentation/<split>.txt) or "densepose"
  // (ROOT/lists/<split>.txt, spec §10.3; 15 classes, flips swap left and right parts);
  // "" = the stage-1 run's.
  std::string dataset;
  std::string data_root;        // the layout's root; "" = the stage-1 run's data_root
  std::string split = "train";  // the list (see dataset)
  // Pseudo-label directory (apps/pseudo_label's --out): 8-bit label PNGs <id>.png, raw or
  // palette, values >= C are unlabeled (255). Absolute, or relative to ROOT, or else relative to
  // the working directory; required.
  std::string labels;
  // --- model (spec §1.6) ---
  double dropout = 0.65;  // the stand-alone classifier's dropout
  // --- optimization (spec §5.2) ---
  double lr = 3e-3;
  double momentum = 0.9;
  double weight_decay = 5e-4;  // on conv weights and BN gammas, not on biases / BN betas
  double poly_power = 0.9;
  int64_t warmup_iters = 100;
  double warmup_start_factor = 0.1;  // lr(0) = 0.1·lr
  // Every trainable parameter belongs to the head: weights ×head_lr_mult, biases ×2·head_lr_mult.
  double head_lr_mult = 10.0;
  int64_t iterations = 4000;
  int64_t batch_size = 16;
  // --- augmentation (spec §5.2) ---
  int64_t crop = 512;
  double scale_min = 0.5, scale_max = 2.0;
  bool flip = true;
  double grayscale_p = 0.3;
  double blur_p = 0.5;
  double blur_sigma_min = 0.1, blur_sigma_max = 5.0;
  uint64_t seed = 235;  // data order, augmentation, classifier init and dropout
  int64_t loader_threads = 4;
  int64_t threads = 0;  // OpenMP threads for compute; 0 = the runtime's default
  // Where the frozen network's forward, the classifier and its optimizer run: cpu, cuda, cuda:N.
  std::string device = "cpu";
  // --- run folder ---
  std::string run_dir = "runs/train_classifier";
  std::string resume;  // a classifier run folder: continue from its latest checkpoint
  int64_t checkpoint_every = 1000;
  int64_t keep_checkpoints = 3;
  int64_t stop_after = 0;  // > 0: stop (with a checkpoint) after this many steps of this call
  bool progress = true;    // progress bar on stderr
};

// Pretty JSON object of every field (--print-config, RUN/config.json).
std::string to_json(const ClassifierConfig& config);
// Applies the fields present in a JSON object; unknown keys and wrong types are errors naming
// the key and `what` (e.g. the file).
void apply_json(ClassifierConfig& config, const std::string& json, const std::string& what);
void apply_json_file(ClassifierConfig& config, const std::string& path);
// One flag per field (--run, --labels, --lr, ...: the field name with dashes) writing into
// `config`, plus --config FILE and --print-config. Apply the --config file before parsing (see
// apps/train_classifier.cpp) so that flags win over it.
void add_classifier_flags(CLI::App& app, ClassifierConfig& config, std::string& config_file,
                          bool& print_config);
// Ranges and required fields; errors name the field. (Whether the folders exist is checked when
// training starts.)
void validate(const ClassifierConfig& config);

}  // namespace apps
