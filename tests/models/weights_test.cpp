// Weight import/export: bit-exact round trip, strict-mode errors, shape errors, OIHW -> OHWI
// permutation (hand-made values), layout metadata, stem and SPML renames.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "engine/io/safetensors.h"
#include "engine/ops/factory.h"
#include "layers/conv.h"
#include "models/embedding_model.h"
#include "models/resnet.h"
#include "models/weights.h"
#include "tests/support/expect_error.h"

namespace models {
namespace {

using engine::Shape;
using engine::Tensor;

std::string scratch(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(ENGINE_TEST_SCRATCH) / "models_weights";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

ResNetConfig tiny(Stem stem = Stem::torchvision, uint64_t seed = 0) {
  return {.blocks = {1, 1, 2, 1}, .stem = stem, .output_stride = 8, .width = 4, .seed = seed};
}

template <typename T>
std::vector<T> bytes_of(const Tensor& t) {
  return t.contiguous().to_vector<T>();
}

TEST(Weights, SaveLoadIsBitExact) {
  EmbeddingModelConfig c{.backbone = tiny(Stem::deep, 1), .embedding_dim = 8, .seed = 2};
  EmbeddingModel a(c);
  {  // non-trivial running statistics
    engine::Generator gen(3);
    a.forward(engine::randn({2, 17, 19, 3}, gen));
  }
  std::string path = scratch("roundtrip.safetensors");
  save_weights(a, path, {{"note", "test"}});
  auto file = engine::io::load_safetensors(path);
  EXPECT_EQ(file.metadata.at("layout"), "OHWI");
  EXPECT_EQ(file.metadata.at("note"), "test");

  c.backbone.seed = 11;
  c.seed = 12;
  EmbeddingModel b(c);
  LoadReport r = load_weights(b, path);
  EXPECT_TRUE(r.missing.empty() && r.unexpected.empty() && r.permuted.empty());
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  EXPECT_EQ(r.loaded.size(), sa.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_EQ(bytes_of<float>(sa[i].second), bytes_of<float>(sb[i].second)) << sa[i].first;
  }
  // Loading wrote in place: the parameters are the same tensors, still trainable leaves.
  EXPECT_TRUE(b.find_tensor("aspp.aspp_1.0.weight").requires_grad());
}

TEST(Weights, StrictErrorsListMissingAndUnexpected) {
  ResNet m(tiny());
  auto sd = m.state_dict();
  engine::io::NamedTensors partial(sd.begin() + 2, sd.end());  // drops conv1.weight, bn1.weight
  partial.emplace_back("head.extra", engine::zeros({3}));
  std::string path = scratch("partial.safetensors");
  engine::io::save_safetensors(path, partial, {{"layout", "OHWI"}});
  Tensor before = m.find_tensor("bn1.bias").clone();
  engine::testing::expect_error(
      [&] { load_weights(m, path); },
      {"partial.safetensors", "strict", "2 missing [conv1.weight, bn1.weight]",
       "1 unexpected [head.extra]"});
  // Nothing was written by the failed load.
  EXPECT_EQ(bytes_of<float>(before), bytes_of<float>(m.find_tensor("bn1.bias")));

  LoadReport r = load_weights(m, path, {.strict = false});
  EXPECT_EQ(r.missing, (std::vector<std::string>{"conv1.weight", "bn1.weight"}));
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"head.extra"}));
  EXPECT_EQ(r.loaded.size(), sd.size() - 2);

  // Allowed prefixes make the same file acceptable in strict mode.
  r = load_weights(
      m, path,
      {.allow_missing_prefixes = {"conv1.", "bn1."}, .ignore_unexpected_prefixes = {"head."}});
  EXPECT_EQ(r.ignored, (std::vector<std::string>{"head.extra"}));
  EXPECT_NE(r.summary().find("missing 2"), std::string::npos);
}

