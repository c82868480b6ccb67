// Training configuration of apps/train_voc (spec ../shared/spec/spml.md §5.1, §4.7): every value
// of the reference recipe as a default, each overridable by a JSON config file and by a
// command-line flag (flags win over the file, the file over the defaults).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace apps {

struct TrainConfig {
  // --- data ---
  std::string data_root;                 // VOC layout root (the synthetic dataset uses it too)
  std::string split = "train";           // ROOT/ImageSets/Segmentation/<split>.txt
  std::string supervision = "scribble";  // full, scribble, point, box, tag
  std::string label_dir;                 // weak label directory under ROOT; "" = the default
  std::string region_dir = "hed";  // region maps under ROOT; absent: computed (data/overseg.h)
  // --- loss ---
  std::string preset;  // spml::loss_preset name; "" = "voc_<supervision>" ("voc_scribble" for full)
  double classifier_dropout = 0.75;  // joint softmax head (spec §4.6)
  // --- model ---
  int64_t depth = 101;          // 50 or 101; ignored when `blocks` is given
  std::vector<int64_t> blocks;  // bottleneck blocks per stage, e.g. 1 1 1 1 (tiny models)
  std::string stem = "deep";    // deep (SPML's CUHK ResNet) or torchvision
  int64_t width = 64;           // base width (64 in the real network)
  int64_t output_stride = 8;    // 8, 16 or 32
  int64_t embedding_dim = 64;   // D
  std::vector<int64_t> aspp_rates{6, 12, 18, 24};
  std::string init;  // safetensors weights to start from ("" = random init)
  // --- optimization (spec §5.1) ---
  double lr = 3e-3;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  double poly_power = 0.9;
  int64_t warmup_iters = 100;
  double warmup_start_factor = 0.1;  // spec: lr(0) = 0.1·base
  double head_lr_mult = 10.0;        // head weights ×10, head biases ×20
  double bn_momentum = 3e-4;         // backbone BatchNorm (PyTorch convention)
  bool freeze_stem_layer1 = true;    // stem and res2 (layer1) not optimized
  int64_t iterations = 30000;        // T
  int64_t batch_size = 16;
  int64_t micro_batches = 1;  // gradient accumulation (apps/common/spml_step.h)
  int64_t crop = 512;
  double scale_min = 0.5, scale_max = 1.5;
  uint64_t seed = 235;
  int64_t loader_threads = 4;
  int64_t threads = 0;  // OpenMP threads for compute; 0 = the runtime's default
  std::string device = "cpu";
  // --- run folder ---
  std::string run_dir = "runs/train_voc";
  std::string resume;  // a run folder: continue from its latest checkpoint
  int64_t checkpoint_every = 1000;
  int64_t keep_checkpoints = 3;
  int64_t stop_after = 0;  // > 0: stop (with a checkpoint) after this many steps of this run
  bool progress = true;    // progress bar on stderr
};

// The resolved loss preset name.
std::string resolved_preset(const TrainConfig& config);

// Pretty JSON object of every field (what --print-config prints and run folders store).
std::string to_json(const TrainConfig& config);
// Applies the fields present in a JSON object (others keep their value). Unknown keys and wrong
// types are errors naming the key and the source (`what`, e.g. the file name).
void apply_json(TrainConfig& config, const std::string& json, const std::string& what);
void apply_json_file(TrainConfig& config, const std::string& path);
// Registers one flag per field on `app` (--data-root, --lr, ... : the field name with dashes),
// writing into `config`, plus --config FILE (read before the flags are applied: see
// parse_train_args) and --print-config.
void add_train_flags(CLI::App& app, TrainConfig& config, std::string& config_file,
                     bool& print_config);
// Checks ranges and combinations; errors name the field.
void validate(const TrainConfig& config);

}  // namespace apps
