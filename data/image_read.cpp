// The reading side of data/image_io.h: photos through stb_image (JPEG, and PNG/BMP/... as stb
// knows them), label and region PNGs through libspng, which keeps palette indices and checks
// every chunk CRC. Every failure names the file.
#include <spng.h>
#include <stb/stb_image.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "engine/error.h"

namespace data {
namespace {

// Larger images than this are refused before any allocation: a corrupt header must not make us
// allocate gigabytes (a VOC image is ~0.2 Mpx, the largest COCO image ~0.4 Mpx).
constexpr uint64_t kMaxPixels = uint64_t(1) << 28;

std::vector<uint8_t> read_file_bytes(const std::string& path, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  ENGINE_CHECK(!ec && std::filesystem::exists(status), "{} '{}' does not exist", what, path);
  ENGINE_CHECK(!std::filesystem::is_directory(status), "{} '{}' is a directory, not a file", what,
               path);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  ENGINE_CHECK(in.good(), "{} '{}' exists but cannot be opened for reading: {}", what, path,
               std::strerror(errno));
  const std::streamoff size = in.tellg();
  ENGINE_CHECK(size > 0, "{} '{}' is empty (0 bytes)", what, path);
  // stb_image takes an int length.
  ENGINE_CHECK(size < (std::streamoff(1) << 31), "{} '{}' is too large ({} bytes)", what, path,
               int64_t(size));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  ENGINE_CHECK(in.gcount() == size, "{} '{}': read {} of {} bytes", what, path,
               int64_t(in.gcount()), int64_t(size));
  return bytes;
}

bool is_png(const std::vector<uint8_t>& b) {
  static constexpr uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), sig, 8) == 0;
}
bool is_jpeg(const std::vector<uint8_t>& b) {
  return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

// stb_image reports a JPEG cut short as a bare "expected marker"; to say that the file is
// truncated (and where), the marker structure is walked first: segments up to each SOS,
// entropy-coded data (where 0xFF is always followed by a stuffed 0x00 or an RST marker) up to the
// next marker, until EOI. Returns an empty string when the stream reaches EOI, else what is wrong.
// A JPEG that lacks EOI but is otherwise complete is refused too: it cannot be told apart from one
// cut after a marker.
std::string jpeg_structure_problem(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  size_t i = 2;  // after SOI
  bool seen_sos = false;
  while (true) {
    // Bytes between segments that are not a marker are skipped, as libjpeg does (it warns about
    // "extraneous bytes"): only a stream that ends before EOI is refused.
    while (i < n && b[i] != 0xFF) ++i;
    if (i >= n) return seen_sos ? "truncated: no end-of-image marker" : "truncated header";
    while (i < n && b[i] == 0xFF) ++i;
    if (i >= n) return "truncated: no end-of-image marker";
    const uint8_t marker = b[i++];
    if (marker == 0xD9) return {};                                       // EOI
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (i + 2 > n) return "truncated inside a marker segment";
    const size_t len = (size_t(b[i]) << 8) | b[i + 1];
    if (len < 2) return fmt::format("corrupt: marker 0x{:02X} with length {}", marker, len);
    if (i + len > n) return fmt::format("truncated inside marker 0x{:02X}'s segment", marker);
    i += len;
    if (marker != 0xDA) continue;  // not SOS
    seen_sos = true;
    // Entropy-coded data up to the next real marker.
    while (true) {
      if (i + 1 >= n) return "truncated: image data ends without an end-of-image marker";
      if (b[i] == 0xFF) {
        const uint8_t next = b[i + 1];
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
          i += 2;
          continue;
        }
        if (next == 0xFF) {  // fill byte
          ++i;
          continue;
        }
        break;  // a marker: back to the segment walk
      }
      ++i;
    }
  }
}

struct SpngCtx {
  spng_ctx* ctx = spng_ctx_new(0);
  ~SpngCtx() { spng_ctx_free(ctx); }
};

const char* png_color_type_name(uint8_t t) {
  switch (t) {
    case SPNG_COLOR_TYPE_GRAYSCALE:
      return "grayscale";
    case SPNG_COLOR_TYPE_TRUECOLOR:
      return "RGB";
    case SPNG_COLOR_TYPE_INDEXED:
      return "palette";
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
      return "grayscale+alpha";
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA:
      return "RGBA";
    default:
      return "unknown";
  }
}

// A PNG decoded in its own sample format (SPNG_FMT_PNG): rows of `row_bytes`, host-endian for
// 16-bit samples, packed for bit depths below 8.
struct RawPng {
  spng_ihdr ihdr{};
  std::vector<uint8_t> pixels;
  size_t row_bytes = 0;
};