TEST(Weights, ShapeMismatchNamesTensorAndShapes) {
  ResNet m(tiny());
  auto sd = m.state_dict();
  for (auto& [n, t] : sd) {
    if (n == "bn1.running_var") t = engine::ones({5});
    if (n == "layer1.0.conv2.weight") t = engine::zeros({4, 3, 3, 5});
  }
  std::string path = scratch("badshape.safetensors");
  engine::io::save_safetensors(path, sd, {{"layout", "OHWI"}});
  engine::testing::expect_error(
      [&] { load_weights(m, path); },
      {"shape mismatch for 2 tensor(s)", "'bn1.running_var': expected [4], found [5]",
       "'layer1.0.conv2.weight': expected [4, 3, 3, 4] (OHWI; [4, 4, 3, 3] in OIHW), found "
       "[4, 3, 3, 5] (file layout OHWI)"});
}

// A module holding one conv, to check the permutation on known values.
class OneConv : public layers::Module {
 public:
  OneConv(int64_t in, int64_t out, int64_t k) : layers::Module("OneConv") {
    engine::Generator gen(0);
    conv = register_module(
        "conv", std::make_shared<layers::Conv2d>(
                    layers::Conv2dOptions{
                        .in_channels = in, .out_channels = out, .kernel = k, .bias = true},
                    gen));
  }
  std::shared_ptr<layers::Conv2d> conv;
};

Tensor oihw_example(int64_t O, int64_t I, int64_t K) {
  std::vector<float> v;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t y = 0; y < K; ++y)
        for (int64_t x = 0; x < K; ++x) v.push_back(float(o * 1000 + i * 100 + y * 10 + x));
  return Tensor::from_vector(v, {O, I, K, K});
}

void expect_ohwi_of_example(const Tensor& w, int64_t O, int64_t I, int64_t K) {
  ASSERT_EQ(w.shape(), (Shape{O, K, K, I}));
  std::vector<float> got = w.to_vector<float>();
  size_t idx = 0;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t y = 0; y < K; ++y)
      for (int64_t x = 0; x < K; ++x)
        for (int64_t i = 0; i < I; ++i, ++idx)
          ASSERT_EQ(got[idx], float(o * 1000 + i * 100 + y * 10 + x))
              << "o=" << o << " y=" << y << " x=" << x << " i=" << i;
}

TEST(Weights, OihwIsPermutedByShapeWithoutMetadata) {
  OneConv m(2, 3, 3);  // OIHW [3, 2, 3, 3] vs OHWI [3, 3, 3, 2]: unambiguous
  std::string path = scratch("oihw.safetensors");
  engine::io::save_safetensors(
      path, {{"conv.weight", oihw_example(3, 2, 3)}, {"conv.bias", engine::ones({3})}});
  LoadReport r = load_weights(m, path);
  EXPECT_EQ(r.permuted, (std::vector<std::string>{"conv.weight"}));
  expect_ohwi_of_example(m.conv->weight(), 3, 2, 3);
}

// The bytes tools/convert_weights.py writes: compact JSON padded with spaces to 8 bytes, an
// OIHW layout flag, PyTorch names; the file must load without the Python side being run here.
TEST(Weights, LoadsFilesAsConvertWeightsWritesThem) {
  OneConv m(2, 3, 3);
  std::vector<float> w = oihw_example(3, 2, 3).to_vector<float>();
  std::vector<float> b{0.5f, -1.0f, 2.0f};
  std::string header =
      "{\"conv.weight\":{\"dtype\":\"F32\",\"shape\":[3,2,3,3],"
      "\"data_offsets\":[0,216]},\"conv.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
      "\"data_offsets\":[216,228]},\"__metadata__\":{\"layout\":\"OIHW\","
      "\"source\":\"x.pth\"}}";
  header += std::string((8 - header.size() % 8) % 8, ' ');
  std::string path = scratch("converted.safetensors");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    uint64_t n = header.size();
    std::fwrite(&n, 8, 1, f);  // little-endian host
    std::fwrite(header.data(), 1, header.size(), f);
    std::fwrite(w.data(), sizeof(float), w.size(), f);
    std::fwrite(b.data(), sizeof(float), b.size(), f);
    std::fclose(f);
  }
  LoadReport r = load_weights(m, path);
  EXPECT_EQ(r.permuted, (std::vector<std::string>{"conv.weight"}));
  expect_ohwi_of_example(m.conv->weight(), 3, 2, 3);
  EXPECT_EQ(m.conv->bias().to_vector<float>(), b);
}

