#include "apps/common/train_loop.h"

#include <omp.h>

#include <simdjson.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "apps/common/device_choice.h"
#include "apps/common/run_folder.h"
#include "apps/common/signals.h"
#include "apps/common/spml_step.h"
#include "apps/common/stage1_model.h"
#include "data/densepose.h"
#include "data/loader.h"
#include "data/overseg.h"
#include "data/transforms.h"
#include "data/voc.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/log.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/sgd.h"
#include "engine/progress.h"
#include "models/embedding_model.h"
#include "models/weights.h"
#include "spml/train_step.h"

namespace apps {

using engine::Tensor;

namespace {

std::string fmt_double(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

double scalar_or_nan(const Tensor& t) {
  return t.defined() ? t.item() : std::nan("");
}

// Regions for batches of datasets without region maps: the built-in over-segmentation of each
// cropped image (padding pixels are excluded by `valid` anyway).
Tensor oversegment_batch(const Tensor& images) {
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2);
  Tensor out = Tensor::empty({n, h, w}, engine::DType::i32);
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < n; ++i) {
    Tensor r = data::oversegment(images.select(0, i).contiguous());
    std::copy_n(r.data<int32_t>(), h * w, out.data<int32_t>() + i * h * w);
  }
  return out;
}

// The training set of `c`: VOC layout with the weak labels of c.supervision, or the DensePose
// layout with point labels (supervision point) or dense part maps (full). Region maps come from
// ROOT/region_dir when that directory exists; otherwise batches get the built-in
// over-segmentation in the loop.
std::shared_ptr<const data::Dataset> make_train_dataset(const TrainConfig& c) {
  if (c.dataset == "densepose") {
    const std::filesystem::path root(c.data_root);
    ENGINE_CHECK(std::filesystem::is_directory(root),
                 "train: DensePose data root '{}' is not a directory", c.data_root);
    const std::string list = (root / "lists" / (c.split + ".txt")).string();
    ENGINE_CHECK(std::filesystem::is_regular_file(list),
                 "train: DensePose list '{}' not found (expected ROOT/lists/<split>.txt as "
                 "written by apps/convert_densepose)",
                 list);
    const bool have_regions =
        !c.region_dir.empty() && std::filesystem::is_directory(root / c.region_dir);
    if (!have_regions)
      engine::log::info(
          "train: no region maps (region_dir '{}' under {}); using the built-in "
          "over-segmentation",
          c.region_dir, c.data_root);
    return std::make_shared<const data::DensePoseDataset>(
        c.data_root, list, c.supervision == "point", have_regions ? c.region_dir : "");
  }
  data::VocConfig vc;
  vc.root = c.data_root;
  vc.split = c.split;
  vc.supervision = data::parse_supervision(c.supervision);
  vc.label_dir = c.label_dir;
  vc.region_dir = c.region_dir;
  return std::make_shared<const data::VocDataset>(vc);
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
  int64_t step = 0;
  simdjson::dom::element loader, gen;
  uint64_t seed = 0, offset = 0;
  ENGINE_CHECK(!root["step"].get_int64().get(step) && !root["loader"].get(loader) &&
                   !root["dropout_generator"].get(gen) && !gen["seed"].get_uint64().get(seed) &&
                   !gen["offset"].get_uint64().get(offset),
               "checkpoint state {}: expected keys step, loader, dropout_generator.{{seed,offset}}",
               path);
  r.step = step;
  r.loader = data::LoaderState::from_json(std::string(simdjson::minify(loader)));
  r.dropout_seed = seed;
  r.dropout_offset = offset;
  return r;
}

}  // namespace

