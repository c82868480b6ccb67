// DensePose-COCO: RLE decoding, part mapping, the dense map and the A.3 point labels on a
// hand-made JSON, malformed-input errors, and the converter's output.
#include "data/densepose.h"

#include <gtest/gtest.h>
#include <spng.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/image_io.h"
#include "support/expect_error.h"

namespace {

namespace fs = std::filesystem;

// COCO's rleToString, written here independently so the decoder is checked against an encoder.
std::string encode_counts(const std::vector<int64_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    bool more = true;
    while (more) {
      int64_t c = x & 0x1f;
      x >>= 5;
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(char(c + 48));
    }
  }
  return s;
}

std::string rle_json(const std::vector<int64_t>& counts) {
  return R"({"size":[256,256],"counts":")" + encode_counts(counts) + "\"}";
}

// Torso (part 1) on the top half of the 256×256 grid, head (part 14) on the bottom half.
std::string fixture_json(const std::string& extra_annotation = "") {
  std::vector<int64_t> top(1, 0), bottom;
  for (int i = 0; i < 512; ++i) top.push_back(128);
  for (int i = 0; i < 512; ++i) bottom.push_back(128);
  std::string masks = "[" + rle_json(top);
  for (int k = 1; k < 13; ++k) masks += ",[]";
  masks += "," + rle_json(bottom) + "]";
  std::ostringstream j;
  j << R"({"info":{"year":2014},"images":[{"id":1,"file_name":"COCO_x_1.jpg","width":40,"height":30},)"
    << R"({"id":2,"file_name":"COCO_x_2.jpg","width":8,"height":8}],"annotations":[)"
    << R"({"id":10,"image_id":1,"bbox":[4,2,16,20],"iscrowd":0,"area":1.5,"dp_masks":)" << masks
    << R"(,"dp_I":[1.0,2.0,1.0,23.0,24.0],"dp_x":[0,51,255,255,255],"dp_y":[127.5,127.5,127.5,255,255],)"
    << R"("dp_U":[0.1,0.2,0.3,0.4,0.5]},)"
    << R"({"id":11,"image_id":1,"bbox":[25,5,10,10],"iscrowd":0})" << extra_annotation << "]}";
  return j.str();
}

TEST(DensePose, RleCountsKnownValues) {
  EXPECT_EQ(data::decode_rle_counts("325", "t"), (std::vector<int64_t>{3, 2, 5}));
  EXPECT_EQ(data::decode_rle_counts("3252", "t"), (std::vector<int64_t>{3, 2, 5, 4}));
  EXPECT_EQ(data::decode_rle_counts("365K", "t"), (std::vector<int64_t>{3, 6, 5, 1}));
  EXPECT_EQ(data::decode_rle_counts("X1", "t"), (std::vector<int64_t>{40}));
  std::vector<int64_t> runs = {0, 128, 70000, 3, 1, 65535, 2};
  EXPECT_EQ(data::decode_rle_counts(encode_counts(runs), "t"), runs);
}

TEST(DensePose, RleDecodeIsColumnMajor) {
  data::CocoRle rle;
  rle.height = 2;
  rle.width = 3;
  rle.counts = {1, 2, 3};
  EXPECT_EQ(data::decode_rle(rle, "t"), (std::vector<uint8_t>{0, 1, 0, 1, 0, 0}));
  rle.counts.clear();
  rle.compressed = "123";
  EXPECT_EQ(data::decode_rle(rle, "t"), (std::vector<uint8_t>{0, 1, 0, 1, 0, 0}));
  rle.compressed = "124";
  engine::testing::expect_error([&] { data::decode_rle(rle, "mask A"); },
                                std::vector<std::string>{"mask A", "more than the 2x3"});
  rle.compressed = "12";
  engine::testing::expect_error([&] { data::decode_rle(rle, "mask A"); }, "cover 3 pixels");
  rle.compressed = "1 2";
  engine::testing::expect_error([&] { data::decode_rle(rle, "mask A"); }, "bad character");
  rle.compressed = "1P";  // a continuation bit with nothing after it
  engine::testing::expect_error([&] { data::decode_rle(rle, "mask A"); }, "ends inside a number");
}