TEST(Weights, AmbiguousSquareShapesFollowMetadataOrDefault) {
  OneConv m(3, 4, 3);  // [4, 3, 3, 3] fits both layouts
  Tensor w = oihw_example(4, 3, 3);
  std::string path = scratch("ambiguous.safetensors");
  engine::io::save_safetensors(path, {{"conv.weight", w}, {"conv.bias", engine::ones({4})}});
  LoadReport r = load_weights(m, path);  // no metadata: OIHW by default
  EXPECT_EQ(r.permuted.size(), 1u);
  expect_ohwi_of_example(m.conv->weight(), 4, 3, 3);

  r = load_weights(m, path, {.default_layout = "OHWI"});
  EXPECT_TRUE(r.permuted.empty());
  EXPECT_EQ(bytes_of<float>(m.conv->weight()), bytes_of<float>(w));

  engine::io::save_safetensors(path, {{"conv.weight", w}, {"conv.bias", engine::ones({4})}},
                               {{"layout", "OHWI"}});
  r = load_weights(m, path);  // the metadata decides
  EXPECT_TRUE(r.permuted.empty());
  EXPECT_EQ(bytes_of<float>(m.conv->weight()), bytes_of<float>(w));

  engine::io::save_safetensors(path, {{"conv.weight", w}, {"conv.bias", engine::ones({4})}},
                               {{"layout", "NCHW"}});
  engine::testing::expect_error([&] { load_weights(m, path); },
                                "metadata layout 'NCHW' is neither OIHW nor OHWI");
}

TEST(Weights, MetadataOihwRejectsOhwiShapedTensor) {
  OneConv m(2, 3, 3);
  std::string path = scratch("wronglayout.safetensors");
  engine::io::save_safetensors(
      path, {{"conv.weight", engine::zeros({3, 3, 3, 2})}, {"conv.bias", engine::ones({3})}},
      {{"layout", "OIHW"}});
  engine::testing::expect_error([&] { load_weights(m, path); },
                                "'conv.weight': expected [3, 3, 3, 2] (OHWI; [3, 2, 3, 3] in "
                                "OIHW), found [3, 3, 3, 2] (file layout OIHW)");
}

// A torchvision-style export: OIHW convs, num_batches_tracked, fc (absent in the module).
engine::io::NamedTensors as_pytorch(const layers::Module& m) {
  engine::io::NamedTensors out;
  for (const auto& [n, t] : m.state_dict()) {
    out.emplace_back(n, t.dim() == 4 ? t.permute({0, 3, 1, 2}).contiguous() : t);
    if (n.ends_with("running_var"))
      out.emplace_back(n.substr(0, n.size() - 11) + "num_batches_tracked",
                       engine::zeros({}, engine::DType::i64));
  }
  out.emplace_back("fc.weight", engine::zeros({10, 128}));
  out.emplace_back("fc.bias", engine::zeros({10}));
  return out;
}

TEST(Weights, TorchvisionStyleImportWithFcIgnored) {
  ResNet src(tiny(Stem::torchvision, 5)), dst(tiny(Stem::torchvision, 6));
  std::string path = scratch("torchvision_style.safetensors");
  engine::io::save_safetensors(path, as_pytorch(src), {{"layout", "OIHW"}});
  engine::testing::expect_error([&] { load_weights(dst, path); },
                                "2 unexpected [fc.weight, fc.bias]");
  LoadReport r = load_weights(dst, path, {.ignore_unexpected_prefixes = {"fc."}});
  // fc, and num_batches_tracked of 20 BNs: bn1, 3 in each of 5 blocks, 4 downsample BNs.
  EXPECT_EQ(r.ignored.size(), 2u + 20u);
  auto sa = src.state_dict(), sb = dst.state_dict();
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_EQ(bytes_of<float>(sa[i].second), bytes_of<float>(sb[i].second)) << sa[i].first;
}

