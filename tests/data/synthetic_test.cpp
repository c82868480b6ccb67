// The synthetic VOC-layout dataset (data/synthetic.h): determinism, label consistency and files.
#include "data/synthetic.h"

#include <gtest/gtest.h>
#include <spng.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <pugixml.hpp>
#include <set>
#include <string>
#include <vector>

#include "data/sample.h"
#include "tests/support/expect_error.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Palette indices of a label PNG, decoded with libspng here (the reader is not under test).
std::vector<uint8_t> png_indices(const fs::path& path) {
  std::vector<uint8_t> bytes = read_bytes(path);
  spng_ctx* ctx = spng_ctx_new(0);
  spng_set_png_buffer(ctx, bytes.data(), bytes.size());
  size_t len = 0;
  std::vector<uint8_t> out;
  if (spng_decoded_image_size(ctx, SPNG_FMT_RAW, &len) == 0) {
    out.resize(len);
    if (spng_decode_image(ctx, out.data(), len, SPNG_FMT_RAW, 0) != 0) out.clear();
  }
  spng_ctx_free(ctx);
  return out;
}

TEST(Synthetic, SameSeedSameSceneOtherSeedOther) {
  data::SyntheticConfig cfg;
  data::SyntheticScene a = data::render_synthetic_scene(cfg, 42);
  data::SyntheticScene b = data::render_synthetic_scene(cfg, 42);
  data::SyntheticScene c = data::render_synthetic_scene(cfg, 43);
  EXPECT_EQ(a.image.shape(), (engine::Shape{96, 128, 3}));
  EXPECT_EQ(a.label.shape(), (engine::Shape{96, 128}));
  EXPECT_EQ(a.image.to_vector<uint8_t>(), b.image.to_vector<uint8_t>());
  EXPECT_EQ(a.label.to_vector<uint8_t>(), b.label.to_vector<uint8_t>());
  EXPECT_EQ(a.scribble.to_vector<uint8_t>(), b.scribble.to_vector<uint8_t>());
  EXPECT_EQ(a.scribble_half.to_vector<uint8_t>(), b.scribble_half.to_vector<uint8_t>());
  EXPECT_EQ(a.points.to_vector<uint8_t>(), b.points.to_vector<uint8_t>());
  EXPECT_NE(a.image.to_vector<uint8_t>(), c.image.to_vector<uint8_t>());
  EXPECT_NE(data::synthetic_scene_seed(1, 0, 5), data::synthetic_scene_seed(1, 1, 5));
  EXPECT_NE(data::synthetic_scene_seed(1, 0, 5), data::synthetic_scene_seed(2, 0, 5));
  EXPECT_EQ(data::synthetic_id(0, 42), "train_000042");
  EXPECT_EQ(data::synthetic_id(1, 7), "val_000007");
}

TEST(Synthetic, WeakLabelsAgreeWithTheGroundTruth) {
  data::SyntheticConfig cfg;
  cfg.height = 80;
  cfg.width = 100;
  std::set<int> classes_seen, classes_scribbled;
  int objects = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    data::SyntheticScene s =
        data::render_synthetic_scene(cfg, data::synthetic_scene_seed(7, 0, int64_t(seed)));
    const int h = 80, w = 100;
    std::vector<uint8_t> lab = s.label.to_vector<uint8_t>(), scr = s.scribble.to_vector<uint8_t>(),
                         half = s.scribble_half.to_vector<uint8_t>(),
                         pts = s.points.to_vector<uint8_t>();
    std::vector<int32_t> inst = s.instance.to_vector<int32_t>();
    int64_t n_scr = 0, n_half = 0;
    for (size_t p = 0; p < lab.size(); ++p) {
      classes_seen.insert(lab[p]);
      ASSERT_LE(lab[p], cfg.num_classes);
      if (scr[p] != data::kUnlabeled) {
        ASSERT_EQ(scr[p], lab[p]) << "scribble pixel " << p << " seed " << seed;
        classes_scribbled.insert(scr[p]);
        ++n_scr;
      }
      if (half[p] != data::kUnlabeled) {
        ASSERT_EQ(half[p], scr[p]) << "a shortened scribble leaves the full one";
        ++n_half;
      }
      if (pts[p] != data::kUnlabeled) {
        ASSERT_EQ(pts[p], lab[p]);
      }
      ASSERT_EQ(inst[p] >= 0, lab[p] != 0);
    }
    EXPECT_LT(n_half, n_scr);
    EXPECT_GT(n_half, 0);
    // Every instance: visible, scribbled, pointed, and its box is tight around its pixels.
    ASSERT_FALSE(s.objects.empty());
    for (size_t k = 0; k < s.objects.size(); ++k) {
      const data::SyntheticObject& o = s.objects[k];
      int xmin = w, ymin = h, xmax = -1, ymax = -1;
      bool scribbled = false, pointed = false;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          size_t p = size_t(y) * w + x;
          if (inst[p] != int32_t(k)) continue;
          ASSERT_EQ(lab[p], o.class_id);
          xmin = std::min(xmin, x), xmax = std::max(xmax, x);
          ymin = std::min(ymin, y), ymax = std::max(ymax, y);
          scribbled |= scr[p] != data::kUnlabeled;
          pointed |= pts[p] != data::kUnlabeled;
        }
      EXPECT_EQ(o.xmin, xmin);
      EXPECT_EQ(o.ymin, ymin);
      EXPECT_EQ(o.xmax, xmax);
      EXPECT_EQ(o.ymax, ymax);
      EXPECT_TRUE(scribbled) << "object " << k << " seed " << seed;
      EXPECT_TRUE(pointed) << "object " << k << " seed " << seed;
      ++objects;
    }
  }
  EXPECT_GT(objects, 30);
  for (int c = 0; c <= cfg.num_classes; ++c) {
    EXPECT_TRUE(classes_seen.count(c)) << "class " << c << " never appears";
    EXPECT_TRUE(classes_scribbled.count(c)) << "class " << c << " never scribbled";
  }
}

