#include "support/densepose_fixture.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "data/densepose.h"
#include "data/image_io.h"
#include "data/overseg.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace engine::testing {

namespace {

struct PartBox {
  int part, y0, x0, y1, x1;  // inclusive-exclusive pixel box
  uint8_t r, g, b;
};

}  // namespace

void write_tiny_densepose(const std::string& root, int count, int height, int width, uint32_t seed,
                          bool with_regions) {
  namespace fs = std::filesystem;
  ENGINE_CHECK(height >= 40 && width >= 36 && count >= 1,
               "write_tiny_densepose: {} images of {}x{} (need >= 1 of at least 40x36)", count,
               height, width);
  fs::remove_all(root);
  for (const char* d : {"images", "segcls/densepose/gray", "segcls/densepose_points/gray", "lists"})
    fs::create_directories(fs::path(root) / d);
  if (with_regions) fs::create_directories(fs::path(root) / "seginst" / "pmi_0.1_256");
  std::ofstream list(fs::path(root) / "lists" / "train.txt");
  uint32_t state = seed;
  auto rnd = [&](int m) {
    state = state * 1664525u + 1013904223u;
    return int((state >> 8) % uint32_t(m));
  };
  const int h = height, w = width;
  for (int i = 0; i < count; ++i) {
    // The person spans rows cy-16..cy+16 and columns cx-12..cx+12.
    const int cy = 18 + rnd(h - 36), cx = 14 + rnd(w - 28);
    const std::vector<PartBox> parts = {
        {1, cy - 8, cx - 6, cy + 6, cx + 6, 200, 40, 40},      // torso
        {14, cy - 16, cx - 4, cy - 8, cx + 4, 230, 190, 150},  // head
        {11, cy - 8, cx - 12, cy + 4, cx - 6, 40, 180, 40},    // R.Arm (image left)
        {10, cy - 8, cx + 6, cy + 4, cx + 12, 40, 40, 200},    // L.Arm (image right)
        {6, cy + 6, cx - 6, cy + 16, cx, 180, 180, 40},        // R.Thigh
        {7, cy + 6, cx, cy + 16, cx + 6, 40, 180, 180},        // L.Thigh
    };
    Tensor img = Tensor::empty({h, w, 3}, DType::u8);
    Tensor dense = Tensor::empty({h, w}, DType::u8);
    Tensor points = Tensor::empty({h, w}, DType::u8);
    uint8_t* ip = img.data<uint8_t>();
    uint8_t* dp = dense.data<uint8_t>();
    uint8_t* pp = points.data<uint8_t>();
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const int k = y * w + x;
        uint8_t rgb[3] = {110, 120, 100};
        dp[k] = 0;
        for (const PartBox& p : parts) {
          if (y >= p.y0 && y < p.y1 && x >= p.x0 && x < p.x1) {
            dp[k] = uint8_t(p.part);
            rgb[0] = p.r;
            rgb[1] = p.g;
            rgb[2] = p.b;
          }
        }
        for (int c = 0; c < 3; ++c)
          ip[k * 3 + c] = uint8_t(std::clamp(rgb[c] + rnd(21) - 10, 0, 255));
        const bool border = y < 5 || x < 5 || y >= h - 5 || x >= w - 5;
        pp[k] = border ? 0 : 255;
        for (const PartBox& p : parts) {
          const int py = (p.y0 + p.y1) / 2, px = (p.x0 + p.x1) / 2;
          if ((y - py) * (y - py) + (x - px) * (x - px) <= 9) pp[k] = uint8_t(p.part);
        }
      }
    }
    const std::string stem = "img" + std::to_string(i);
    data::write_png(root + "/images/" + stem + ".png", img);
    data::write_gray_png(root + "/segcls/densepose/gray/" + stem + ".png", dense);
    data::write_gray_png(root + "/segcls/densepose_points/gray/" + stem + ".png", points);
    if (with_regions)
      data::write_region_png(root + "/seginst/pmi_0.1_256/" + stem + ".png",
                             data::oversegment(img));
    list << "images/" << stem << ".png segcls/densepose/gray/" << stem
         << ".png segcls/densepose_points/gray/" << stem << ".png\n";
  }
}

}  // namespace engine::testing
