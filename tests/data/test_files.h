// Fixture files for the data tests, written at test time under ENGINE_TEST_SCRATCH. PNGs are
// assembled byte by byte here (stored deflate blocks, CRC-32, Adler-32), independently of the
// readers under test, so a byte-order or palette mistake in a reader cannot cancel out against
// the same mistake in a writer. JPEGs come from stb_image_write.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace data::testing {

// A fresh, empty scratch directory for one test.
inline std::string scratch_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(ENGINE_TEST_SCRATCH) / "data" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Keeps the first `keep` bytes of a file.
inline void truncate_file(const std::string& path, size_t keep) {
  std::vector<uint8_t> b = read_bytes(path);
  ASSERT_LT(keep, b.size());
  b.resize(keep);
  write_bytes(path, b);
}

namespace detail {
inline uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}
inline void chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  put_be32(png, uint32_t(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put_be32(png, crc32(body.data(), body.size()));
}
}  // namespace detail

// A PNG from unfiltered rows of raw samples (`rows`: height rows of row_bytes each, big-endian
// 16-bit samples as the PNG format stores them). palette: RGB triples for colour type 3.
inline std::vector<uint8_t> make_png(int width, int height, int bit_depth, int color_type,
                                     const std::vector<uint8_t>& rows,
                                     const std::vector<uint8_t>& palette = {}) {
  const size_t row_bytes = rows.size() / size_t(height);
  std::vector<uint8_t> raw;  // filter byte 0 before each row
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), rows.begin() + y * row_bytes, rows.begin() + (y + 1) * row_bytes);
  }
  std::vector<uint8_t> z = {0x78, 0x01};  // zlib header, no preset dictionary
  for (size_t pos = 0; pos < raw.size() || pos == 0;) {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    z.push_back(last ? 1 : 0);  // stored block
    z.push_back(uint8_t(n));
    z.push_back(uint8_t(n >> 8));
    z.push_back(uint8_t(~n));
    z.push_back(uint8_t(~n >> 8));
    z.insert(z.end(), raw.begin() + pos, raw.begin() + pos + n);
    pos += n;
    if (last) break;
  }
  uint32_t a = 1, b = 0;
  for (uint8_t v : raw) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  detail::put_be32(z, (b << 16) | a);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  detail::put_be32(ihdr, uint32_t(width));
  detail::put_be32(ihdr, uint32_t(height));
  ihdr.insert(ihdr.end(), {uint8_t(bit_depth), uint8_t(color_type), 0, 0, 0});
  detail::chunk(png, "IHDR", ihdr);
  if (!palette.empty()) detail::chunk(png, "PLTE", palette);
  detail::chunk(png, "IDAT", z);
  detail::chunk(png, "IEND", {});
  return png;
}

// u8 ids [h*w] as 8-bit grayscale, or as palette indices with a palette of 256 distinct colours
// (index i -> (i, 255 - i, i / 2)), so that decoding to colours could not give the ids back.
inline void write_gray8_png(const std::string& path, int w, int h,
                            const std::vector<uint8_t>& ids) {
  write_bytes(path, make_png(w, h, 8, 0, ids));
}
inline void write_palette_png(const std::string& path, int w, int h,
                              const std::vector<uint8_t>& ids) {
  std::vector<uint8_t> pal;
  for (int i = 0; i < 256; ++i)
    pal.insert(pal.end(), {uint8_t(i), uint8_t(255 - i), uint8_t(i / 2)});
  write_bytes(path, make_png(w, h, 8, 3, ids, pal));
}
inline void write_gray16_png(const std::string& path, int w, int h,
                             const std::vector<uint16_t>& ids) {
  std::vector<uint8_t> rows;
  for (uint16_t v : ids) rows.insert(rows.end(), {uint8_t(v >> 8), uint8_t(v)});
  write_bytes(path, make_png(w, h, 16, 0, rows));
}
inline void write_rgb_png(const std::string& path, int w, int h, const std::vector<uint8_t>& rgb) {
  write_bytes(path, make_png(w, h, 8, 2, rgb));
}

}  // namespace data::testing
