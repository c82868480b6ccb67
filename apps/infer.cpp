// infer: runs an SPML embedding model (models/embedding_model.h), optionally with its softmax
// classifier, on images, and writes embeddings / logits as .npy and predictions as palette PNGs.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/device_choice.h"
#include "data/image_io.h"
#include "data/list_file.h"
#include "data/npy.h"
#include "data/transforms.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/reduce.h"
#include "engine/ops/resize.h"
#include "engine/progress.h"
#include "models/embedding_model.h"
#include "models/weights.h"

namespace {

namespace fs = std::filesystem;

struct Input {
  std::string id;
  std::string path;
};

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::array<int64_t, 4> parse_blocks(const std::string& text) {
  std::array<int64_t, 4> b{};
  std::stringstream ss(text);
  std::string item;
  int k = 0;
  while (std::getline(ss, item, ',')) {
    ENGINE_CHECK(k < 4, "--blocks '{}': expected 4 comma-separated counts", text);
    try {
      b[size_t(k)] = std::stoll(item);
    } catch (const std::exception&) {
      ENGINE_THROW("--blocks '{}': '{}' is not a number", text, item);
    }
    ENGINE_CHECK(b[size_t(k)] >= 1, "--blocks '{}': counts must be >= 1", text);
    ++k;
  }
  ENGINE_CHECK(k == 4, "--blocks '{}': expected 4 comma-separated counts, got {}", text, k);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root, split, image_dir = "JPEGImages", images_dir, out_dir, weights, arch = "deeplab",
                           stem = "deep", blocks = "3,4,23,3";
  std::string device = "cpu";
  std::vector<std::string> files;
  int64_t width = 64, embedding_dim = 0, psp_width = 512, num_classes = 0, size = 0;
  int output_stride = 8;
  bool spml_names = false, save_embedding = false, save_logits = false, no_strict = false,
       quiet = false;
  CLI::App app{
      "Runs a trained SPML embedding network on images and writes what it computes:\n"
      "  OUT/<id>.png            predicted class ids as a palette PNG (needs --num-classes:\n"
      "                          the softmax classifier on top of the embedding), at the\n"
      "                          image's size; readable by eval_miou\n"
      "  OUT/<id>.logits.npy     --save-logits: classifier logits, float32 [H, W, C]\n"
      "  OUT/<id>.embedding.npy  --save-embedding: unit-length pixel embeddings, float32\n"
      "                          [h, w, D] at the network's output stride (4 at OS8)\n"
      "(.npy files open with numpy.load.)\n\n"
      "Images: files on the command line, --images DIR (every .jpg/.jpeg/.png), or\n"
      "--root ROOT --split S (ROOT/JPEGImages/<id>.jpg for the ids of\n"
      "ROOT/ImageSets/Segmentation/S.txt).\n\n"
      "Weights: --weights FILE.safetensors holding the embedding model (backbone.*, aspp.* or\n"
      "pspp.*) and, with --num-classes, the classifier (semantic_classifier.*). Files converted\n"
      "from the SPML reference (resnet_backbone.*) need --spml-names. The architecture flags\n"
      "must match the weights; a mismatch is an error naming the tensor and both shapes.\n\n"
      "Example: infer --weights runs/a/model.safetensors --num-classes 21 --root data/voc\n"
      "         --split val --out runs/a/pred",
      "infer"};
  app.add_option("files", files, "Image files");
  app.add_option("--images", images_dir, "A folder of images");
  app.add_option("--root", root, "Dataset root in the VOC layout");
  app.add_option("--split", split, "List under ROOT/ImageSets/Segmentation (without .txt)");
  app.add_option("--image-dir", image_dir, "Image folder under ROOT")->capture_default_str();
  app.add_option("--out", out_dir, "Output folder (created if missing)")->required();
  app.add_option("--weights", weights, "Model weights (.safetensors)")->required();
  app.add_flag("--spml-names", spml_names, "Rename SPML reference names (resnet_backbone.*)");
  app.add_flag("--no-strict", no_strict, "Allow names missing from or unknown to the model");
  app.add_option("--arch", arch, "Head: deeplab (ASPP, VOC) or pspnet (pyramid pooling)")
      ->capture_default_str()
      ->check(CLI::IsMember({"deeplab", "pspnet"}));
  app.add_option("--stem", stem, "ResNet stem: deep (SPML) or torchvision")
      ->capture_default_str()
      ->check(CLI::IsMember({"deep", "torchvision"}));
  app.add_option("--blocks", blocks, "Bottleneck blocks per stage (3,4,6,3 = ResNet-50)")
      ->capture_default_str();
  app.add_option("--width", width, "ResNet base width")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(4096)));
  app.add_option("--output-stride", output_stride, "8, 16 or 32")
      ->capture_default_str()
      ->check(CLI::IsMember({8, 16, 32}));
  app.add_option("--embedding-dim", embedding_dim, "D (default 64 for deeplab, 32 for pspnet)");
  app.add_option("--psp-width", psp_width, "Pyramid pooling width (pspnet)")->capture_default_str();
  app.add_option("--num-classes", num_classes,
                 "Classes of the softmax classifier (0: no classifier, embeddings only)")
      ->check(CLI::Range(int64_t(0), int64_t(255)));
  app.add_option("--size", size,
                 "Resize so the longer side is this many pixels before the network (0: as is); "
                 "outputs come back at the image's size")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--save-embedding", save_embedding, "Write <id>.embedding.npy");
  app.add_flag("--save-logits", save_logits, "Write <id>.logits.npy (needs --num-classes)");
  app.add_option("--device", device, "Where the network runs: cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "No progress bar");
  CLI11_PARSE(app, argc, argv);

  try {
    ENGINE_CHECK(num_classes > 0 || save_embedding,
                 "nothing to write: give --num-classes (predictions) or --save-embedding");
    ENGINE_CHECK(!save_logits || num_classes > 0, "--save-logits needs --num-classes");
    const engine::Device dev = apps::choose_device(device, "infer");

    // --- inputs ---
    std::vector<Input> inputs;
    for (const std::string& f : files) inputs.push_back({fs::path(f).stem().string(), f});
    if (!images_dir.empty()) {
      ENGINE_CHECK(fs::is_directory(images_dir), "--images '{}' is not a folder", images_dir);
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(images_dir))
        if (e.is_regular_file() && is_image(e.path())) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      ENGINE_CHECK(!found.empty(), "no .jpg/.jpeg/.png images in '{}'", images_dir);
      for (const fs::path& p : found) inputs.push_back({p.stem().string(), p.string()});
    }
    if (!root.empty() || !split.empty()) {
      ENGINE_CHECK(!root.empty() && !split.empty(), "--root and --split go together");
      const std::string list =
          (fs::path(root) / "ImageSets" / "Segmentation" / (split + ".txt")).string();
      for (const data::ListEntry& e : data::read_list_file(list))
        inputs.push_back({e.id, (fs::path(root) / image_dir / (e.id + ".jpg")).string()});
    }
    ENGINE_CHECK(!inputs.empty(), "no images: give files, --images or --root/--split (see --help)");
    for (const Input& in : inputs)
      ENGINE_CHECK(fs::is_regular_file(in.path), "image '{}' does not exist", in.path);

    // --- model ---
    models::EmbeddingModelConfig cfg;
    cfg.backbone.blocks = parse_blocks(blocks);
    cfg.backbone.stem = stem == "deep" ? models::Stem::deep : models::Stem::torchvision;
    cfg.backbone.output_stride = output_stride;
    cfg.backbone.width = width;
    cfg.backbone.random_init = false;  // everything is loaded below
    cfg.head = arch == "deeplab" ? models::HeadKind::deeplab_v2_aspp : models::HeadKind::pspnet_ppm;
    cfg.embedding_dim = embedding_dim > 0 ? embedding_dim : (arch == "deeplab" ? 64 : 32);
    cfg.psp_width = psp_width;
    cfg.random_init = false;
    models::EmbeddingModel model(cfg);
    std::unique_ptr<models::SoftmaxClassifier> classifier;
    if (num_classes > 0)
      classifier =
          std::make_unique<models::SoftmaxClassifier>(cfg.embedding_dim, num_classes, 0.65, 1);

    const engine::io::SafetensorsFile file = engine::io::load_safetensors(weights);
    models::LoadOptions opt;
    opt.strict = !no_strict;
    if (spml_names) opt.renames = models::spml_checkpoint_renames();
    opt.ignore_unexpected_prefixes = {"semantic_classifier."};
    models::LoadReport report = models::load_weights(model, file, opt);
    if (classifier) {
      models::LoadOptions copt = opt;
      copt.ignore_unexpected_prefixes = {"backbone.", "aspp.", "pspp.", "resnet_backbone.",
                                         "module."};
      copt.renames.clear();
      models::LoadReport cr = models::load_weights(*classifier, file, copt);
      ENGINE_CHECK(!cr.loaded.empty(),
                   "--num-classes {} asks for a classifier but '{}' has no semantic_classifier.* "
                   "tensors",
                   num_classes, weights);
    }
    model.eval();
    if (classifier) classifier->eval();
    model.to(dev);
    if (classifier) classifier->to(dev);
    if (!quiet) std::fprintf(stderr, "weights: %s\n", report.summary().c_str());

    std::error_code ec;
    fs::create_directories(out_dir, ec);
    ENGINE_CHECK(!ec, "cannot create the output folder '{}': {}", out_dir, ec.message());

    // --- run ---
    engine::autograd::NoGradGuard no_grad;
    std::unique_ptr<engine::ProgressBar> bar;
    if (!quiet) bar = std::make_unique<engine::ProgressBar>("infer", int64_t(inputs.size()), "img");
    for (const Input& in : inputs) {
      engine::Tensor rgb = data::read_image(in.path);
      const int64_t h = rgb.size(0), w = rgb.size(1);
      engine::Tensor x = data::normalize_images(rgb.unsqueeze(0));
      if (size > 0 && std::max(h, w) != size) {
        const double s = double(size) / double(std::max(h, w));
        x = engine::resize_bilinear(x, std::max<int64_t>(1, std::llround(double(h) * s)),
                                    std::max<int64_t>(1, std::llround(double(w) * s)), false);
      }
      models::EmbeddingOutput y = model.forward(x.to(dev));
      const fs::path base = fs::path(out_dir) / in.id;
      if (save_embedding)
        data::write_npy(base.string() + ".embedding.npy",
                        y.embedding.to(engine::Device::cpu()).select(0, 0));
      if (classifier) {
        engine::Tensor logits = classifier->forward(y.embedding);
        logits = engine::resize_bilinear(logits, h, w, false).to(engine::Device::cpu());
        if (save_logits) data::write_npy(base.string() + ".logits.npy", logits.select(0, 0));
        engine::Tensor pred = engine::argmax(logits, -1).select(0, 0).to(engine::DType::u8);
        data::write_label_png(base.string() + ".png", pred);
      }
      if (bar) bar->advance();
    }
    if (bar) bar->finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infer: %s\n", e.what());
    return 1;
  }
  return 0;
}
