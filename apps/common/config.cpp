#include "apps/common/config.h"

#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>
#include <variant>

#include "engine/device.h"
#include "engine/error.h"
#include "spml/loss_config.h"

namespace apps {

namespace {

using FieldPtr =
    std::variant<std::string*, int64_t*, uint64_t*, double*, bool*, std::vector<int64_t>*>;

struct Field {
  const char* name;  // JSON key; the flag is "--" + name with '_' -> '-'
  FieldPtr ptr;
  const char* help;
};

// One table for JSON, flags and printing, so that no field can be missing from one of them.
std::vector<Field> fields(TrainConfig& c) {
  return {
      {"dataset", &c.dataset,
       "dataset layout: voc (docs/data.md) or densepose (spec §10.3, apps/convert_densepose)"},
      {"data_root", &c.data_root, "dataset root (required)"},
      {"split", &c.split,
       "list: voc ROOT/ImageSets/Segmentation/<split>.txt, densepose ROOT/lists/<split>.txt"},
      {"supervision", &c.supervision,
       "voc: full, scribble, point, box or tag; densepose: point or full"},
      {"label_dir", &c.label_dir,
       "voc only: weak label directory under ROOT (default: by supervision)"},
      {"region_dir", &c.region_dir,
       "over-segmentation region maps under ROOT (absent: computed on the fly)"},
      {"preset", &c.preset,
       "loss preset: voc_scribble, voc_point, voc_box, voc_tag, densepose_point, segsort "
       "(default: voc_<supervision>, or densepose_point for dataset densepose)"},
      {"classifier_dropout", &c.classifier_dropout, "dropout of the joint softmax head"},
      {"depth", &c.depth, "ResNet depth, 50 or 101 (ignored with --blocks)"},
      {"blocks", &c.blocks, "bottleneck blocks per stage, 4 numbers (tiny models: 1 1 1 1)"},
      {"stem", &c.stem, "deep (SPML) or torchvision"},
      {"width", &c.width, "ResNet base width (64 for the real network)"},
      {"output_stride", &c.output_stride, "backbone output stride: 8, 16 or 32"},
      {"embedding_dim", &c.embedding_dim, "embedding dimension D"},
      {"head", &c.head, "embedding head: deeplab (DeepLab-v2 ASPP) or pspnet (PSPNet)"},
      {"aspp_rates", &c.aspp_rates, "ASPP dilation rates (deeplab head)"},
      {"psp_width", &c.psp_width, "pyramid pooling channels (pspnet head; 512 in the paper)"},
      {"init", &c.init, "initial weights (.safetensors; e.g. ImageNet backbone)"},
      {"lr", &c.lr, "base learning rate"},
      {"momentum", &c.momentum, "SGD momentum"},
      {"weight_decay", &c.weight_decay, "L2 weight decay (not on biases / BN betas)"},
      {"poly_power", &c.poly_power, "poly schedule power"},
      {"warmup_iters", &c.warmup_iters, "linear warm-up iterations"},
      {"warmup_start_factor", &c.warmup_start_factor, "warm-up start lr as a fraction of lr"},
      {"head_lr_mult", &c.head_lr_mult, "head learning-rate multiplier (biases get twice)"},
      {"bn_momentum", &c.bn_momentum, "backbone BatchNorm momentum (PyTorch convention)"},
      {"freeze_stem_layer1", &c.freeze_stem_layer1, "do not optimize the stem and res2"},
      {"iterations", &c.iterations, "training iterations T"},
      {"batch_size", &c.batch_size, "images per optimizer step"},
      {"micro_batches", &c.micro_batches,
       "gradient accumulation: micro-batches per step, each batch_size / micro_batches images"},
      {"crop", &c.crop, "training crop size (pixels)"},
      {"scale_min", &c.scale_min, "random scale lower bound"},
      {"scale_max", &c.scale_max, "random scale upper bound"},
      {"seed", &c.seed, "seed of data order, augmentation and initialization"},
      {"loader_threads", &c.loader_threads, "data loading threads"},
      {"threads", &c.threads, "compute threads (0 = all cores)"},
      {"device", &c.device,
       "cpu, cuda or cuda:N (the backbone, K-Means, prototypes and the loss on the GPU)"},
      {"run_dir", &c.run_dir, "run folder (config, metrics, checkpoints)"},
      {"resume", &c.resume, "continue the run in this folder from its latest checkpoint"},
      {"checkpoint_every", &c.checkpoint_every, "steps between checkpoints"},
      {"keep_checkpoints", &c.keep_checkpoints, "checkpoints kept (older ones are deleted)"},
      {"stop_after", &c.stop_after, "stop with a checkpoint after this many steps (0 = never)"},
      {"progress", &c.progress, "draw a progress bar"},
  };
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string json_double(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

TrainConfig densepose_defaults() {
  TrainConfig c;
  c.dataset = "densepose";
  c.supervision = "point";
  c.preset = "densepose_point";
  c.region_dir = "seginst/pmi_0.1_256";
  c.head = "pspnet";
  c.embedding_dim = 32;
  c.iterations = 45000;
  c.run_dir = "runs/train_densepose";
  return c;
}

std::string resolved_preset(const TrainConfig& c) {
  if (!c.preset.empty()) return c.preset;
  if (c.dataset == "densepose") return "densepose_point";
  if (c.supervision == "full") return "voc_scribble";
  return "voc_" + c.supervision;
}

std::string to_json(const TrainConfig& config) {
  TrainConfig c = config;
  std::ostringstream os;
  os << "{\n";
  auto fs = fields(c);
  for (size_t i = 0; i < fs.size(); ++i) {
    os << "  " << json_string(fs[i].name) << ": ";
    std::visit(
        [&](auto* p) {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::string>) {
            os << json_string(*p);
          } else if constexpr (std::is_same_v<T, double>) {
            os << json_double(*p);
          } else if constexpr (std::is_same_v<T, bool>) {
            os << (*p ? "true" : "false");
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            os << "[";
            for (size_t k = 0; k < p->size(); ++k) os << (k ? ", " : "") << (*p)[k];
            os << "]";
          } else {
            os << *p;
          }
        },
        fs[i].ptr);
    os << (i + 1 < fs.size() ? ",\n" : "\n");
  }
  os << "}\n";
  return os.str();
}

void apply_json(TrainConfig& config, const std::string& json, const std::string& what) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(json).get(root);
  ENGINE_CHECK(!err, "{}: invalid JSON ({})", what, simdjson::error_message(err));
  simdjson::dom::object obj;
  ENGINE_CHECK(!root.get_object().get(obj), "{}: expected a JSON object of settings", what);
  auto fs = fields(config);
  for (auto kv : obj) {
    std::string key(kv.key);
    auto it = std::find_if(fs.begin(), fs.end(), [&](const Field& f) { return key == f.name; });
    ENGINE_CHECK(it != fs.end(), "{}: unknown setting \"{}\" (see --print-config for the names)",
                 what, key);
    simdjson::dom::element v = kv.value;
    std::visit(
        [&](auto* p) {
          using T = std::remove_pointer_t<decltype(p)>;
          bool ok = false;
          if constexpr (std::is_same_v<T, std::string>) {
            std::string_view s;
            ok = !v.get_string().get(s);
            if (ok) *p = std::string(s);
          } else if constexpr (std::is_same_v<T, double>) {
            double d = 0;
            ok = !v.get_double().get(d);
            if (!ok) {
              int64_t i = 0;
              ok = !v.get_int64().get(i);
              d = double(i);
            }
            if (ok) *p = d;
          } else if constexpr (std::is_same_v<T, bool>) {
            bool b = false;
            ok = !v.get_bool().get(b);
            if (ok) *p = b;
          } else if constexpr (std::is_same_v<T, int64_t>) {
            int64_t i = 0;
            ok = !v.get_int64().get(i);
            if (ok) *p = i;
          } else if constexpr (std::is_same_v<T, uint64_t>) {
            uint64_t u = 0;
            ok = !v.get_uint64().get(u);
            if (ok) *p = u;
          } else {
            simdjson::dom::array arr;
            ok = !v.get_array().get(arr);
            std::vector<int64_t> out;
            if (ok) {
              for (auto e : arr) {
                int64_t i = 0;
                if (e.get_int64().get(i)) {
                  ok = false;
                  break;
                }
                out.push_back(i);
              }
            }
            if (ok) *p = out;
          }
          ENGINE_CHECK(ok, "{}: setting \"{}\" has the wrong type (see --print-config)", what, key);
        },
        it->ptr);
  }
}

void apply_json_file(TrainConfig& config, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ENGINE_CHECK(in.good(), "config file {}: cannot open it", path);
  std::stringstream ss;
  ss << in.rdbuf();
  apply_json(config, ss.str(), "config file " + path);
}

void add_train_flags(CLI::App& app, TrainConfig& config, std::string& config_file,
                     bool& print_config) {
  app.add_option("--config", config_file,
                 "JSON file of settings (keys as in --print-config); flags override it");
  app.add_flag("--print-config", print_config, "print the resolved settings as JSON and exit");
  for (const Field& f : fields(config)) {
    std::string flag = std::string("--") + f.name;
    for (char& ch : flag)
      if (ch == '_') ch = '-';
    std::visit(
        [&](auto* p) {
          auto* opt = app.add_option(flag, *p, f.help);
          opt->capture_default_str();
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::vector<int64_t>>) opt->expected(1, 16);
        },
        f.ptr);
  }
}

void validate(const TrainConfig& c) {
  ENGINE_CHECK(c.dataset == "voc" || c.dataset == "densepose",
               "train config: dataset must be voc or densepose, got '{}'", c.dataset);
  ENGINE_CHECK(!c.data_root.empty(), "train config: data_root is required (--data-root)");
  if (c.dataset == "densepose") {
    ENGINE_CHECK(c.supervision == "point" || c.supervision == "full",
                 "train config: supervision for dataset densepose must be point or full, got '{}'",
                 c.supervision);
    ENGINE_CHECK(c.label_dir.empty(),
                 "train config: label_dir ('{}') applies to dataset voc only; DensePose labels "
                 "come from the list file ROOT/lists/<split>.txt",
                 c.label_dir);
  }
  ENGINE_CHECK(c.head == "deeplab" || c.head == "pspnet",
               "train config: head must be deeplab or pspnet, got '{}'", c.head);
  ENGINE_CHECK(c.psp_width > 0, "train config: psp_width must be > 0, got {}", c.psp_width);
  ENGINE_CHECK(c.embedding_dim > 0, "train config: embedding_dim must be > 0, got {}",
               c.embedding_dim);
  ENGINE_CHECK(c.iterations > 0, "train config: iterations must be > 0, got {}", c.iterations);
  ENGINE_CHECK(c.batch_size > 0, "train config: batch_size must be > 0, got {}", c.batch_size);
  ENGINE_CHECK(c.micro_batches >= 1 && c.batch_size % c.micro_batches == 0,
               "train config: micro_batches = {} must be >= 1 and divide batch_size = {}",
               c.micro_batches, c.batch_size);
  ENGINE_CHECK(c.crop >= 16, "train config: crop must be >= 16, got {}", c.crop);
  ENGINE_CHECK(c.scale_min > 0 && c.scale_min <= c.scale_max,
               "train config: need 0 < scale_min <= scale_max, got {} and {}", c.scale_min,
               c.scale_max);
  ENGINE_CHECK(c.blocks.empty() || c.blocks.size() == 4,
               "train config: blocks needs 4 numbers, got {}", c.blocks.size());
  ENGINE_CHECK(!c.blocks.empty() || c.depth == 50 || c.depth == 101,
               "train config: depth must be 50 or 101, got {}", c.depth);
  ENGINE_CHECK(c.stem == "deep" || c.stem == "torchvision",
               "train config: stem must be deep or torchvision, got '{}'", c.stem);
  ENGINE_CHECK(c.output_stride == 8 || c.output_stride == 16 || c.output_stride == 32,
               "train config: output_stride must be 8, 16 or 32, got {}", c.output_stride);
  engine::Device::parse(c.device);  // throws naming the accepted spellings
  ENGINE_CHECK(c.checkpoint_every > 0 && c.keep_checkpoints > 0,
               "train config: checkpoint_every and keep_checkpoints must be > 0");
  ENGINE_CHECK(c.loader_threads >= 1, "train config: loader_threads must be >= 1");
  ENGINE_CHECK(c.warmup_iters >= 0 && c.warmup_iters < c.iterations,
               "train config: warmup_iters must be in [0, iterations), got {}", c.warmup_iters);
  spml::loss_preset(resolved_preset(c));  // throws with the list of names
}

}  // namespace apps
