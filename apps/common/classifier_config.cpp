#include "apps/common/classifier_config.h"

#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <variant>
#include <vector>

#include "engine/device.h"
#include "engine/error.h"

namespace apps {

namespace {

using FieldPtr = std::variant<std::string*, int64_t*, uint64_t*, double*, bool*>;

struct Field {
  const char* name;  // JSON key; the flag is "--" + name with '_' -> '-'
  FieldPtr ptr;
  const char* help;
};

// One table for JSON, flags and printing, so that no field can be missing from one of them.
std::vector<Field> fields(ClassifierConfig& c) {
  return {
      {"run", &c.run, "stage-1 run folder (train_voc --run-dir); required"},
      {"run_step", &c.run_step, "stage-1 checkpoint step to start from (-1 = the newest)"},
      {"dataset", &c.dataset,
       "data layout: voc or densepose (default: the stage-1 run's; densepose: 15 parts, flips "
       "swap left and right)"},
      {"data_root", &c.data_root, "dataset root (default: the stage-1 run's)"},
      {"split", &c.split,
       "list ROOT/ImageSets/Segmentation/<split>.txt (voc) or ROOT/lists/<split>.txt "
       "(densepose)"},
      {"labels", &c.labels,
       "pseudo-label directory (pseudo_label --out): <id>.png label maps; absolute, relative to "
       "ROOT, or else to the working directory; required"},
      {"dropout", &c.dropout, "dropout of the new softmax classifier"},
      {"lr", &c.lr, "base learning rate"},
      {"momentum", &c.momentum, "SGD momentum"},
      {"weight_decay", &c.weight_decay, "L2 weight decay (not on biases / BN betas)"},
      {"poly_power", &c.poly_power, "poly schedule power"},
      {"warmup_iters", &c.warmup_iters, "linear warm-up iterations"},
      {"warmup_start_factor", &c.warmup_start_factor, "warm-up start lr as a fraction of lr"},
      {"head_lr_mult", &c.head_lr_mult,
       "learning-rate multiplier of the classifier weights (its biases get twice)"},
      {"iterations", &c.iterations, "training iterations"},
      {"batch_size", &c.batch_size, "images per optimizer step"},
      {"crop", &c.crop, "training crop size (pixels)"},
      {"scale_min", &c.scale_min, "random scale lower bound"},
      {"scale_max", &c.scale_max, "random scale upper bound"},
      {"flip", &c.flip, "random horizontal flips (p = 0.5)"},
      {"grayscale_p", &c.grayscale_p, "probability of turning a crop to grayscale"},
      {"blur_p", &c.blur_p, "probability of blurring a crop (5x5 Gaussian)"},
      {"blur_sigma_min", &c.blur_sigma_min, "blur sigma lower bound (pixels)"},
      {"blur_sigma_max", &c.blur_sigma_max, "blur sigma upper bound (pixels)"},
      {"seed", &c.seed, "seed of data order, augmentation, initialization and dropout"},
      {"loader_threads", &c.loader_threads, "data loading threads"},
      {"threads", &c.threads, "compute threads (0 = all cores)"},
      {"device", &c.device,
       "cpu, cuda or cuda:N (the frozen network's forward and the classifier on the GPU)"},
      {"run_dir", &c.run_dir, "run folder (config, network settings, metrics, checkpoints)"},
      {"resume", &c.resume,
       "continue the classifier run in this folder from its latest checkpoint"},
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

}  // namespace

std::string to_json(const ClassifierConfig& config) {
  ClassifierConfig c = config;
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
            char buf[40];
            std::snprintf(buf, sizeof buf, "%.17g", *p);
            os << buf;
          } else if constexpr (std::is_same_v<T, bool>) {
            os << (*p ? "true" : "false");
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

void apply_json(ClassifierConfig& config, const std::string& json, const std::string& what) {
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
    ENGINE_CHECK(it != fs.end(),
                 "{}: unknown classifier setting \"{}\" (see --print-config for the names)", what,
                 key);
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
          } else {
            uint64_t u = 0;
            ok = !v.get_uint64().get(u);
            if (ok) *p = u;
          }
          ENGINE_CHECK(ok, "{}: setting \"{}\" has the wrong type (see --print-config)", what, key);
        },
        it->ptr);
  }
}

void apply_json_file(ClassifierConfig& config, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ENGINE_CHECK(in.good(), "config file {}: cannot open it", path);
  std::stringstream ss;
  ss << in.rdbuf();
  apply_json(config, ss.str(), "config file " + path);
}

