#include "apps/common/classifier_loop.h"

#include <omp.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "apps/common/config.h"
#include "apps/common/device_choice.h"
#include "apps/common/run_folder.h"
#include "apps/common/signals.h"
#include "apps/common/stage1_model.h"
#include "data/color_augment.h"
#include "data/densepose.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "data/voc.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/resize.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/sgd.h"
#include "engine/progress.h"
#include "models/embedding_model.h"
#include "models/weights.h"

namespace apps {

namespace fs = std::filesystem;
using engine::Tensor;

namespace {

// Colour draws use their own Philox key, so they are independent of the loader's geometric draws
// (keyed by config.seed with the same per-sample counters).
constexpr uint64_t kColorSeedSalt = 0x636f6c6f72617567ULL;

std::string fmt_double(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

struct ResumeState {
  int64_t step = 0;
  data::LoaderState loader;
  uint64_t dropout_seed = 0, dropout_offset = 0;
};

std::string state_json(int64_t step, const data::LoaderState& loader, uint64_t dseed,
                       uint64_t doffset) {
  std::ostringstream os;
  os << "{\"step\": " << step << ", \"loader\": " << loader.to_json()
     << ", \"dropout_generator\": {\"seed\": " << dseed << ", \"offset\": " << doffset << "}}\n";
  return os.str();
}

ResumeState read_state_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ENGINE_CHECK(in.good(), "checkpoint state {}: cannot open it", path);
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ENGINE_CHECK(!parser.parse(ss.str()).get(root), "checkpoint state {}: invalid JSON", path);
  ResumeState r;
  simdjson::dom::element loader, gen;
  ENGINE_CHECK(
      !root["step"].get_int64().get(r.step) && !root["loader"].get(loader) &&
          !root["dropout_generator"].get(gen) && !gen["seed"].get_uint64().get(r.dropout_seed) &&
          !gen["offset"].get_uint64().get(r.dropout_offset),
      "checkpoint state {}: expected keys step, loader, dropout_generator.{{seed,offset}}", path);
  r.loader = data::LoaderState::from_json(std::string(simdjson::minify(loader)));
  return r;
}

void write_text_file(const std::string& path, const std::string& text) {
  engine::io::AtomicFile f(path);
  f.write(text);
  f.commit();
}

// CE target i32 [N, H, W]: label values >= C and padding (valid == 0) become the ignore index.
Tensor make_target(const Tensor& labels, const Tensor& valid, int num_classes) {
  Tensor lab = labels.contiguous();
  Tensor val = valid.defined() ? valid.contiguous() : Tensor();
  Tensor target = Tensor::empty(lab.shape(), engine::DType::i32);
  const uint8_t* l = lab.data<uint8_t>();
  const uint8_t* v = val.defined() ? val.data<uint8_t>() : nullptr;
  int32_t* t = target.data<int32_t>();
  const int64_t n = lab.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const bool ignore = l[i] >= num_classes || (v != nullptr && v[i] == 0);
    t[i] = ignore ? 255 : int32_t(l[i]);
  }
  return target;
}

// Fraction of non-ignored pixels whose predicted class (i64 [N, H, W], CPU) equals the target
// (i32 [N, H, W], CPU); NaN when every pixel is ignored.
double pixel_accuracy(const Tensor& predicted, const Tensor& target) {
  Tensor pred = predicted.contiguous();
  const int64_t n = target.numel();
  const int64_t* p = pred.data<int64_t>();
  const int32_t* t = target.data<int32_t>();
  int64_t counted = 0, correct = 0;
#pragma omp parallel for schedule(static) reduction(+ : counted, correct) if (n > 16384)
  for (int64_t i = 0; i < n; ++i) {
    if (t[i] == 255) continue;
    ++counted;
    correct += p[i] == t[i];
  }
  return counted == 0 ? std::nan("") : double(correct) / double(counted);
}

// The training set: the images of c.split with the pseudo-labels of c.labels (absolute) as the
// training label. Values >= C become unlabeled (§5.2).
std::shared_ptr<const data::Dataset> make_classifier_dataset(const ClassifierConfig& c) {
  const std::string root = fs::canonical(c.data_root).string();
  if (c.dataset == "densepose") {
    const std::string list = (fs::path(root) / "lists" / (c.split + ".txt")).string();
    ENGINE_CHECK(fs::is_regular_file(list),
                 "train_classifier: DensePose list '{}' not found (expected ROOT/lists/<split>.txt "
                 "as written by convert_densepose)",
                 list);
    return std::make_shared<const data::DensePoseDataset>(root, list, true, "", c.labels);
  }
  // The VOC dataset reads a weak label directory relative to ROOT: express the (absolute)
  // pseudo-label directory that way. Both are canonical, so ".." steps resolve as written.
  data::VocConfig vc;
  vc.root = root;
  vc.split = c.split;
  vc.supervision = data::Supervision::scribble;  // "read label_dir as the training label"
  vc.label_dir = fs::relative(fs::canonical(c.labels), root).string();
  vc.map_unlabeled_values = true;  // §5.2: values >= C are ignored
  vc.region_dir = "";              // the classifier does not use regions
  return std::make_shared<const data::VocDataset>(vc);
}

}  // namespace

