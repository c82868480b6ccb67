// The reading side of data/image_io.h: ids from grayscale and palette labels, 16-bit region maps,
// JPEG decoding, and a clear error naming the file for every kind of bad input.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <filesystem>
#include <random>

#include "data/image_io.h"
#include "support/expect_error.h"
#include "tests/data/test_files.h"

namespace data {
namespace {

using engine::testing::expect_error;
using namespace data::testing;

std::vector<uint8_t> sample_ids(int w, int h) {
  std::vector<uint8_t> ids(size_t(w) * h);
  for (int i = 0; i < w * h; ++i) ids[i] = uint8_t(i % 7 == 0 ? 255 : (i * 3) % 21);
  return ids;
}

// A smooth RGB image that JPEG keeps close to the original.
std::vector<uint8_t> gradient_rgb(int w, int h) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
      p[0] = uint8_t(x * 255 / (w - 1));
      p[1] = uint8_t(y * 255 / (h - 1));
      p[2] = 128;
    }
  return rgb;
}

std::string write_jpeg_file(const std::string& path, int w, int h) {
  const std::vector<uint8_t> rgb = gradient_rgb(w, h);
  EXPECT_TRUE(stbi_write_jpg(path.c_str(), w, h, 3, rgb.data(), 95));
  return path;
}

TEST(ImageRead, GrayscaleAndPaletteLabelsGiveTheSameIds) {
  const std::string dir = scratch_dir("label_encodings");
  const int w = 13, h = 7;
  const std::vector<uint8_t> ids = sample_ids(w, h);
  write_gray8_png(dir + "/gray.png", w, h, ids);
  write_palette_png(dir + "/palette.png", w, h, ids);
  const LabelMap gray = read_label_png(dir + "/gray.png");
  const LabelMap pal = read_label_png(dir + "/palette.png");
  EXPECT_EQ(gray.encoding, LabelEncoding::grayscale);
  EXPECT_EQ(pal.encoding, LabelEncoding::palette);
  ASSERT_EQ(gray.ids.shape(), (engine::Shape{h, w}));
  ASSERT_EQ(pal.ids.shape(), (engine::Shape{h, w}));
  EXPECT_EQ(gray.ids.dtype(), engine::DType::u8);
  EXPECT_EQ(gray.ids.to_vector<uint8_t>(), ids);
  EXPECT_EQ(pal.ids.to_vector<uint8_t>(), ids);
}

TEST(ImageRead, LowBitDepthPaletteIsUnpacked) {
  const std::string dir = scratch_dir("label_4bit");
  // 5 x 2 pixels at 4 bits: row bytes hold two ids each, the last nibble padding.
  const std::vector<uint8_t> rows = {0x01, 0x23, 0x40, 0x56, 0x78, 0x90};
  std::vector<uint8_t> pal(16 * 3, 7);
  write_bytes(dir + "/p4.png", make_png(5, 2, 4, 3, rows, pal));
  const LabelMap m = read_label_png(dir + "/p4.png");
  EXPECT_EQ(m.encoding, LabelEncoding::palette);
  EXPECT_EQ(m.ids.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(ImageRead, RegionMaps8And16Bit) {
  const std::string dir = scratch_dir("regions");
  const int w = 6, h = 4;
  std::vector<uint16_t> big(w * h);
  for (int i = 0; i < w * h; ++i) big[i] = uint16_t(i * 2731);  // up to 62813, both bytes used
  write_gray16_png(dir + "/r16.png", w, h, big);
  const engine::Tensor r16 = read_region_png(dir + "/r16.png");
  EXPECT_EQ(r16.dtype(), engine::DType::i32);
  ASSERT_EQ(r16.shape(), (engine::Shape{h, w}));
  const std::vector<int32_t> got16 = r16.to_vector<int32_t>();
  for (int i = 0; i < w * h; ++i) EXPECT_EQ(got16[i], int32_t(big[i])) << i;

  std::vector<uint8_t> small(w * h);
  for (int i = 0; i < w * h; ++i) small[i] = uint8_t(i * 10);
  write_gray8_png(dir + "/r8.png", w, h, small);
  const std::vector<int32_t> got8 = read_region_png(dir + "/r8.png").to_vector<int32_t>();
  for (int i = 0; i < w * h; ++i) EXPECT_EQ(got8[i], int32_t(small[i])) << i;
}

TEST(ImageRead, JpegAndPngDecodeToRgb) {
  const std::string dir = scratch_dir("photos");
  const int w = 40, h = 24;
  write_jpeg_file(dir + "/a.jpg", w, h);
  const engine::Tensor img = read_image(dir + "/a.jpg");
  ASSERT_EQ(img.shape(), (engine::Shape{h, w, 3}));
  EXPECT_EQ(img.dtype(), engine::DType::u8);
  const std::vector<uint8_t> ref = gradient_rgb(w, h);
  const std::vector<uint8_t> got = img.to_vector<uint8_t>();
  double err = 0;
  for (size_t i = 0; i < ref.size(); ++i) err += std::abs(int(got[i]) - int(ref[i]));
  EXPECT_LT(err / double(ref.size()), 4.0);  // JPEG at quality 95 on a smooth image

  write_rgb_png(dir + "/b.png", w, h, ref);
  EXPECT_EQ(read_image(dir + "/b.png").to_vector<uint8_t>(), ref);  // PNG is lossless
  // Grey and palette PNGs are expanded to RGB.
  write_gray8_png(dir + "/g.png", 3, 1, {0, 100, 200});
  EXPECT_EQ(read_image(dir + "/g.png").to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 0, 0, 100, 100, 100, 200, 200, 200}));
  write_palette_png(dir + "/p.png", 2, 1, {0, 10});
  EXPECT_EQ(read_image(dir + "/p.png").to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 255, 0, 10, 245, 5}));
}