TEST(DensePose, CoarsePartTable) {
  const int expected[25] = {0, 1, 1,  2,  3,  4,  5,  6,  7,  6,  7,  8, 9,
                            8, 9, 10, 11, 10, 11, 12, 13, 12, 13, 14, 14};
  for (int i = 0; i <= 24; ++i) EXPECT_EQ(data::coarse_part(i), expected[i]) << i;
  EXPECT_EQ(data::coarse_part(25), 0);
}

TEST(DensePose, ParsesFixture) {
  data::DensePoseSet set = data::parse_densepose_json(fixture_json(), "fixture.json");
  ASSERT_EQ(set.images.size(), 2u);
  EXPECT_EQ(set.images[0].file_name, "COCO_x_1.jpg");
  ASSERT_EQ(set.annotations.size(), 2u);
  const auto& a = set.annotations[0];
  EXPECT_EQ(a.id, 10);
  EXPECT_TRUE(a.has_dense);
  EXPECT_FALSE(set.annotations[1].has_dense);
  EXPECT_EQ(a.dp_masks[1].height, 0);  // [] = part absent
  EXPECT_EQ(a.dp_I, (std::vector<uint8_t>{1, 2, 1, 23, 24}));
  EXPECT_EQ(set.by_image[0], (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(set.by_image[1].empty());
}

TEST(DensePose, DenseMapAndPointLabels) {
  data::DensePoseSet set = data::parse_densepose_json(fixture_json(), "fixture.json");
  data::PointLabelParams p;  // sigma = 0.1·sqrt(16·20) ≈ 1.79: label radius ≈ 1.2 px
  data::DensePoseLabels l = data::make_densepose_labels(set, 0, p);
  const uint8_t* d = l.dense.data<uint8_t>();
  auto at = [](const uint8_t* m, int x, int y) { return int(m[y * 40 + x]); };
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) {
      int want = 0;
      if (x >= 4 && x < 20 && y >= 2 && y < 22) want = y < 12 ? 1 : 14;  // 256·(y−2)/20 < 128
      if (x >= 25 && x < 35 && y >= 5 && y < 15) want = 255;             // person without DensePose
      ASSERT_EQ(at(d, x, y), want) << x << "," << y;
    }
  // Keypoints at the part mask centres: torso centroid (7.5, 4.5) in the box → pixel (11, 6).
  ASSERT_EQ(l.keypoints.size(), 2u);
  EXPECT_EQ(l.keypoints[0].part, 1);
  EXPECT_DOUBLE_EQ(l.keypoints[0].x, 11);
  EXPECT_DOUBLE_EQ(l.keypoints[0].y, 6);
  EXPECT_EQ(l.keypoints[1].part, 14);
  EXPECT_DOUBLE_EQ(l.keypoints[1].y, 16);
  const uint8_t* pt = l.points.data<uint8_t>();
  int ones = 0, heads = 0;
  for (int i = 0; i < 40 * 30; ++i) {
    ones += pt[i] == 1;
    heads += pt[i] == 14;
  }
  // d² <= 2σ²·ln(1/0.8) ≈ 1.43: the keypoint and its 4 neighbours.
  EXPECT_EQ(ones, 5);
  EXPECT_EQ(heads, 5);
  EXPECT_EQ(at(pt, 12, 6), 1);
  EXPECT_EQ(at(pt, 12, 7), 255);  // diagonal: unknown ring
  EXPECT_EQ(at(pt, 14, 6), 255);  // d = 3 < 2.45σ ≈ 4.4
  EXPECT_EQ(at(pt, 16, 6), 0);    // d = 5: background, though inside the person
  EXPECT_EQ(at(pt, 0, 0), 0);
  EXPECT_EQ(at(pt, 30, 10), 255);  // the unannotated person is not background

  p.source = data::KeypointSource::dp_points;
  data::DensePoseLabels q = data::make_densepose_labels(set, 0, p);
  // Torso points at x = 4, 7.2, 20 (y = 12): the one nearest their mean 10.4 is 7.2.
  ASSERT_EQ(q.keypoints.size(), 2u);
  EXPECT_NEAR(q.keypoints[0].x, 7.2, 1e-9);
  EXPECT_NEAR(q.keypoints[0].y, 12, 1e-9);
  EXPECT_NEAR(q.keypoints[1].x, 20, 1e-9);
  EXPECT_NEAR(q.keypoints[1].y, 22, 1e-9);
  EXPECT_EQ(at(q.points.data<uint8_t>(), 7, 12), 1);

  p.label_threshold = 0.01;
  engine::testing::expect_error([&] { data::make_densepose_labels(set, 0, p); },
                                "background_threshold < label_threshold");
}

TEST(DensePose, MalformedJsonErrors) {
  using engine::testing::expect_error;
  expect_error([] { data::parse_densepose_json(R"({"images": [)", "bad.json"); },
               std::vector<std::string>{"bad.json", "malformed JSON"});
  expect_error([] { data::parse_densepose_json(R"({"images": []})", "bad.json"); },
               "no \"annotations\"");
  expect_error(
      [] { data::parse_densepose_json(fixture_json(R"(,{"id":7,"image_id":1})"), "f.json"); },
      std::vector<std::string>{"f.json", "annotation id 7", "lacks \"bbox\""});
  expect_error(
      [] {
        data::parse_densepose_json(fixture_json(R"(,{"id":8,"image_id":1,"bbox":"abc"})"),
                                   "f.json");
      },
      std::vector<std::string>{"annotation id 8", "\"bbox\" must be an array"});
  expect_error(
      [] {
        data::parse_densepose_json(fixture_json(R"(,{"image_id":1,"bbox":[1,2,3]})"), "f.json");
      },
      std::vector<std::string>{"annotation #2", "[x, y, w, h]"});
  expect_error(
      [] {
        data::parse_densepose_json(fixture_json(R"(,{"id":9,"image_id":5,"bbox":[1,2,3,4]})"),
                                   "f.json");
      },
      "annotation id 9 refers to unknown image id 5");
  expect_error(
      [] {
        data::parse_densepose_json(
            fixture_json(
                R"(,{"id":12,"image_id":1,"bbox":[1,2,3,4],"dp_I":[25],"dp_x":[1],"dp_y":[1]})"),
            "f.json");
      },
      std::vector<std::string>{"annotation id 12", "not a part 1..24"});
  expect_error(
      [] {
        data::parse_densepose_json(
            fixture_json(
                R"(,{"id":13,"image_id":1,"bbox":[1,2,3,4],"dp_I":[2],"dp_x":[1,2],"dp_y":[1]})"),
            "f.json");
      },
      std::vector<std::string>{"annotation id 13", "dp_I, dp_x, dp_y have 1, 2, 1"});
  expect_error(
      [] {
        data::parse_densepose_json(
            fixture_json(R"(,{"id":14,"image_id":1,"bbox":[1,2,3,4],"dp_masks":[[],[]]})"),
            "f.json");
      },
      std::vector<std::string>{"annotation id 14", "has 2 entries, expected 14"});
  // A bad RLE is found when the labels are made, and named with the annotation.
  std::string bad_masks =
      R"(,{"id":15,"image_id":1,"bbox":[1,2,3,4],"dp_masks":[{"size":[256,256],"counts":"3252"})";
  for (int k = 1; k < 14; ++k) bad_masks += ",[]";
  data::DensePoseSet set = data::parse_densepose_json(fixture_json(bad_masks + "]}"), "f.json");
  expect_error(
      [&] { data::make_densepose_labels(set, 0, {}, "f.json"); },
      std::vector<std::string>{"f.json: annotation id 15", "dp_masks[0]", "cover 14 pixels"});
  expect_error([] { data::read_densepose_json("/nonexistent/dp.json"); },
               "cannot read DensePose JSON '/nonexistent/dp.json'");
}

std::vector<uint8_t> read_gray(const std::string& path, uint32_t& w, uint32_t& h) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  spng_ctx* ctx = spng_ctx_new(0);
  spng_set_png_buffer(ctx, bytes.data(), bytes.size());
  spng_ihdr ihdr{};
  EXPECT_EQ(spng_get_ihdr(ctx, &ihdr), 0);
  EXPECT_EQ(ihdr.color_type, SPNG_COLOR_TYPE_GRAYSCALE);
  w = ihdr.width;
  h = ihdr.height;
  std::vector<uint8_t> out(size_t(w) * h);
  EXPECT_EQ(spng_decode_image(ctx, out.data(), out.size(), SPNG_FMT_G8, 0), 0);
  spng_ctx_free(ctx);
  return out;
}