void add_classifier_flags(CLI::App& app, ClassifierConfig& config, std::string& config_file,
                          bool& print_config) {
  app.add_option("--config", config_file,
                 "JSON file of settings (keys as in --print-config); flags override it");
  app.add_flag("--print-config", print_config, "print the resolved settings as JSON and exit");
  for (const Field& f : fields(config)) {
    std::string flag = std::string("--") + f.name;
    for (char& ch : flag)
      if (ch == '_') ch = '-';
    std::visit([&](auto* p) { app.add_option(flag, *p, f.help)->capture_default_str(); }, f.ptr);
  }
}

void validate(const ClassifierConfig& c) {
  const char* w = "classifier config";
  ENGINE_CHECK(!c.run.empty() || !c.resume.empty(),
               "{}: run (the stage-1 run folder, --run) is required", w);
  ENGINE_CHECK(!c.labels.empty() || !c.resume.empty(),
               "{}: labels (the pseudo-label directory, --labels) is required", w);
  ENGINE_CHECK(c.dataset.empty() || c.dataset == "voc" || c.dataset == "densepose",
               "{}: dataset must be voc, densepose or empty (the stage-1 run's), got '{}'", w,
               c.dataset);
  ENGINE_CHECK(c.iterations > 0, "{}: iterations must be > 0, got {}", w, c.iterations);
  ENGINE_CHECK(c.batch_size > 0, "{}: batch_size must be > 0, got {}", w, c.batch_size);
  ENGINE_CHECK(c.crop >= 16, "{}: crop must be >= 16, got {}", w, c.crop);
  ENGINE_CHECK(c.scale_min > 0 && c.scale_min <= c.scale_max,
               "{}: need 0 < scale_min <= scale_max, got {} and {}", w, c.scale_min, c.scale_max);
  ENGINE_CHECK(c.dropout >= 0 && c.dropout < 1, "{}: dropout must be in [0, 1), got {}", w,
               c.dropout);
  ENGINE_CHECK(c.lr > 0, "{}: lr must be > 0, got {}", w, c.lr);
  ENGINE_CHECK(c.momentum >= 0 && c.momentum < 1, "{}: momentum must be in [0, 1), got {}", w,
               c.momentum);
  ENGINE_CHECK(c.weight_decay >= 0, "{}: weight_decay must be >= 0, got {}", w, c.weight_decay);
  ENGINE_CHECK(c.poly_power >= 0, "{}: poly_power must be >= 0, got {}", w, c.poly_power);
  ENGINE_CHECK(c.warmup_iters >= 0 && c.warmup_iters < c.iterations,
               "{}: warmup_iters must be in [0, iterations), got {}", w, c.warmup_iters);
  ENGINE_CHECK(c.warmup_start_factor >= 0 && c.warmup_start_factor <= 1,
               "{}: warmup_start_factor must be in [0, 1], got {}", w, c.warmup_start_factor);
  ENGINE_CHECK(c.head_lr_mult > 0, "{}: head_lr_mult must be > 0, got {}", w, c.head_lr_mult);
  ENGINE_CHECK(c.grayscale_p >= 0 && c.grayscale_p <= 1,
               "{}: grayscale_p must be in [0, 1], got {}", w, c.grayscale_p);
  ENGINE_CHECK(c.blur_p >= 0 && c.blur_p <= 1, "{}: blur_p must be in [0, 1], got {}", w, c.blur_p);
  ENGINE_CHECK(c.blur_sigma_min > 0 && c.blur_sigma_min <= c.blur_sigma_max,
               "{}: need 0 < blur_sigma_min <= blur_sigma_max, got {} and {}", w, c.blur_sigma_min,
               c.blur_sigma_max);
  ENGINE_CHECK(c.loader_threads >= 1, "{}: loader_threads must be >= 1, got {}", w,
               c.loader_threads);
  ENGINE_CHECK(c.threads >= 0, "{}: threads must be >= 0, got {}", w, c.threads);
  engine::Device::parse(c.device);  // throws naming the accepted spellings
  ENGINE_CHECK(c.checkpoint_every > 0 && c.keep_checkpoints > 0,
               "{}: checkpoint_every and keep_checkpoints must be > 0", w);
  ENGINE_CHECK(c.stop_after >= 0, "{}: stop_after must be >= 0, got {}", w, c.stop_after);
}

}  // namespace apps
