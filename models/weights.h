// Loading and saving module weights as safetensors, by dotted name.
//
// Convolution layout. This engine's conv weights are OHWI ([O, KH, KW, I]); PyTorch's are OIHW.
// A 4-D tensor in the file is read as:
//   - the file's "layout" metadata ("OIHW" or "OHWI") when present: it decides for every 4-D
//     tensor (save_weights writes "OHWI"; tools/convert_weights.py writes "OIHW");
//   - otherwise by shape: [O, I, KH, KW] is permuted to OHWI once, [O, KH, KW, I] is taken as it
//     is; when both match (e.g. a 3x3 conv on 3 input channels: [64, 3, 3, 3]) the file is
//     taken to be LoadOptions::default_layout, OIHW by default, since layout-less files are
//     imports from PyTorch.
// Other tensors must match the module's shape exactly; dtypes are converted to the module's.
//
// BatchNorm's num_batches_tracked entries in files are ignored (listed in LoadReport::ignored).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "layers/module.h"

namespace models {

// Replaces a leading `from` of a file tensor's name by `to`.
struct RenameRule {
  std::string from;
  std::string to;
};

struct LoadOptions {
  // true: any missing or unexpected name is an error (listing all of them); nothing is loaded.
  bool strict = true;
  // Module names starting with one of these may be absent from the file even when strict
  // (e.g. {"aspp.", "pspp."} when importing only a backbone).
  std::vector<std::string> allow_missing_prefixes{};
  // File names (after renaming) starting with one of these are skipped even when strict
  // (e.g. {"fc."} when loading an ImageNet checkpoint into a backbone without fc).
  std::vector<std::string> ignore_unexpected_prefixes{};
  // Applied to file names in order; the first rule whose `from` is a prefix of the name wins.
  std::vector<RenameRule> renames{};
  // When the module has a deep stem (conv1.0.weight) and the file uses another deep-stem
  // naming, map it (after `renames`): PSPNet/semseg's conv1, bn1, conv2, bn2, conv3, bn3 and
  // mmsegmentation's stem.0, .1, .3, .4, .6, .7 become conv1.0, conv1.1, conv1.3, conv1.4,
  // conv1.6, bn1.
  bool auto_stem_renames = true;
  // Layout of layout-less 4-D tensors whose shape fits both OIHW and OHWI: "OIHW" or "OHWI".
  std::string default_layout = "OIHW";
};

struct LoadReport {
  std::vector<std::string> loaded;      // module names written
  std::vector<std::string> missing;     // module names the file lacks (allowed ones included)
  std::vector<std::string> unexpected;  // file names (renamed) the module lacks
  std::vector<std::string> ignored;     // file names skipped on purpose (num_batches_tracked,
                                        // ignore_unexpected_prefixes)
  std::vector<std::string> permuted;    // module names loaded from OIHW
  // "loaded 314, missing 0, unexpected 0, ignored 105, permuted from OIHW 104".
  std::string summary() const;
};

// Copies the file's tensors into `module`'s parameters and buffers in place (no gradient
// recorded). Every check runs before anything is written: a failed load leaves the module as it
// was. Errors name the file and list the offending names; a shape mismatch gives the name, the
// expected and the found shape.
LoadReport load_weights(layers::Module& module, const std::string& path,
                        const LoadOptions& options = {});
LoadReport load_weights(layers::Module& module, const engine::io::SafetensorsFile& file,
                        const LoadOptions& options = {});

// Writes module.state_dict() (OHWI conv weights) with metadata {"layout": "OHWI", "format":
// "engine-weights"} plus `metadata`. A save followed by a load is bit-exact.
void save_weights(const layers::Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata = {});

// Renames for SPML checkpoints (the embedding_model state dict) into EmbeddingModel names:
// "module." dropped, resnet_backbone.conv1. -> backbone., resnet_backbone.res2..res5 ->
// backbone.layer1..layer4; heads (aspp., pspp.) keep their names.
std::vector<RenameRule> spml_checkpoint_renames();

}  // namespace models