TEST(ImageRead, MissingEmptyAndDirectory) {
  const std::string dir = scratch_dir("missing");
  expect_error([&] { read_image(dir + "/nope.jpg"); }, {dir + "/nope.jpg", "does not exist"});
  expect_error([&] { read_label_png(dir + "/nope.png"); }, {"nope.png", "does not exist"});
  expect_error([&] { read_region_png(dir + "/nope.png"); }, {"nope.png", "does not exist"});
  write_bytes(dir + "/empty.jpg", {});
  expect_error([&] { read_image(dir + "/empty.jpg"); }, {"empty.jpg", "empty"});
  expect_error([&] { read_image(dir); }, {dir, "directory"});
}

TEST(ImageRead, TruncatedJpeg) {
  const std::string dir = scratch_dir("trunc_jpeg");
  const std::string f = write_jpeg_file(dir + "/t.jpg", 64, 48);
  const size_t full = std::filesystem::file_size(f);
  // Cut inside the entropy-coded data, inside the headers, and just before EOI.
  for (size_t keep : {full / 2, size_t(20), full - 2}) {
    write_jpeg_file(f, 64, 48);
    truncate_file(f, keep);
    expect_error([&] { read_image(f); }, {f, "truncated"});
  }
}

TEST(ImageRead, TruncatedAndCorruptPng) {
  const std::string dir = scratch_dir("trunc_png");
  const int w = 30, h = 20;
  const std::string f = dir + "/t.png";
  for (size_t keep : {size_t(12), size_t(40), size_t(200)}) {
    write_gray8_png(f, w, h, sample_ids(w, h));
    truncate_file(f, keep);
    expect_error([&] { read_label_png(f); }, {f, "PNG"});
    expect_error([&] { read_image(f); }, {f});
  }
  // A flipped bit in the pixel data: the chunk CRC no longer matches.
  write_gray8_png(f, w, h, sample_ids(w, h));
  std::vector<uint8_t> b = read_bytes(f);
  b[b.size() / 2] ^= 0x10;
  write_bytes(f, b);
  expect_error([&] { read_label_png(f); }, {f, "corrupt"});
  expect_error([&] { read_region_png(f); }, {f, "corrupt"});
}

TEST(ImageRead, RandomBytesNeverCrash) {
  const std::string dir = scratch_dir("random");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<uint8_t> bytes(1 + rng() % 3000);
    for (uint8_t& v : bytes) v = uint8_t(rng());
    // Half the trials start with a valid signature, so the decoders get past the first check.
    if (trial % 4 == 1) bytes.insert(bytes.begin(), {0xFF, 0xD8, 0xFF});
    if (trial % 4 == 2) bytes.insert(bytes.begin(), {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    const std::string f = dir + "/r" + std::to_string(trial) + ".bin";
    write_bytes(f, bytes);
    expect_error([&] { read_image(f); }, {f});
    expect_error([&] { read_label_png(f); }, {f});
    expect_error([&] { read_region_png(f); }, {f});
  }
}

TEST(ImageRead, WrongPngTypesAreRejectedByName) {
  const std::string dir = scratch_dir("types");
  write_rgb_png(dir + "/rgb.png", 2, 2, std::vector<uint8_t>(12, 9));
  expect_error([&] { read_label_png(dir + "/rgb.png"); }, {"rgb.png", "RGB", "class ids"});
  expect_error([&] { read_region_png(dir + "/rgb.png"); }, {"rgb.png", "RGB"});
  write_gray16_png(dir + "/g16.png", 2, 2, {1, 2, 3, 4});
  expect_error([&] { read_label_png(dir + "/g16.png"); }, {"g16.png", "16-bit"});
  write_palette_png(dir + "/pal.png", 2, 2, {1, 2, 3, 4});
  expect_error([&] { read_region_png(dir + "/pal.png"); }, {"pal.png", "palette"});
  write_jpeg_file(dir + "/j.jpg", 8, 8);
  expect_error([&] { read_label_png(dir + "/j.jpg"); }, {"j.jpg", "not a PNG"});
}

}  // namespace
}  // namespace data
