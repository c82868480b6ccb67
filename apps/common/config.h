// Training configuration of apps/train_voc and apps/train_densepose (spec
// ../shared/spec/spml.md §5.1, §4.7): every value of the reference recipe as a default (the VOC
// one here; apps/train_densepose starts from densepose_defaults()), each overridable by a JSON
// config file and by a command-line flag (flags win over the file, the file over the defaults).
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
  // "voc": the VOC layout (docs/data.md; the synthetic dataset uses it too). "densepose": the
  // processed DensePose layout of spec §10.3 (data/densepose.h, made by apps/convert_densepose).
  std::string dataset = "voc";
  std::string data_root;  // the layout's root
  // voc: ROOT/ImageSets/Segmentation/<split>.txt; densepose: ROOT/lists/<split>.txt
  std::string split = "train";
  // voc: full, scribble, point, box, tag. densepose: point (the A.3 point labels) or full (the
  // dense part maps).
  std::string supervision = "scribble";
  std::string label_dir;  // voc only: weak label directory under ROOT; "" = the default
  // Region maps under ROOT (densepose: seginst/pmi_0.1_256); a directory that does not exist
  // means the built-in over-segmentation (data/overseg.h) of each crop.
  std::string region_dir = "hed";
  // --- loss ---
  // spml::loss_preset name; "" = by dataset: voc "voc_<supervision>" ("voc_scribble" for full),
  // densepose "densepose_point".
  std::string preset;
  double classifier_dropout = 0.75;  // joint softmax head (spec §4.6)
  // --- model ---
  int64_t depth = 101;           // 50 or 101; ignored when `blocks` is given
  std::vector<int64_t> blocks;   // bottleneck blocks per stage, e.g. 1 1 1 1 (tiny models)
  std::string stem = "deep";     // deep (SPML's CUHK ResNet) or torchvision
  int64_t width = 64;            // base width (64 in the real network)
  int64_t output_stride = 8;     // 8, 16 or 32
  int64_t embedding_dim = 64;    // D
  std::string head = "deeplab";  // deeplab (DeepLab-v2 ASPP, VOC) or pspnet (PSPNet, DensePose)
  std::vector<int64_t> aspp_rates{6, 12, 18, 24};  // deeplab head only
  int64_t psp_width = 512;                         // pspnet head: pyramid pooling channels
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

// The DensePose recipe (spec §5.1, §4.7 DensePose row, §1.4): dataset densepose, point labels,
// PMI regions (seginst/pmi_0.1_256), PSPNet head, D = 32, 45 000 iterations, run folder
// runs/train_densepose; the preset densepose_point brings feature affinity on (README decision
// 2), no memory bank and 12×12 training k-means. Everything else as TrainConfig{}.
TrainConfig densepose_defaults();

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