TEST(DensePose, ConverterWritesLabelsAndList) {
  fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "densepose_convert";
  fs::remove_all(dir);
  fs::create_directories(dir / "root" / "images" / "train2014");
  std::string json = (dir / "dp_train.json").string();
  std::ofstream(json) << fixture_json();
  data::ConvertOptions o;
  o.json_path = json;
  o.image_dir = (dir / "root" / "images" / "train2014").string();
  o.out_dir = (dir / "root").string();
  o.threads = 2;
  o.progress = false;
  data::ConvertReport r = data::convert_densepose(o);
  EXPECT_EQ(r.images, 1);
  EXPECT_EQ(r.skipped, 1);
  EXPECT_EQ(r.annotations, 1);
  std::ifstream list(r.list_path);
  std::string line;
  std::getline(list, line);
  EXPECT_EQ(line,
            "images/train2014/COCO_x_1.jpg segcls/densepose/gray/COCO_x_1.png "
            "segcls/densepose_points/gray/COCO_x_1.png");
  EXPECT_EQ(fs::path(r.list_path).filename(), "dp_train.txt");
  uint32_t w = 0, h = 0;
  std::vector<uint8_t> dense =
      read_gray((dir / "root/segcls/densepose/gray/COCO_x_1.png").string(), w, h);
  ASSERT_EQ(w, 40u);
  ASSERT_EQ(h, 30u);
  data::DensePoseSet set = data::parse_densepose_json(fixture_json(), "f");
  EXPECT_EQ(dense, set.images.empty()
                       ? std::vector<uint8_t>{}
                       : data::make_densepose_labels(set, 0, {}).dense.to_vector<uint8_t>());
  std::vector<uint8_t> points =
      read_gray((dir / "root/segcls/densepose_points/gray/COCO_x_1.png").string(), w, h);
  EXPECT_EQ(points, data::make_densepose_labels(set, 0, {}).points.to_vector<uint8_t>());
}

