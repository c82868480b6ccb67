// The writing half of data/image_io.h: label PNGs with the VOC palette and region PNGs through
// libspng (which writes palette and 16-bit grayscale exactly as given), RGB PNG/JPEG through
// stb_image_write (Debian's precompiled libstb), VOC colours and overlays.
//
// Files are encoded in memory and then written to "<path>.tmp.<n>" and renamed, so a reader (or
// apps/overseg --skip-existing after an interruption) never sees a half-written image under the
// final name. No fsync: every file written here can be regenerated.
#include <spng.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/sample.h"
#include "engine/error.h"

namespace data {
namespace {

void write_bytes(const std::string& path, const void* bytes, size_t size) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(counter.fetch_add(1));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  ENGINE_CHECK(f != nullptr, "cannot write image '{}': {} (is the directory missing?)", path,
               std::strerror(errno));
  bool ok = std::fwrite(bytes, 1, size, f) == size;
  int write_errno = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    ENGINE_THROW("cannot write image '{}': {}", path, std::strerror(write_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    ENGINE_THROW("cannot write image '{}': rename failed: {}", path, std::strerror(e));
  }
}

// Checks a CPU tensor of the given dtype and rank (2 = [H, W], 3 = [H, W, 3]) and returns it
// contiguous.
engine::Tensor checked(const engine::Tensor& t, engine::DType dtype, int rank, const char* what,
                       const std::string& path) {
  ENGINE_CHECK(t.defined(), "{} '{}': the tensor is undefined", what, path);
  ENGINE_CHECK(t.device().is_cpu(), "{} '{}': expected a CPU tensor, got {}", what, path, t.desc());
  ENGINE_CHECK(t.dtype() == dtype, "{} '{}': expected dtype {}, got {}", what, path,
               engine::dtype_name(dtype), t.desc());
  const char* layout = rank == 2 ? "[H, W]" : "[H, W, 3]";
  ENGINE_CHECK(t.dim() == rank && (rank == 2 || t.size(2) == 3),
               "{} '{}': expected shape {}, got {}", what, path, layout, t.desc());
  ENGINE_CHECK(t.size(0) > 0 && t.size(1) > 0 && t.size(0) <= INT32_MAX && t.size(1) <= INT32_MAX,
               "{} '{}': image size {} is empty or too large", what, path, t.desc());
  return t.contiguous();
}

struct SpngCtx {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  ~SpngCtx() { spng_ctx_free(ctx); }
};

void spng_check(int err, const char* step, const std::string& path) {
  ENGINE_CHECK(err == 0, "cannot encode PNG '{}': libspng {}: {}", path, step, spng_strerror(err));
}

// Encodes rows of `pixels` (PNG sample layout, host-endian 16-bit) with the given header.
void write_spng(const std::string& path, const void* pixels, size_t nbytes, uint32_t width,
                uint32_t height, uint8_t bit_depth, uint8_t color_type, const spng_plte* plte) {
  SpngCtx c;
  ENGINE_CHECK(c.ctx != nullptr, "cannot encode PNG '{}': out of memory", path);
  spng_check(spng_set_option(c.ctx, SPNG_ENCODE_TO_BUFFER, 1), "set_option", path);
  spng_ihdr ihdr{};
  ihdr.width = width;
  ihdr.height = height;
  ihdr.bit_depth = bit_depth;
  ihdr.color_type = color_type;
  spng_check(spng_set_ihdr(c.ctx, &ihdr), "set_ihdr", path);
  if (plte) spng_check(spng_set_plte(c.ctx, const_cast<spng_plte*>(plte)), "set_plte", path);
  spng_check(spng_encode_image(c.ctx, pixels, nbytes, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE),
             "encode_image", path);
  size_t len = 0;
  int err = 0;
  std::unique_ptr<void, decltype(&std::free)> buf(spng_get_png_buffer(c.ctx, &len, &err),
                                                  &std::free);
  spng_check(err, "get_png_buffer", path);
  write_bytes(path, buf.get(), len);
}

const spng_plte& voc_plte() {
  static const spng_plte plte = [] {
    spng_plte p{};
    p.n_entries = 256;
    for (int i = 0; i < 256; ++i) {
      auto c = voc_color(i);
      p.entries[i].red = c[0];
      p.entries[i].green = c[1];
      p.entries[i].blue = c[2];
    }
    return p;
  }();
  return plte;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

std::array<uint8_t, 3> voc_color(int id) {
  ENGINE_CHECK(id >= 0 && id <= 255, "voc_color: class id {} is outside [0, 255]", id);
  // VOC's colour map spreads the bits of the id over the channels, most significant first:
  // bit 3j+0 of the id goes to bit 7-j of red, 3j+1 to green, 3j+2 to blue. Id 255 comes out as
  // (224, 224, 192), the cream "void" colour of VOC's SegmentationClass files.
  uint8_t rgb[3] = {0, 0, 0};
  int c = id;
  for (int j = 0; j < 8; ++j, c >>= 3)
    for (int ch = 0; ch < 3; ++ch) rgb[ch] |= uint8_t(((c >> ch) & 1) << (7 - j));
  return {rgb[0], rgb[1], rgb[2]};
}

void write_label_png(const std::string& path, const engine::Tensor& ids) {
  engine::Tensor t = checked(ids, engine::DType::u8, 2, "write_label_png", path);
  write_spng(path, t.data<uint8_t>(), t.nbytes(), uint32_t(t.size(1)), uint32_t(t.size(0)), 8,
             SPNG_COLOR_TYPE_INDEXED, &voc_plte());
}

void write_region_png(const std::string& path, const engine::Tensor& regions) {
  engine::Tensor t = checked(regions, engine::DType::i32, 2, "write_region_png", path);
  const int32_t* r = t.data<int32_t>();
  int64_t n = t.numel();
  int32_t lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, r[i]);
    hi = std::max(hi, r[i]);
  }
  ENGINE_CHECK(lo >= 0 && hi <= 65535,
               "write_region_png '{}': region ids must lie in [0, 65535], found range [{}, {}]",
               path, lo, hi);
  uint32_t w = uint32_t(t.size(1)), h = uint32_t(t.size(0));
  if (hi < 256) {
    std::vector<uint8_t> px(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) px[size_t(i)] = uint8_t(r[i]);
    write_spng(path, px.data(), px.size(), w, h, 8, SPNG_COLOR_TYPE_GRAYSCALE, nullptr);
  } else {
    std::vector<uint16_t> px(
        static_cast<size_t>(n));  // host-endian: libspng swaps for SPNG_FMT_PNG
    for (int64_t i = 0; i < n; ++i) px[size_t(i)] = uint16_t(r[i]);
    write_spng(path, px.data(), px.size() * 2, w, h, 16, SPNG_COLOR_TYPE_GRAYSCALE, nullptr);
  }
}

void write_png(const std::string& path, const engine::Tensor& rgb) {
  engine::Tensor t = checked(rgb, engine::DType::u8, 3, "write_png", path);
  std::vector<uint8_t> out;
  int w = int(t.size(1)), h = int(t.size(0));
  ENGINE_CHECK(stbi_write_png_to_func(append_bytes, &out, w, h, 3, t.data<uint8_t>(), w * 3) != 0,
               "cannot encode PNG '{}' ({}x{})", path, w, h);
  write_bytes(path, out.data(), out.size());
}

void write_jpeg(const std::string& path, const engine::Tensor& rgb, int quality) {
  ENGINE_CHECK(quality >= 1 && quality <= 100, "write_jpeg '{}': quality {} is outside [1, 100]",
               path, quality);
  engine::Tensor t = checked(rgb, engine::DType::u8, 3, "write_jpeg", path);
  ENGINE_CHECK(t.size(0) <= 65535 && t.size(1) <= 65535,
               "write_jpeg '{}': {} exceeds JPEG's 65535-pixel limit", path, t.desc());
  std::vector<uint8_t> out;
  ENGINE_CHECK(stbi_write_jpg_to_func(append_bytes, &out, int(t.size(1)), int(t.size(0)), 3,
                                      t.data<uint8_t>(), quality) != 0,
               "cannot encode JPEG '{}'", path);
  write_bytes(path, out.data(), out.size());
}

engine::Tensor overlay(const engine::Tensor& rgb, const engine::Tensor& ids, float alpha) {
  ENGINE_CHECK(alpha >= 0.f && alpha <= 1.f, "overlay: alpha {} is outside [0, 1]", alpha);
  engine::Tensor im = checked(rgb, engine::DType::u8, 3, "overlay", "image");
  engine::Tensor lb = checked(ids, engine::DType::u8, 2, "overlay", "label");
  ENGINE_CHECK(im.size(0) == lb.size(0) && im.size(1) == lb.size(1),
               "overlay: image {} and label {} differ in size", im.desc(), lb.desc());
  engine::Tensor out = engine::Tensor::empty(im.shape(), engine::DType::u8);
  const uint8_t* src = im.data<uint8_t>();
  const uint8_t* lab = lb.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  std::array<std::array<uint8_t, 3>, 256> colors;
  for (int i = 0; i < 256; ++i) colors[size_t(i)] = voc_color(i);
  int64_t n = lb.numel();
  for (int64_t p = 0; p < n; ++p) {
    const uint8_t* s = src + 3 * p;
    uint8_t* d = dst + 3 * p;
    if (lab[p] == kUnlabeled) {
      d[0] = s[0], d[1] = s[1], d[2] = s[2];
      continue;
    }
    const auto& c = colors[lab[p]];
    for (int ch = 0; ch < 3; ++ch)
      d[ch] = uint8_t(float(s[ch]) * (1.f - alpha) + float(c[size_t(ch)]) * alpha + 0.5f);
  }
  return out;
}

}  // namespace data