RawPng decode_png_raw(const std::string& path, const char* what) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, what);
  ENGINE_CHECK(is_png(bytes), "{} '{}' is not a PNG file (bad signature)", what, path);
  SpngCtx c;
  ENGINE_CHECK(c.ctx != nullptr, "{} '{}': out of memory creating the PNG decoder", what, path);
  spng_set_png_buffer(c.ctx, bytes.data(), bytes.size());
  RawPng out;
  int err = spng_get_ihdr(c.ctx, &out.ihdr);
  ENGINE_CHECK(err == 0, "{} '{}': corrupt or truncated PNG header: {}", what, path,
               spng_strerror(err));
  const uint64_t pixels = uint64_t(out.ihdr.width) * out.ihdr.height;
  ENGINE_CHECK(pixels > 0 && pixels <= kMaxPixels, "{} '{}': implausible PNG size {}x{}", what,
               path, out.ihdr.width, out.ihdr.height);
  size_t len = 0;
  err = spng_decoded_image_size(c.ctx, SPNG_FMT_PNG, &len);
  ENGINE_CHECK(err == 0, "{} '{}': cannot decode PNG: {}", what, path, spng_strerror(err));
  out.pixels.resize(len);
  err = spng_decode_image(c.ctx, out.pixels.data(), len, SPNG_FMT_PNG, 0);
  ENGINE_CHECK(err == 0, "{} '{}': corrupt or truncated PNG data: {}", what, path,
               spng_strerror(err));
  out.row_bytes = len / out.ihdr.height;
  return out;
}

// Unpacks one sample of a 1/2/4/8-bit row.
inline uint8_t packed_sample(const uint8_t* row, uint32_t x, int depth) {
  if (depth == 8) return row[x];
  const uint32_t bit = x * uint32_t(depth);
  const int shift = 8 - depth - int(bit % 8);
  return uint8_t((row[bit / 8] >> shift) & ((1 << depth) - 1));
}

}  // namespace

engine::Tensor read_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, "image");
  if (is_jpeg(bytes)) {
    const std::string problem = jpeg_structure_problem(bytes);
    ENGINE_CHECK(problem.empty(), "image '{}': JPEG {}", path, problem);
  }
  int w = 0, h = 0, channels = 0;
  ENGINE_CHECK(stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels),
               "image '{}': not a decodable image ({})", path, stbi_failure_reason());
  ENGINE_CHECK(w > 0 && h > 0 && uint64_t(w) * uint64_t(h) <= kMaxPixels,
               "image '{}': implausible size {}x{}", path, w, h);
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels, 3),
      stbi_image_free);
  ENGINE_CHECK(pixels != nullptr, "image '{}': decoding failed: {}", path, stbi_failure_reason());
  engine::Tensor out = engine::Tensor::empty({h, w, 3}, engine::DType::u8);
  std::memcpy(out.data<uint8_t>(), pixels.get(), size_t(w) * size_t(h) * 3);
  return out;
}

LabelMap read_label_png(const std::string& path) {
  const RawPng png = decode_png_raw(path, "label map");
  const spng_ihdr& ih = png.ihdr;
  const bool gray = ih.color_type == SPNG_COLOR_TYPE_GRAYSCALE;
  const bool palette = ih.color_type == SPNG_COLOR_TYPE_INDEXED;
  ENGINE_CHECK(gray || palette,
               "label map '{}': a {} PNG; expected class ids as 8-bit grayscale or palette "
               "indices (convert colour label images to ids first, e.g. VOC colours to "
               "indices)",
               path, png_color_type_name(ih.color_type));
  ENGINE_CHECK(ih.bit_depth <= 8,
               "label map '{}': a {}-bit {} PNG; expected at most 8 bits (class ids 0..255)", path,
               int(ih.bit_depth), png_color_type_name(ih.color_type));
  LabelMap out;
  out.encoding = palette ? LabelEncoding::palette : LabelEncoding::grayscale;
  const int64_t h = ih.height, w = ih.width;
  out.ids = engine::Tensor::empty({h, w}, engine::DType::u8);
  uint8_t* dst = out.ids.data<uint8_t>();
  const int depth = ih.bit_depth;
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = png.pixels.data() + size_t(y) * png.row_bytes;
    if (depth == 8) {
      std::memcpy(dst + y * w, row, size_t(w));
    } else {
      for (int64_t x = 0; x < w; ++x) dst[y * w + x] = packed_sample(row, uint32_t(x), depth);
    }
  }
  return out;
}

engine::Tensor read_region_png(const std::string& path) {
  const RawPng png = decode_png_raw(path, "region map");
  const spng_ihdr& ih = png.ihdr;
  ENGINE_CHECK(ih.color_type == SPNG_COLOR_TYPE_GRAYSCALE,
               "region map '{}': a {} PNG; expected 8- or 16-bit grayscale region ids", path,
               png_color_type_name(ih.color_type));
  ENGINE_CHECK(ih.bit_depth == 8 || ih.bit_depth == 16,
               "region map '{}': a {}-bit grayscale PNG; expected 8 or 16 bits", path,
               int(ih.bit_depth));
  const int64_t h = ih.height, w = ih.width;
  engine::Tensor out = engine::Tensor::empty({h, w}, engine::DType::i32);
  int32_t* dst = out.data<int32_t>();
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = png.pixels.data() + size_t(y) * png.row_bytes;
    if (ih.bit_depth == 8) {
      for (int64_t x = 0; x < w; ++x) dst[y * w + x] = row[x];
    } else {
      // SPNG_FMT_PNG gives 16-bit samples in host order.
      for (int64_t x = 0; x < w; ++x) {
        uint16_t v;
        std::memcpy(&v, row + 2 * x, 2);
        dst[y * w + x] = v;
      }
    }
  }
  return out;
}

}  // namespace data