TrainOutcome train_spml(const TrainConfig& given) {
  TrainConfig c = given;
  std::string run_dir = c.run_dir;
  if (!c.resume.empty()) {
    // The run's own settings win, so that the continuation is the same run.
    TrainConfig stored;
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
  const engine::Device device = choose_device(c.device, "train");
  if (c.threads > 0) omp_set_num_threads(int(c.threads));

  RunFolder folder(run_dir);
  ResumeState resume;
  if (!c.resume.empty()) {
    resume.step = folder.latest_checkpoint();
    resume = read_state_json(folder.state_json_path(resume.step));
    folder.truncate_metrics(resume.step);
  } else {
    TrainConfig to_store = c;
    to_store.run_dir = run_dir;
    folder.write_config(to_json(to_store));
  }

  std::shared_ptr<const data::Dataset> dataset = make_train_dataset(c);
  const int num_classes = dataset->num_classes();

  spml::LossConfig loss = spml::loss_preset(resolved_preset(c));
  loss.num_classes = num_classes;
  spml::SpmlObjective objective(loss);

  auto model = build_embedding_model(c);
  models::SoftmaxClassifier classifier(c.embedding_dim, num_classes, c.classifier_dropout,
                                       c.seed + 2);
  if (!c.init.empty() && c.resume.empty()) {
    models::LoadOptions lo;
    lo.strict = false;
    auto report = models::load_weights(*model, c.init, lo);
    engine::log::info("init weights {}: {}", c.init, report.summary());
  }
  // Before the optimizer and any resume: later loads copy into the device storage in place.
  model->to(device);
  classifier.to(device);

  models::SpmlParamGroupsOptions po;
  po.weight_decay = c.weight_decay;
  po.momentum = c.momentum;
  if (!c.freeze_stem_layer1) po.trainable_backbone_prefixes = {"backbone."};
  auto groups = models::spml_param_groups(*model, po);
  for (auto& g : models::spml_param_groups(classifier, po)) {
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.name == g.name; });
    if (it == groups.end()) {
      groups.push_back(g);
    } else {
      it->params.insert(it->params.end(), g.params.begin(), g.params.end());
      it->param_names.insert(it->param_names.end(), g.param_names.begin(), g.param_names.end());
    }
  }
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
  // A flipped person's left parts become right parts (spec §5.1).
  if (c.dataset == "densepose") aug.flip_classes = data::densepose_flip_classes();
  lc.augment = aug;
  ENGINE_CHECK(dataset->size() >= c.batch_size, "{}: {} images, fewer than one batch of {}",
               dataset->describe(), dataset->size(), c.batch_size);

  std::unique_ptr<data::Loader> loader;
  if (!c.resume.empty()) {
    const int64_t s = resume.step;
    auto model_file = engine::io::load_safetensors(folder.model_path(s));
    models::LoadOptions lo;
    lo.ignore_unexpected_prefixes = {"semantic_classifier."};
    models::load_weights(*model, model_file, lo);
    models::LoadOptions lc2;
    lc2.ignore_unexpected_prefixes = {"backbone.", "aspp.", "pspp."};
    models::load_weights(classifier, model_file, lc2);
    auto state = engine::io::load_safetensors(folder.state_tensors_path(s));
    std::vector<std::pair<std::string, Tensor>> optim;
    std::map<std::string, Tensor> memory;
    for (auto& [name, t] : state.tensors) {
      if (name.rfind("optim.", 0) == 0) optim.emplace_back(name.substr(6), t);
      if (name.rfind("memory.", 0) == 0) memory.emplace(name, t);
    }
    sgd.load_state(optim);
    objective.memory().load_state(memory, device);
    classifier.dropout().generator().set_state(resume.dropout_seed, resume.dropout_offset);
    loader = std::make_unique<data::Loader>(dataset, lc, resume.loader);
  } else {
    loader = std::make_unique<data::Loader>(dataset, lc);
  }

  TrainOutcome outcome;
  outcome.steps_done = resume.step;
  std::string last_checkpoint = resume.step > 0 ? folder.model_path(resume.step) : std::string();

  auto checkpoint = [&](int64_t step) {
    engine::io::NamedTensors weights = model->state_dict();
    for (auto& kv : classifier.state_dict()) weights.push_back(kv);
    engine::io::NamedTensors state;
    for (auto& [name, t] : sgd.state()) state.emplace_back("optim." + name, t);
    for (auto& [name, t] : objective.memory().state()) state.emplace_back(name, t);
    auto& gen = classifier.dropout().generator();
    folder.save_checkpoint(step, weights, state,
                           state_json(step, loader->state(), gen.seed(), gen.offset()),
                           c.keep_checkpoints);
    last_checkpoint = folder.model_path(step);
  };

  install_stop_handler();
  std::optional<engine::ProgressBar> bar;
  if (c.progress) bar.emplace("train " + resolved_preset(c), c.iterations - resume.step, "step");
  model->train();
  classifier.train();
  int64_t run_steps = 0;
  for (int64_t it = resume.step; it < c.iterations; ++it) {
    if (stop_requested() || (c.stop_after > 0 && run_steps >= c.stop_after)) {
      if (outcome.steps_done != resume.step || last_checkpoint.empty() ||
          last_checkpoint != folder.model_path(outcome.steps_done))
        checkpoint(outcome.steps_done);
      outcome.interrupted = true;
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<data::Batch> batch = loader->next();
    ENGINE_CHECK(batch.has_value(), "train: the loader ended unexpectedly at step {}", it);
    const double lr = schedule(it);
    sgd.set_lr(lr);

    // Labels, valid masks and regions stay on the CPU: segments are formed there.
    Tensor images = data::normalize_images(batch->images).to(device);
    spml::ObjectiveInputs in;
    in.labels = batch->labels;
    in.valid = batch->valid;
    in.regions = batch->regions.defined() ? batch->regions : oversegment_batch(batch->images);
    std::vector<int64_t> tags = batch->tags.to_vector<int64_t>();
    in.tags.assign(tags.begin(), tags.end());
    sgd.zero_grad();
    spml::ObjectiveResult res = spml_forward_backward(*model, classifier, objective, images,
                                                      std::move(in), c.micro_batches);

    // Checked before the optimizer applies anything, so the weights stay those of the last step.
    const double total = res.total.item();
    ENGINE_CHECK(std::isfinite(total),
                 "train: the loss is {} at step {}; stopping. Last good checkpoint: {}", total,
                 it + 1, last_checkpoint.empty() ? std::string("none") : last_checkpoint);
    sgd.step();
    objective.commit();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    StepLog s;
    s.step = it + 1;
    s.total = total;
    s.sem_ann = scalar_or_nan(res.terms.sem_ann);
    s.sem_occ = scalar_or_nan(res.terms.sem_occ);
    s.img_sim = scalar_or_nan(res.terms.img_sim);
    s.feat_aff = scalar_or_nan(res.terms.feat_aff);
    s.ce = scalar_or_nan(res.ce);
    s.lr = lr;
    s.images_per_s = double(c.batch_size) / std::max(secs, 1e-9);
    s.segments = res.num_segments;
    s.memory_segments = res.num_memory_segments;
    outcome.log.push_back(s);
    MemoryUse mem = memory_use();
    std::ostringstream line;
    line << "{\"step\": " << s.step << ", \"total\": " << fmt_double(s.total)
         << ", \"sem_ann\": " << fmt_double(s.sem_ann) << ", \"sem_occ\": " << fmt_double(s.sem_occ)
         << ", \"img_sim\": " << fmt_double(s.img_sim)
         << ", \"feat_aff\": " << fmt_double(s.feat_aff) << ", \"ce\": " << fmt_double(s.ce)
         << ", \"lr\": " << fmt_double(s.lr) << ", \"images_per_s\": " << fmt_double(s.images_per_s)
         << ", \"segments\": " << s.segments << ", \"memory_segments\": " << s.memory_segments
         << ", \"cpu_rss_bytes\": " << mem.rss << ", \"cpu_peak_rss_bytes\": " << mem.peak_rss
         << gpu_memory_fields(device) << "}";
    folder.append_metrics(line.str());
    outcome.steps_done = s.step;
    ++run_steps;
    if (bar) {
      bar->set_postfix("loss " + fmt_double(total));
      bar->advance();
    }
    if (s.step % c.checkpoint_every == 0 || s.step == c.iterations) checkpoint(s.step);
  }
  if (bar) bar->finish();
  outcome.last_checkpoint = last_checkpoint;
  return outcome;
}

}  // namespace apps
