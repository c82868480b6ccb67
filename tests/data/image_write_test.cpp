// Writing label, region and RGB images (data/image_write.cpp). The files are decoded here with
// libspng directly, so the tests do not depend on the reading half of data/image_io.h.
#include <gtest/gtest.h>
#include <spng.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/support/expect_error.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;
using engine::testing::expect_error;

std::string scratch(const std::string& name) {
  fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "image_write";
  fs::create_directories(dir);
  return (dir / name).string();
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct Decoded {
  spng_ihdr ihdr{};
  spng_plte plte{};
  bool has_plte = false;
  std::vector<uint8_t> raw;  // SPNG_FMT_RAW: samples as stored (16-bit big-endian)
};

Decoded decode(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  EXPECT_GE(bytes.size(), 8u);
  Decoded d;
  spng_ctx* ctx = spng_ctx_new(0);
  EXPECT_EQ(spng_set_png_buffer(ctx, bytes.data(), bytes.size()), 0);
  EXPECT_EQ(spng_get_ihdr(ctx, &d.ihdr), 0);
  d.has_plte = spng_get_plte(ctx, &d.plte) == 0;
  size_t len = 0;
  EXPECT_EQ(spng_decoded_image_size(ctx, SPNG_FMT_RAW, &len), 0);
  d.raw.resize(len);
  EXPECT_EQ(spng_decode_image(ctx, d.raw.data(), len, SPNG_FMT_RAW, 0), 0);
  spng_ctx_free(ctx);
  return d;
}

TEST(VocColor, StandardPalette) {
  EXPECT_EQ(data::voc_color(0), (std::array<uint8_t, 3>{0, 0, 0}));
  EXPECT_EQ(data::voc_color(1), (std::array<uint8_t, 3>{128, 0, 0}));
  EXPECT_EQ(data::voc_color(2), (std::array<uint8_t, 3>{0, 128, 0}));
  EXPECT_EQ(data::voc_color(15), (std::array<uint8_t, 3>{192, 128, 128}));   // person
  EXPECT_EQ(data::voc_color(20), (std::array<uint8_t, 3>{0, 64, 128}));      // tv/monitor
  EXPECT_EQ(data::voc_color(255), (std::array<uint8_t, 3>{224, 224, 192}));  // void
  expect_error([] { data::voc_color(256); }, "outside [0, 255]");
  expect_error([] { data::voc_color(-1); }, "outside [0, 255]");
}

TEST(WriteLabelPng, PaletteIndicesAreTheIds) {
  std::vector<uint8_t> ids(7 * 5);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = uint8_t(i % 3 == 0 ? 255 : i % 21);
  std::string path = scratch("label.png");
  data::write_label_png(path, Tensor::from_vector(ids, {7, 5}));
  Decoded d = decode(path);
  EXPECT_EQ(d.ihdr.width, 5u);
  EXPECT_EQ(d.ihdr.height, 7u);
  EXPECT_EQ(d.ihdr.color_type, SPNG_COLOR_TYPE_INDEXED);
  EXPECT_EQ(d.ihdr.bit_depth, 8);
  ASSERT_TRUE(d.has_plte);
  EXPECT_EQ(d.plte.n_entries, 256u);
  EXPECT_EQ(d.plte.entries[15].red, 192);
  EXPECT_EQ(d.plte.entries[255].blue, 192);
  EXPECT_EQ(d.raw, ids);
  EXPECT_FALSE(fs::exists(path + ".tmp.0"));
}

TEST(WriteLabelPng, NonContiguousInput) {
  std::vector<uint8_t> ids = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_vector(ids, {2, 3}).transpose(0, 1);  // [3, 2]
  std::string path = scratch("label_t.png");
  data::write_label_png(path, t);
  Decoded d = decode(path);
  EXPECT_EQ(d.raw, (std::vector<uint8_t>{1, 4, 2, 5, 3, 6}));
}

TEST(WriteRegionPng, EightAndSixteenBit) {
  std::string p8 = scratch("region8.png"), p16 = scratch("region16.png");
  data::write_region_png(p8, Tensor::from_vector(std::vector<int32_t>{0, 1, 255, 7}, {2, 2}));
  Decoded d8 = decode(p8);
  EXPECT_EQ(d8.ihdr.bit_depth, 8);
  EXPECT_EQ(d8.ihdr.color_type, SPNG_COLOR_TYPE_GRAYSCALE);
  EXPECT_EQ(d8.raw, (std::vector<uint8_t>{0, 1, 255, 7}));

  data::write_region_png(p16,
                         Tensor::from_vector(std::vector<int32_t>{0, 256, 65535, 4660}, {1, 4}));
  Decoded d16 = decode(p16);
  EXPECT_EQ(d16.ihdr.bit_depth, 16);
  EXPECT_EQ(d16.ihdr.color_type, SPNG_COLOR_TYPE_GRAYSCALE);
  // PNG stores 16-bit samples big-endian.
  EXPECT_EQ(d16.raw, (std::vector<uint8_t>{0, 0, 1, 0, 255, 255, 0x12, 0x34}));
}

TEST(WritePng, RgbRoundTrip) {
  std::vector<uint8_t> px(4 * 3 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7);
  std::string path = scratch("rgb.png");
  data::write_png(path, Tensor::from_vector(px, {4, 3, 3}));
  Decoded d = decode(path);
  EXPECT_EQ(d.ihdr.color_type, SPNG_COLOR_TYPE_TRUECOLOR);
  EXPECT_EQ(d.ihdr.width, 3u);
  EXPECT_EQ(d.raw, px);
}

TEST(WriteJpeg, WritesAJfifFile) {
  std::vector<uint8_t> px(16 * 16 * 3, 128);
  std::string path = scratch("rgb.jpg");
  data::write_jpeg(path, Tensor::from_vector(px, {16, 16, 3}), 90);
  std::vector<uint8_t> bytes = read_file(path);
  ASSERT_GE(bytes.size(), 4u);
  EXPECT_EQ(bytes[0], 0xFF);
  EXPECT_EQ(bytes[1], 0xD8);  // SOI
  EXPECT_EQ(bytes[bytes.size() - 2], 0xFF);
  EXPECT_EQ(bytes[bytes.size() - 1], 0xD9);  // EOI
  expect_error(
      [&] {
        data::write_jpeg(path, Tensor::from_vector(px, {16, 16, 3}), 0);
      },
      "quality 0");
}

TEST(ImageWrite, ErrorsNameTheFile) {
  Tensor ids = Tensor::from_vector(std::vector<uint8_t>{0, 1}, {1, 2});
  std::string missing = scratch("no_such_dir") + "/x/label.png";
  expect_error([&] { data::write_label_png(missing, ids); }, {missing, "cannot write"});
  expect_error(
      [&] {
        data::write_label_png(scratch("f.png"),
                              Tensor::from_vector(std::vector<int32_t>{0, 1}, {1, 2}));
      },
      {"f.png", "expected dtype u8"});
  expect_error([&] { data::write_label_png(scratch("g.png"), ids.reshape({2})); },
               {"g.png", "[H, W]"});
  expect_error([&] { data::write_png(scratch("h.png"), ids); }, {"h.png", "[H, W, 3]"});
  expect_error([&] { data::write_label_png(scratch("u.png"), Tensor()); }, "undefined");
  expect_error(
      [&] {
        data::write_region_png(scratch("r.png"),
                               Tensor::from_vector(std::vector<int32_t>{0, 65536}, {1, 2}));
      },
      {"r.png", "[0, 65535]", "65536"});
  expect_error(
      [&] {
        data::write_region_png(scratch("n.png"),
                               Tensor::from_vector(std::vector<int32_t>{-1, 3}, {1, 2}));
      },
      {"n.png", "-1"});
  expect_error(
      [&] {
        data::write_label_png(scratch("e.png"), Tensor::empty({0, 3}, engine::DType::u8));
      },
      {"e.png", "empty"});
}

TEST(Overlay, BlendsAndKeepsUnlabeled) {
  std::vector<uint8_t> px = {100, 100, 100, 10, 20, 30};
  Tensor out = data::overlay(Tensor::from_vector(px, {1, 2, 3}),
                             Tensor::from_vector(std::vector<uint8_t>{1, 255}, {1, 2}), 0.5f);
  EXPECT_EQ(out.to_vector<uint8_t>(), (std::vector<uint8_t>{114, 50, 50, 10, 20, 30}));
  expect_error(
      [&] {
        data::overlay(Tensor::from_vector(px, {1, 2, 3}),
                      Tensor::from_vector(std::vector<uint8_t>{1}, {1, 1}));
      },
      "differ in size");
  expect_error(
      [&] {
        data::overlay(Tensor::from_vector(px, {1, 2, 3}),
                      Tensor::from_vector(std::vector<uint8_t>{1, 2}, {1, 2}), 1.5f);
      },
      "alpha");
}

}  // namespace