TEST(Weights, DeepStemNamingsAreMapped) {
  ResNet src(tiny(Stem::deep, 5));
  // PSPNet/semseg naming: conv1, bn1, conv2, bn2, conv3, bn3 at the top.
  const std::vector<std::pair<std::string, std::string>> semseg{
      {"conv1.0.", "conv1."}, {"conv1.1.", "bn1."},   {"conv1.3.", "conv2."},
      {"conv1.4.", "bn2."},   {"conv1.6.", "conv3."}, {"bn1.", "bn3."}};
  const std::vector<std::pair<std::string, std::string>> mmseg{
      {"conv1.0.", "stem.0."}, {"conv1.1.", "stem.1."}, {"conv1.3.", "stem.3."},
      {"conv1.4.", "stem.4."}, {"conv1.6.", "stem.6."}, {"bn1.", "stem.7."}};
  for (const auto& naming : {semseg, mmseg}) {
    engine::io::NamedTensors renamed;
    for (auto [n, t] : as_pytorch(src)) {
      for (const auto& [ours, theirs] : naming)
        if (n.starts_with(ours)) {
          n = theirs + n.substr(ours.size());
          break;
        }
      renamed.emplace_back(n, t);
    }
    std::string path = scratch("deep_stem.safetensors");
    engine::io::save_safetensors(path, renamed);  // no metadata: layouts by shape / default
    ResNet dst(tiny(Stem::deep, 6));
    LoadReport r = load_weights(dst, path, {.ignore_unexpected_prefixes = {"fc."}});
    EXPECT_TRUE(r.missing.empty());
    auto sa = src.state_dict(), sb = dst.state_dict();
    for (size_t i = 0; i < sa.size(); ++i)
      EXPECT_EQ(bytes_of<float>(sa[i].second), bytes_of<float>(sb[i].second)) << sa[i].first;
  }
}

TEST(Weights, SpmlCheckpointNamesAndBackboneOnlyImport) {
  EmbeddingModelConfig c{.backbone = tiny(Stem::deep, 1), .embedding_dim = 8, .seed = 2};
  EmbeddingModel src(c);
  engine::io::NamedTensors spml;
  for (const auto& [n, t] : src.state_dict()) {
    std::string name = n;
    if (name.starts_with("backbone.layer"))
      name = "module.resnet_backbone.res" + std::to_string(name[14] - '0' + 1) + name.substr(15);
    else if (name.starts_with("backbone."))
      name = "module.resnet_backbone.conv1." + name.substr(9);
    else
      name = "module." + name;
    spml.emplace_back(name, t.dim() == 4 ? t.permute({0, 3, 1, 2}).contiguous() : t);
  }
  std::string path = scratch("spml.safetensors");
  engine::io::save_safetensors(path, spml, {{"layout", "OIHW"}});
  c.backbone.seed = 7;
  c.seed = 8;
  EmbeddingModel dst(c);
  LoadReport r = load_weights(dst, path, {.renames = spml_checkpoint_renames()});
  EXPECT_TRUE(r.missing.empty() && r.unexpected.empty());
  auto sa = src.state_dict(), sb = dst.state_dict();
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_EQ(bytes_of<float>(sa[i].second), bytes_of<float>(sb[i].second)) << sa[i].first;

  // An ImageNet backbone file loads into the backbone alone; the head stays as initialized.
  std::string backbone_path = scratch("backbone.safetensors");
  save_weights(src.backbone(), backbone_path);
  EmbeddingModel fresh(c);
  Tensor head_before = fresh.find_tensor("aspp.aspp_1.0.weight").clone();
  r = load_weights(fresh, backbone_path,
                   {.allow_missing_prefixes = {"aspp."}, .renames = {{"", "backbone."}}});
  EXPECT_EQ(r.missing.size(), 8u);  // four branches, weight and bias
  EXPECT_EQ(bytes_of<float>(head_before),
            bytes_of<float>(fresh.find_tensor("aspp.aspp_1.0.weight")));
  EXPECT_EQ(bytes_of<float>(src.find_tensor("backbone.conv1.6.weight")),
            bytes_of<float>(fresh.find_tensor("backbone.conv1.6.weight")));
}

}  // namespace
}  // namespace models