std::string resolve_label_dir(const std::string& data_root, const std::string& labels) {
  ENGINE_CHECK(!labels.empty(), "train_classifier: the pseudo-label directory (--labels) is empty");
  const fs::path p(labels);
  if (p.is_absolute()) {
    ENGINE_CHECK(fs::is_directory(p),
                 "train_classifier: pseudo-label directory '{}' does not exist", labels);
    return fs::canonical(p).string();
  }
  const fs::path under_root = fs::path(data_root) / p;
  if (fs::is_directory(under_root)) return fs::canonical(under_root).string();
  ENGINE_CHECK(fs::is_directory(p),
               "train_classifier: pseudo-label directory '{}' found neither under the data root "
               "('{}') nor relative to the working directory ('{}')",
               labels, under_root.string(), fs::absolute(p).string());
  return fs::canonical(p).string();
}

ClassifierOutcome train_classifier(const ClassifierConfig& given) {
  ClassifierConfig c = given;
  std::string run_dir = c.run_dir;
  if (!c.resume.empty()) {
    // The run's own settings win, so that the continuation is the same run.
    ClassifierConfig stored;
    apply_json_file(stored, c.resume + "/config.json");
    stored.stop_after = c.stop_after;
    stored.progress = c.progress;
    stored.threads = c.threads;
    stored.device = c.device;
    stored.resume = c.resume;
    c = stored;
    run_dir = c.resume;
  }
  validate(c);
  if (c.threads > 0) omp_set_num_threads(int(c.threads));
  // Before any folder is written: a missing device must not leave a half-made run behind.
  const engine::Device device = choose_device(c.device, "train_classifier");

  ResumeState resume;
  Stage1 net;
  std::optional<RunFolder> folder;
  if (!c.resume.empty()) {
    folder.emplace(run_dir);
    resume.step = folder->latest_checkpoint();
    resume = read_state_json(folder->state_json_path(resume.step));
    folder->truncate_metrics(resume.step);
    // The classifier run's own checkpoint holds the (frozen) embedding network too.
    net = load_stage1(run_dir, resume.step);
    // Runs from before the dataset key was stored were VOC runs; network.json says which.
    if (c.dataset.empty()) c.dataset = net.config.dataset;
  } else {
    ENGINE_CHECK(fs::is_directory(c.run),
                 "train_classifier: stage-1 run folder '{}' does not exist", c.run);
    ENGINE_CHECK(!fs::exists(run_dir) || !fs::equivalent(run_dir, c.run),
                 "train_classifier: the run folder '{}' is the stage-1 run itself; give a new "
                 "--run-dir",
                 run_dir);
    net = load_stage1(c.run, c.run_step);
    if (c.data_root.empty()) c.data_root = net.config.data_root;
    if (c.dataset.empty()) c.dataset = net.config.dataset;
    ENGINE_CHECK(fs::is_directory(c.data_root),
                 "train_classifier: data root '{}' does not exist (from {})", c.data_root,
                 given.data_root.empty() ? "the stage-1 run's config.json" : "--data-root");
    c.data_root = fs::canonical(c.data_root).string();
    c.labels = resolve_label_dir(c.data_root, c.labels);
    folder.emplace(run_dir);
    ClassifierConfig to_store = c;
    to_store.run_dir = run_dir;
    folder->write_config(to_json(to_store));
    write_text_file(run_dir + "/network.json", to_json(net.config));
  }
  // Frozen: running BN statistics, and no parameter is a graph leaf that wants a gradient.
  net.model->eval();
  net.model->set_requires_grad(false);

  auto dataset = make_classifier_dataset(c);
  const int num_classes = dataset->num_classes();
  ENGINE_CHECK(num_classes == net.num_classes,
               "train_classifier: the dataset '{}' has {} classes but the stage-1 network's "
               "classifier ({}) predicts {}",
               c.data_root, num_classes, net.weights_path, net.num_classes);
  ENGINE_CHECK(dataset->size() >= c.batch_size, "{}: {} images, fewer than one batch of {}",
               dataset->describe(), dataset->size(), c.batch_size);

  models::SoftmaxClassifier classifier(net.config.embedding_dim, num_classes, c.dropout,
                                       c.seed + 2);
  // Before the optimizer and any resume: later loads copy into the device storage in place.
  net.model->to(device);
  classifier.to(device);
  models::SpmlParamGroupsOptions po;
  po.weight_decay = c.weight_decay;
  po.momentum = c.momentum;
  po.trainable_backbone_prefixes = {};
  po.head_prefixes = {"semantic_classifier."};
  auto groups = models::spml_param_groups(classifier, po);
  for (auto& g : groups) {
    if (g.name == "head_weight") g.lr_scale = c.head_lr_mult;
    if (g.name == "head_bias") g.lr_scale = 2 * c.head_lr_mult;
  }
  engine::optim::SGD sgd(groups, c.lr);
  engine::optim::PolyLR schedule(
      {c.lr, c.iterations, c.poly_power, c.warmup_iters, c.warmup_start_factor});

  data::LoaderConfig lc;
  lc.batch_size = c.batch_size;
  lc.threads = int(c.loader_threads);
  lc.seed = c.seed;
  data::AugmentConfig aug;
  aug.crop = int(c.crop);
  aug.scale_min = float(c.scale_min);
  aug.scale_max = float(c.scale_max);
  aug.flip = c.flip;
  // A flipped person's left parts become right parts (spec §5.1), as in stage 1.
  if (c.dataset == "densepose") aug.flip_classes = data::densepose_flip_classes();
  lc.augment = aug;
  data::ColorAugmentConfig color;
  color.grayscale_p = c.grayscale_p;
  color.blur_p = c.blur_p;
  color.blur_sigma_min = c.blur_sigma_min;
  color.blur_sigma_max = c.blur_sigma_max;
  const uint64_t color_seed = c.seed ^ kColorSeedSalt;

  std::unique_ptr<data::Loader> loader;
  if (!c.resume.empty()) {
    auto model_file = engine::io::load_safetensors(folder->model_path(resume.step));
    models::LoadOptions lo;
    lo.ignore_unexpected_prefixes = {"backbone.", "aspp.", "pspp."};
    models::load_weights(classifier, model_file, lo);
    auto state = engine::io::load_safetensors(folder->state_tensors_path(resume.step));
    std::vector<std::pair<std::string, Tensor>> optim;
    for (auto& [name, t] : state.tensors)
      if (name.rfind("optim.", 0) == 0) optim.emplace_back(name.substr(6), t);
    sgd.load_state(optim);
    classifier.dropout().generator().set_state(resume.dropout_seed, resume.dropout_offset);
    loader = std::make_unique<data::Loader>(dataset, lc, resume.loader);
  } else {
    loader = std::make_unique<data::Loader>(dataset, lc);
  }

  ClassifierOutcome outcome;
  outcome.steps_done = resume.step;
  std::string last_checkpoint = resume.step > 0 ? folder->model_path(resume.step) : std::string();

  auto checkpoint = [&](int64_t step) {
    engine::io::NamedTensors weights = net.model->state_dict();
    for (auto& kv : classifier.state_dict()) weights.push_back(kv);
    engine::io::NamedTensors state;
    for (auto& [name, t] : sgd.state()) state.emplace_back("optim." + name, t);
    auto& gen = classifier.dropout().generator();
    folder->save_checkpoint(step, weights, state,
                            state_json(step, loader->state(), gen.seed(), gen.offset()),
                            c.keep_checkpoints);
    last_checkpoint = folder->model_path(step);
  };

  install_stop_handler();
  std::optional<engine::ProgressBar> bar;
  if (c.progress) bar.emplace("train classifier", c.iterations - resume.step, "step");
  classifier.train();
  int64_t run_steps = 0;
  for (int64_t it = resume.step; it < c.iterations; ++it) {
    if (stop_requested() || (c.stop_after > 0 && run_steps >= c.stop_after)) {
      if (last_checkpoint != folder->model_path(outcome.steps_done)) checkpoint(outcome.steps_done);
      outcome.interrupted = true;
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<data::Batch> batch = loader->next();
    ENGINE_CHECK(batch.has_value(), "train_classifier: the loader ended unexpectedly at step {}",
                 it + 1);
    const double lr = schedule(it);
    sgd.set_lr(lr);

    Tensor images =
        data::color_augment_batch(batch->images, color, color_seed, batch->epoch, batch->indices);
    Tensor embedding;
    {
      engine::autograd::NoGradGuard no_grad;
      embedding = net.model->forward(data::normalize_images(images).to(device)).embedding;
    }
    Tensor logits = classifier.forward(embedding);
    const int64_t H = batch->labels.size(1), W = batch->labels.size(2);
    Tensor up = engine::resize_bilinear(logits, H, W, /*align_corners=*/false);
    Tensor target = make_target(batch->labels, batch->valid, num_classes);
    Tensor loss_t = engine::cross_entropy(up, target.to(device), 255, engine::Reduction::mean);
    const double loss = loss_t.item();
    ENGINE_CHECK(std::isfinite(loss),
                 "train_classifier: the loss is {} at step {}; stopping. Last good checkpoint: {}",
                 loss, it + 1, last_checkpoint.empty() ? std::string("none") : last_checkpoint);
    sgd.zero_grad();
    loss_t.backward();
    sgd.step();
    const double accuracy =
        pixel_accuracy(engine::argmax(up.detach(), -1).to(engine::Device::cpu()), target);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    ClassifierStepLog s;
    s.step = it + 1;
    s.loss = loss;
    s.pixel_accuracy = accuracy;
    s.lr = lr;
    s.images_per_s = double(c.batch_size) / std::max(secs, 1e-9);
    outcome.log.push_back(s);
    MemoryUse mem = memory_use();
    std::ostringstream line;
    line << "{\"step\": " << s.step << ", \"loss\": " << fmt_double(s.loss)
         << ", \"pixel_accuracy\": " << fmt_double(s.pixel_accuracy)
         << ", \"lr\": " << fmt_double(s.lr) << ", \"images_per_s\": " << fmt_double(s.images_per_s)
         << ", \"cpu_rss_bytes\": " << mem.rss << ", \"cpu_peak_rss_bytes\": " << mem.peak_rss
         << gpu_memory_fields(device) << "}";
    folder->append_metrics(line.str());
    outcome.steps_done = s.step;
    ++run_steps;
    if (bar) {
      bar->set_postfix("loss " + fmt_double(loss) + " acc " + fmt_double(accuracy));
      bar->advance();
    }
    if (s.step % c.checkpoint_every == 0 || s.step == c.iterations) checkpoint(s.step);
  }
  if (bar) bar->finish();
  outcome.last_checkpoint = last_checkpoint;
  return outcome;
}

}  // namespace apps