TEST(Synthetic, ClassNamesAreDistinct) {
  std::vector<std::string> names = data::synthetic_class_names(40);
  ASSERT_EQ(names.size(), 41u);
  EXPECT_EQ(names[0], "background");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

TEST(Synthetic, ManyClassesAndOddSizes) {
  data::SyntheticConfig cfg;
  cfg.num_classes = 20;
  cfg.height = 33;
  cfg.width = 250;
  cfg.max_objects = 6;
  data::SyntheticScene s = data::render_synthetic_scene(cfg, 5);
  EXPECT_EQ(s.image.shape(), (engine::Shape{33, 250, 3}));
  for (uint8_t v : s.label.to_vector<uint8_t>()) EXPECT_LE(v, 20);
}

void write_small(const std::string& root, int threads) {
  data::SyntheticDatasetSpec spec;
  spec.root = root;
  spec.seed = 3;
  spec.num_train = 5;
  spec.num_val = 2;
  spec.config.height = 48;
  spec.config.width = 64;
  fs::remove_all(root);
  data::write_synthetic_dataset(spec, threads, false);
}

TEST(Synthetic, DatasetFilesLayoutAndThreadIndependence) {
  fs::path base = fs::path(ENGINE_TEST_SCRATCH) / "synthetic";
  std::string one = (base / "t1").string(), three = (base / "t3").string();
  write_small(one, 1);
  write_small(three, 3);
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(one))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), one).string());
  EXPECT_EQ(files.size(), 7u * 7u + 3u);  // 7 files per image, two lists, classes.txt
  for (const std::string& f : files) {
    EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
    EXPECT_EQ(read_bytes(fs::path(one) / f), read_bytes(fs::path(three) / f)) << f;
  }
  std::ifstream train(fs::path(one) / "ImageSets/Segmentation/train.txt");
  std::vector<std::string> ids{std::istream_iterator<std::string>(train), {}};
  EXPECT_EQ(ids, (std::vector<std::string>{"train_000000", "train_000001", "train_000002",
                                           "train_000003", "train_000004"}));
  std::ifstream classes(fs::path(one) / "classes.txt");
  std::vector<std::string> names{std::istream_iterator<std::string>(classes), {}};
  EXPECT_EQ(names, data::synthetic_class_names(5));

  // The label PNG holds the scene's ids; the XML is well-formed VOC.
  data::SyntheticConfig cfg;
  cfg.height = 48;
  cfg.width = 64;
  data::SyntheticScene s = data::render_synthetic_scene(cfg, data::synthetic_scene_seed(3, 1, 1));
  EXPECT_EQ(png_indices(fs::path(one) / "segcls/val_000001.png"), s.label.to_vector<uint8_t>());
  EXPECT_EQ(png_indices(fs::path(one) / "scribble/dilate_6_0.0/val_000001.png"),
            s.points.to_vector<uint8_t>());
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((fs::path(one) / "Annotations/val_000001.xml").c_str()));
  pugi::xml_node ann = doc.child("annotation");
  EXPECT_STREQ(ann.child("filename").text().get(), "val_000001.jpg");
  EXPECT_EQ(ann.child("size").child("width").text().as_int(), 64);
  EXPECT_EQ(ann.child("size").child("height").text().as_int(), 48);
  EXPECT_EQ(ann.child("size").child("depth").text().as_int(), 3);
  size_t k = 0;
  for (pugi::xml_node obj : ann.children("object")) {
    ASSERT_LT(k, s.objects.size());
    const data::SyntheticObject& o = s.objects[k++];
    EXPECT_EQ(obj.child("name").text().get(), names[size_t(o.class_id)]);
    EXPECT_EQ(obj.child("difficult").text().as_int(), 0);
    pugi::xml_node box = obj.child("bndbox");
    EXPECT_EQ(box.child("xmin").text().as_int(), o.xmin + 1);
    EXPECT_EQ(box.child("ymin").text().as_int(), o.ymin + 1);
    EXPECT_EQ(box.child("xmax").text().as_int(), o.xmax + 1);
    EXPECT_EQ(box.child("ymax").text().as_int(), o.ymax + 1);
    EXPECT_GE(box.child("xmin").text().as_int(), 1);
    EXPECT_LE(box.child("xmax").text().as_int(), 64);
  }
  EXPECT_EQ(k, s.objects.size());
}

TEST(Synthetic, Errors) {
  data::SyntheticConfig cfg;
  cfg.num_classes = 0;
  engine::testing::expect_error([&] { data::render_synthetic_scene(cfg, 1); }, "num_classes 0");
  cfg.num_classes = 5;
  cfg.height = 8;
  engine::testing::expect_error([&] { data::render_synthetic_scene(cfg, 1); }, "8x128");
  fs::path file = fs::path(ENGINE_TEST_SCRATCH) / "synthetic" / "a_file";
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "x";
  data::SyntheticDatasetSpec spec;
  spec.root = (file / "sub").string();
  spec.num_train = 1;
  spec.num_val = 0;
  engine::testing::expect_error([&] { data::write_synthetic_dataset(spec, 1, false); },
                                {"cannot create", "a_file"});
}

}  // namespace
