#include "models/weights.h"

#include <fmt/format.h>

#include <set>
#include <unordered_map>

#include "engine/autograd.h"

namespace models {
namespace {

bool starts_with(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

bool any_prefix(const std::string& s, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (starts_with(s, p)) return true;
  return false;
}

std::string rename(const std::string& name, const std::vector<RenameRule>& rules) {
  for (const auto& r : rules)
    if (starts_with(name, r.from)) return r.to + name.substr(r.from.size());
  return name;
}

std::string list(const std::vector<std::string>& names, size_t max = 20) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < max; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > max) s += fmt::format(", ... ({} in all)", names.size());
  return s;
}

// Deep-stem namings other than the CUHK one this engine uses (see LoadOptions).
std::vector<RenameRule> stem_rules(const std::set<std::string>& file_names) {
  if (file_names.count("stem.0.weight"))
    return {{"stem.0.", "conv1.0."}, {"stem.1.", "conv1.1."}, {"stem.3.", "conv1.3."},
            {"stem.4.", "conv1.4."}, {"stem.6.", "conv1.6."}, {"stem.7.", "bn1."}};
  if (file_names.count("conv2.weight") && file_names.count("bn3.weight"))
    return {{"conv1.", "conv1.0."}, {"bn1.", "conv1.1."},   {"conv2.", "conv1.3."},
            {"bn2.", "conv1.4."},   {"conv3.", "conv1.6."}, {"bn3.", "bn1."}};
  return {};
}

}  // namespace

std::string LoadReport::summary() const {
  return fmt::format("loaded {}, missing {}, unexpected {}, ignored {}, permuted from OIHW {}",
                     loaded.size(), missing.size(), unexpected.size(), ignored.size(),
                     permuted.size());
}

std::vector<RenameRule> spml_checkpoint_renames() {
  std::vector<RenameRule> r;
  for (std::string m : {"module.", ""}) {
    r.push_back({m + "resnet_backbone.conv1.", "backbone."});
    for (int i = 2; i <= 5; ++i)
      r.push_back({m + "resnet_backbone.res" + std::to_string(i) + ".",
                   "backbone.layer" + std::to_string(i - 1) + "."});
    if (!m.empty()) r.push_back({m, ""});
  }
  return r;
}

LoadReport load_weights(layers::Module& module, const std::string& path,
                        const LoadOptions& options) {
  return load_weights(module, engine::io::load_safetensors(path), options);
}

LoadReport load_weights(layers::Module& module, const engine::io::SafetensorsFile& file,
                        const LoadOptions& options) {
  const std::string& path = file.path;
  ENGINE_CHECK(options.default_layout == "OIHW" || options.default_layout == "OHWI",
               "load_weights: default_layout must be OIHW or OHWI, got '{}'",
               options.default_layout);
  std::string layout;
  if (auto it = file.metadata.find("layout"); it != file.metadata.end()) {
    layout = it->second;
    ENGINE_CHECK(layout == "OIHW" || layout == "OHWI",
                 "load_weights: {}: metadata layout '{}' is neither OIHW nor OHWI", path, layout);
  }

  layers::NamedTensors targets = module.state_dict();
  std::unordered_map<std::string, size_t> target_index;
  for (size_t i = 0; i < targets.size(); ++i) target_index[targets[i].first] = i;

  // File names after the user's renames, then the stem renames when the module has a deep stem.
  std::vector<std::string> names;
  for (const auto& [n, t] : file.tensors) names.push_back(rename(n, options.renames));
  if (options.auto_stem_renames && target_index.count("conv1.0.weight")) {
    std::vector<RenameRule> rules = stem_rules(std::set<std::string>(names.begin(), names.end()));
    for (auto& n : names) n = rename(n, rules);
  }

  LoadReport report;
  std::vector<std::pair<size_t, engine::Tensor>> writes;  // target index, source (OHWI)
  std::vector<bool> seen(targets.size(), false);
  std::vector<std::string> shape_errors;
  for (size_t f = 0; f < file.tensors.size(); ++f) {
    const std::string& name = names[f];
    const engine::Tensor& src = file.tensors[f].second;
    auto it = target_index.find(name);
    if (it == target_index.end()) {
      if (ends_with(name, ".num_batches_tracked") || name == "num_batches_tracked" ||
          any_prefix(name, options.ignore_unexpected_prefixes))
        report.ignored.push_back(name);
      else
        report.unexpected.push_back(name);
      continue;
    }
    ENGINE_CHECK(!seen[it->second],
                 "load_weights: {}: two file tensors map to '{}' (check the rename rules)", path,
                 name);
    seen[it->second] = true;
    const engine::Tensor& dst = targets[it->second].second;
    const engine::Shape& want = dst.shape();
    engine::Tensor value = src;
    bool permuted = false;
    if (want.size() == 4 && src.dim() == 4) {
      engine::Shape oihw{want[0], want[3], want[1], want[2]};
      bool fits_oihw = src.shape() == oihw, fits_ohwi = src.shape() == want;
      std::string use = layout;
      if (use.empty() && fits_oihw && fits_ohwi) use = options.default_layout;
      if (use.empty()) use = fits_oihw ? "OIHW" : "OHWI";
      if (use == "OIHW" && fits_oihw) {
        value = src.permute({0, 2, 3, 1});
        permuted = true;
      } else if (!(use == "OHWI" && fits_ohwi)) {
        shape_errors.push_back(fmt::format("'{}': expected {} (OHWI; {} in OIHW), found {}{}", name,
                                           engine::shape_str(want), engine::shape_str(oihw),
                                           engine::shape_str(src.shape()),
                                           layout.empty() ? "" : " (file layout " + layout + ")"));
        continue;
      }
    } else if (src.shape() != want) {
      shape_errors.push_back(fmt::format("'{}': expected {}, found {}", name,
                                         engine::shape_str(want), engine::shape_str(src.shape())));
      continue;
    }
    if (permuted) report.permuted.push_back(name);
    writes.emplace_back(it->second, value);
  }
  for (size_t i = 0; i < targets.size(); ++i)
    if (!seen[i]) report.missing.push_back(targets[i].first);

  ENGINE_CHECK(shape_errors.empty(), "load_weights: {}: shape mismatch for {} tensor(s): {}", path,
               shape_errors.size(), list(shape_errors, 10));
  if (options.strict) {
    std::vector<std::string> bad_missing;
    for (const auto& n : report.missing)
      if (!any_prefix(n, options.allow_missing_prefixes)) bad_missing.push_back(n);
    ENGINE_CHECK(bad_missing.empty() && report.unexpected.empty(),
                 "load_weights: {} does not match the module (strict): {} missing [{}]; {} "
                 "unexpected [{}]",
                 path, bad_missing.size(), list(bad_missing), report.unexpected.size(),
                 list(report.unexpected));
  }

  engine::autograd::NoGradGuard no_grad;
  for (auto& [index, value] : writes) {
    engine::Tensor dst = targets[index].second;
    dst.copy_(value);
    report.loaded.push_back(targets[index].first);
  }
  return report;
}

void save_weights(const layers::Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta["layout"] = "OHWI";
  meta["format"] = "engine-weights";
  engine::io::save_safetensors(path, module.state_dict(), meta);
}

}  // namespace models