// A two-image layout with a pseudo-label folder: label_dir replaces the point labels (values
// >= 15 other than 255 become 255), the dense map stays the full label, a missing label file
// is named when the dataset is opened.
TEST(DensePose, DatasetReadsLabelDir) {
  fs::path root = fs::path(ENGINE_TEST_SCRATCH) / "densepose_label_dir";
  fs::remove_all(root);
  for (const char* d : {"images", "dense", "points", "pseudo"}) fs::create_directories(root / d);
  std::ofstream list(root / "train.txt");
  for (const char* id : {"a", "b"}) {
    engine::Tensor img = engine::Tensor::empty({2, 3, 3}, engine::DType::u8);
    std::fill_n(img.data<uint8_t>(), img.numel(), uint8_t(100));
    data::write_png((root / "images" / (std::string(id) + ".png")).string(), img);
    auto gray = [&](const char* dir, std::vector<uint8_t> v) {
      data::write_gray_png((root / dir / (std::string(id) + ".png")).string(),
                           engine::Tensor::from_vector(v, {2, 3}));
    };
    gray("dense", {0, 1, 1, 14, 14, 0});
    gray("points", {0, 255, 1, 255, 14, 255});
    gray("pseudo", {0, 3, 20, 255, 14, 1});
    list << "images/" << id << ".png dense/" << id << ".png points/" << id << ".png\n";
  }
  list.close();
  const std::string list_path = (root / "train.txt").string();
  data::DensePoseDataset points(root.string(), list_path);
  EXPECT_EQ(points.get(0).label.to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 255, 1, 255, 14, 255}));
  data::DensePoseDataset pseudo(root.string(), list_path, true, "", "pseudo");
  const data::Sample s = pseudo.get(1);
  EXPECT_EQ(s.id, "b");
  EXPECT_EQ(s.label.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 3, 255, 255, 14, 1}));
  EXPECT_EQ(s.full_label.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 14, 14, 0}));
  EXPECT_EQ(s.tags, (uint64_t(1) << 1) | (uint64_t(1) << 3) | (uint64_t(1) << 14));
  EXPECT_NE(pseudo.describe().find("labels from pseudo"), std::string::npos);
  // An absolute label folder works too.
  data::DensePoseDataset absolute(root.string(), list_path, true, "", (root / "pseudo").string());
  EXPECT_EQ(absolute.get(0).label.to_vector<uint8_t>(), s.label.to_vector<uint8_t>());
  fs::remove(root / "pseudo" / "b.png");
  engine::testing::expect_error(
      [&] { data::DensePoseDataset(root.string(), list_path, true, "", "pseudo"); },
      "has no 'b.png'");
}

}  // namespace
