// Procedural scenes for the synthetic VOC-layout dataset. Every random draw comes from Philox
// (engine/kernels/philox.h) through our own uniform and normal transforms, never from std
// distributions, whose outputs differ between standard libraries.
#include "data/synthetic.h"

#include <fmt/format.h>
#include <pugixml.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numbers>
#include <sstream>
#include <thread>

#include "data/image_io.h"
#include "data/sample.h"
#include "engine/error.h"
#include "engine/kernels/philox.h"
#include "engine/progress.h"
#include "engine/random.h"

namespace data {
namespace {

constexpr double kPi = std::numbers::pi;

uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

double u32_unit(uint32_t v) {
  return double(v) * (1.0 / 4294967296.0);
}

// Per-scene stream of host-side draws.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform() { return gen_.next_double(); }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  int below(int n) { return int(gen_.next_below(uint64_t(n))); }
  // Irwin–Hall: four uniforms summed, centred and scaled to unit variance. Plenty normal for
  // jitter, and exactly reproducible (no log/cos).
  double normal() {
    double s = uniform() + uniform() + uniform() + uniform();
    return (s - 2.0) * std::sqrt(3.0);
  }
  uint64_t key() { return gen_.next_below(UINT64_MAX); }

 private:
  engine::Generator gen_;
};

// A stateless normal per (key, counter), for per-pixel noise.
double hashed_normal(uint64_t key, uint64_t counter) {
  engine::Philox4 r = engine::philox4x32_10(key, counter);
  double s = u32_unit(r.v[0]) + u32_unit(r.v[1]) + u32_unit(r.v[2]) + u32_unit(r.v[3]);
  return (s - 2.0) * std::sqrt(3.0);
}

double lattice(uint64_t key, int64_t ix, int64_t iy) {
  return u32_unit(engine::philox4x32_10(key, (uint64_t(uint32_t(iy)) << 32) | uint32_t(ix)).v[0]);
}

// Smoothly interpolated lattice noise in [0, 1] with features about `scale` pixels wide.
double value_noise(uint64_t key, double x, double y, double scale) {
  double fx = x / scale, fy = y / scale;
  double x0 = std::floor(fx), y0 = std::floor(fy);
  double tx = fx - x0, ty = fy - y0;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  int64_t ix = int64_t(x0), iy = int64_t(y0);
  double a = lattice(key, ix, iy), b = lattice(key, ix + 1, iy);
  double c = lattice(key, ix, iy + 1), d = lattice(key, ix + 1, iy + 1);
  return (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
}

double clamp01(double v) {
  return std::clamp(v, 0.0, 1.0);
}

enum Shape { kRect, kEllipse, kTriangle, kRing, kBlob, kNumShapes };
enum Texture { kStripes, kChecker, kDots, kGrid, kNoise, kRings, kNumTextures };
const char* const kShapeNames[kNumShapes] = {"rect", "ellipse", "triangle", "ring", "blob"};
const char* const kTextureNames[kNumTextures] = {"stripes", "checker", "dots",
                                                 "grid",    "noise",   "rings"};

struct Color {
  double c[3];
};

struct Object {
  int cls = 0;
  int shape = 0, texture = 0;
  double cx = 0, cy = 0, radius = 0, cos_a = 1, sin_a = 0, aspect = 1;
  double period = 6;  // texture period in pixels
  double phase_u = 0, phase_v = 0;
  double blob_phase1 = 0, blob_phase2 = 0;
  double light_u = 0, light_v = 0;  // brightness gradient across the object
  double grain = 0;                 // per-pixel noise amplitude (distractors)
  bool textured = true;             // false: a flat distractor patch
  uint64_t noise_key = 0;
  Color a{}, b{};

  void local(double x, double y, double& u, double& v) const {
    double dx = x - cx, dy = y - cy;
    u = cos_a * dx + sin_a * dy;
    v = -sin_a * dx + cos_a * dy;
  }

  bool contains(double x, double y) const {
    double u, v;
    local(x, y, u, v);
    double r = radius;
    switch (shape) {
      case kRect:
        return std::abs(u) <= r && std::abs(v) <= r * aspect;
      case kEllipse: {
        double q = u / r, w = v / (r * aspect);
        return q * q + w * w <= 1.0;
      }
      case kTriangle: {
        // Equilateral, circumradius r: inside the three edges at inradius r / 2, whose outward
        // normals point at 270, 30 and 150 degrees.
        const double s = std::sqrt(3.0) / 2;
        return -v <= r / 2 && (s * u + 0.5 * v) <= r / 2 && (-s * u + 0.5 * v) <= r / 2;
      }
      case kRing: {
        double d2 = u * u + v * v;
        return d2 <= r * r && d2 >= 0.25 * r * r;
      }
      default: {
        double d = std::sqrt(u * u + v * v);
        double t = std::atan2(v, u);
        return d <= r * (0.8 + 0.2 * std::sin(3 * t + blob_phase1) +
                         0.1 * std::sin(5 * t + blob_phase2));
      }
    }
  }

  // Texture value in [0, 1] at image point (x, y).
  double pattern(double x, double y) const {
    if (!textured) return 0.0;
    double u, v;
    local(x, y, u, v);
    double p = period;
    switch (texture) {
      case kStripes:
        return clamp01(0.5 + std::sin(2 * kPi * (u / p) + phase_u));
      case kChecker: {
        int64_t i = int64_t(std::floor(u / p + phase_u)), j = int64_t(std::floor(v / p + phase_v));
        return double((i + j) & 1);
      }
      case kDots: {
        double fu = u / p + phase_u, fv = v / p + phase_v;
        double du = (fu - std::floor(fu) - 0.5) * p, dv = (fv - std::floor(fv) - 0.5) * p;
        return clamp01(0.3 * p - std::sqrt(du * du + dv * dv) + 0.5);
      }
      case kGrid: {
        double fu = u / p + phase_u, fv = v / p + phase_v;
        double du = std::abs(fu - std::round(fu)) * p, dv = std::abs(fv - std::round(fv)) * p;
        return clamp01(1.3 - std::min(du, dv));
      }
      case kNoise:
        return clamp01(1.6 * value_noise(noise_key, u + 1000, v + 1000, p) - 0.3);
      default: {
        double d = std::sqrt(u * u + v * v);
        return clamp01(0.5 + std::sin(2 * kPi * d / p + phase_u));
      }
    }
  }

  Color color(double x, double y) const {
    double t = pattern(x, y);
    double u, v;
    local(x, y, u, v);
    double light = 1.0 + (light_u * u + light_v * v) / std::max(radius, 1.0);
    Color out;
    for (int ch = 0; ch < 3; ++ch) out.c[ch] = (a.c[ch] * (1 - t) + b.c[ch] * t) * light;
    return out;
  }
};

Color random_color(Rng& rng) {
  return Color{{rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)}};
}

double color_distance(const Color& p, const Color& q) {
  double s = 0;
  for (int ch = 0; ch < 3; ++ch) s += (p.c[ch] - q.c[ch]) * (p.c[ch] - q.c[ch]);
  return std::sqrt(s);
}

// Two colours at least `min_distance` apart (bounded retries keep the draw count finite).
void color_pair(Rng& rng, double min_distance, Color& a, Color& b) {
  a = random_color(rng);
  b = random_color(rng);
  for (int i = 0; i < 32 && color_distance(a, b) < min_distance; ++i) b = random_color(rng);
}

// Class c >= 1: texture family and shape cycle with different strides, so that beyond six
// classes the (shape, texture) pairs stay distinct, and the texture period grows by 1.6x per
// round through the families.
void class_style(int cls, int& shape, int& texture, double& period) {
  static const double kPeriod[kNumTextures] = {6.0, 4.5, 7.0, 6.0, 2.5, 5.0};
  int k = cls - 1;
  texture = k % kNumTextures;
  shape = (k + k / kNumTextures) % kNumShapes;
  period = kPeriod[texture] * std::pow(1.6, double(k / kNumTextures));
}

// Chessboard distance of each mask pixel to the nearest non-mask pixel (or the image border).
std::vector<int> chessboard_distance(const std::vector<uint8_t>& mask, int h, int w) {
  const int inf = 1 << 20;
  std::vector<int> d(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) d[i] = mask[i] ? inf : 0;
  auto at = [&](int y, int x) {
    return (y < 0 || y >= h || x < 0 || x >= w) ? 0 : d[size_t(y) * w + x];
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int& v = d[size_t(y) * w + x];
      if (!v) continue;
      v = std::min(
          {v, at(y - 1, x - 1) + 1, at(y - 1, x) + 1, at(y - 1, x + 1) + 1, at(y, x - 1) + 1});
    }
  for (int y = h - 1; y >= 0; --y)
    for (int x = w - 1; x >= 0; --x) {
      int& v = d[size_t(y) * w + x];
      if (!v) continue;
      v = std::min(
          {v, at(y + 1, x + 1) + 1, at(y + 1, x) + 1, at(y + 1, x - 1) + 1, at(y, x + 1) + 1});
    }
  return d;
}

struct Point {
  int x, y;
};

// A smooth random walk through the interior of `mask`, passing through a deep interior point:
// the heading drifts with a random curvature, and the walk turns away from the region's border
// (or stops) when the next step would leave pixels at chessboard depth >= 2, so a 3 px wide line
// stays inside. Returns the path's pixels in order (empty for an empty mask).
std::vector<Point> random_scribble(const std::vector<uint8_t>& mask, int h, int w, Rng& rng) {
  std::vector<int> depth = chessboard_distance(mask, h, w);
  int max_depth = *std::max_element(depth.begin(), depth.end());
  if (max_depth == 0) return {};
  int64_t area = 0;
  for (uint8_t m : mask) area += m;
  int need = std::min(2, max_depth);
  // Start at a random pixel among the deepest 40%.
  int start_depth = std::max(need, int(std::ceil(0.6 * max_depth)));
  std::vector<int> starts;
  for (size_t i = 0; i < depth.size(); ++i)
    if (depth[i] >= start_depth) starts.push_back(int(i));
  int s = starts[size_t(rng.below(int(starts.size())))];
  double target = std::clamp(1.2 * std::sqrt(double(area)), 2.0, 4.0 * (h + w));
  auto inside = [&](double x, double y) {
    int xi = int(std::floor(x)), yi = int(std::floor(y));
    return xi >= 0 && yi >= 0 && xi < w && yi < h && depth[size_t(yi) * w + xi] >= need;
  };
  double heading = rng.uniform(0, 2 * kPi);
  std::vector<Point> halves[2];
  for (int dir = 0; dir < 2; ++dir) {
    double x = s % w + 0.5, y = s / w + 0.5;
    double theta = heading + dir * kPi, curvature = 0;
    int last_x = s % w, last_y = s / w;
    for (int step = 0; step < int(target / 2); ++step) {
      curvature = 0.85 * curvature + 0.06 * rng.normal();
      theta += curvature;
      bool moved = false;
      for (int attempt = 0; attempt < 13 && !moved; ++attempt) {
        // 0, +0.25, -0.25, +0.5, ... radians away from the intended heading.
        double turn = 0.25 * ((attempt + 1) / 2) * (attempt % 2 ? 1 : -1);
        double nx = x + std::cos(theta + turn), ny = y + std::sin(theta + turn);
        if (inside(nx, ny)) {
          x = nx, y = ny, theta += turn, moved = true;
          if (turn != 0) curvature = 0;
        }
      }
      if (!moved) break;
      int xi = int(std::floor(x)), yi = int(std::floor(y));
      if (xi != last_x || yi != last_y) halves[dir].push_back({xi, yi}), last_x = xi, last_y = yi;
    }
  }
  std::vector<Point> path(halves[1].rbegin(), halves[1].rend());
  path.push_back({s % w, s / w});
  path.insert(path.end(), halves[0].begin(), halves[0].end());
  return path;
}

// Stamps a (2r+1) square (disc = false) or a disc of radius r at each point, clipped to `mask`.
void stamp(uint8_t* out, const std::vector<uint8_t>& mask, int h, int w,
           const std::vector<Point>& pts, int r, bool disc, uint8_t value) {
  for (const Point& p : pts)
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) {
        if (disc && dx * dx + dy * dy > r * r) continue;
        int x = p.x + dx, y = p.y + dy;
        if (x < 0 || y < 0 || x >= w || y >= h) continue;
        size_t i = size_t(y) * w + x;
        if (mask[i]) out[i] = value;
      }
}

void check_config(const SyntheticConfig& c) {
  ENGINE_CHECK(c.num_classes >= 1 && c.num_classes <= 254,
               "synthetic data: num_classes {} must lie in [1, 254] (255 marks unlabeled pixels)",
               c.num_classes);
  ENGINE_CHECK(c.height >= 16 && c.width >= 16 && c.height <= 8192 && c.width <= 8192,
               "synthetic data: image size {}x{} must lie in [16, 8192] per side", c.height,
               c.width);
  ENGINE_CHECK(c.max_objects >= 1 && c.max_objects <= 64,
               "synthetic data: max_objects {} must lie in [1, 64]", c.max_objects);
  ENGINE_CHECK(c.jpeg_quality >= 1 && c.jpeg_quality <= 100,
               "synthetic data: jpeg_quality {} must lie in [1, 100]", c.jpeg_quality);
}

}  // namespace

std::vector<std::string> synthetic_class_names(int num_classes) {
  std::vector<std::string> names{"background"};
  for (int c = 1; c <= num_classes; ++c) {
    int shape, texture;
    double period;
    class_style(c, shape, texture, period);
    std::string name = fmt::format("{}_{}", kTextureNames[texture], kShapeNames[shape]);
    if (c > kNumTextures) name += fmt::format("_{}", (c - 1) / kNumTextures + 1);
    names.push_back(name);
  }
  return names;
}

uint64_t synthetic_scene_seed(uint64_t seed, int split, int64_t index) {
  return mix64(mix64(seed) ^ mix64(uint64_t(split) * 0x100000001B3ull + 0x51ED27ull) ^
               mix64(uint64_t(index) + 0x2545F491ull));
}

std::string synthetic_id(int split, int64_t index) {
  return fmt::format("{}_{:06d}", split == 0 ? "train" : "val", index);
}

SyntheticScene render_synthetic_scene(const SyntheticConfig& config, uint64_t scene_seed) {
  check_config(config);
  const int h = config.height, w = config.width;
  const size_t n = size_t(h) * size_t(w);
  const double scale = std::min(h, w) / 96.0;  // sizes below are for a 96-pixel short side
  Rng rng(scene_seed);

  // Background: two colours mixed by two octaves of smooth noise, plus distractor patches
  // (flat or grainy shapes that are not objects).
  Color bg_a, bg_b;
  color_pair(rng, 40, bg_a, bg_b);
  uint64_t bg_key1 = rng.key(), bg_key2 = rng.key(), pixel_key = rng.key();
  std::vector<Object> distractors(size_t(1 + rng.below(3)));
  for (Object& d : distractors) {
    d.shape = rng.below(2) ? kEllipse : kRect;
    d.textured = false;
    d.cx = rng.uniform(0, w);
    d.cy = rng.uniform(0, h);
    d.radius = rng.uniform(5, 16) * scale;
    double ang = rng.uniform(0, kPi);
    d.cos_a = std::cos(ang), d.sin_a = std::sin(ang);
    d.aspect = rng.uniform(0.4, 1.0);
    d.a = random_color(rng);
    d.light_u = rng.uniform(-0.3, 0.3), d.light_v = rng.uniform(-0.3, 0.3);
    d.grain = rng.below(2) ? rng.uniform(8, 25) : 0.0;
  }

  std::vector<Object> objects(size_t(1 + rng.below(config.max_objects)));
  for (Object& o : objects) {
    o.cls = 1 + rng.below(config.num_classes);
    class_style(o.cls, o.shape, o.texture, o.period);
    o.period *= rng.uniform(0.9, 1.1) * std::sqrt(scale);
    o.radius = rng.uniform(0.13, 0.32) * std::min(h, w);
    o.cx = rng.uniform(0.1, 0.9) * w;
    o.cy = rng.uniform(0.1, 0.9) * h;
    double ang = rng.uniform(0, 2 * kPi);
    o.cos_a = std::cos(ang), o.sin_a = std::sin(ang);
    o.aspect = rng.uniform(0.55, 1.0);
    o.phase_u = rng.uniform(0, 2 * kPi);
    o.phase_v = rng.uniform(0, 1);
    o.blob_phase1 = rng.uniform(0, 2 * kPi);
    o.blob_phase2 = rng.uniform(0, 2 * kPi);
    o.light_u = rng.uniform(-0.15, 0.15), o.light_v = rng.uniform(-0.15, 0.15);
    o.noise_key = rng.key();
    color_pair(rng, 90, o.a, o.b);
  }

  // Occlusion: later objects cover earlier ones. Objects left with little visible area
  // (< 30% of their in-image area, or < 40 pixels at the 96-pixel scale) are removed, so every
  // annotated instance can carry a scribble and a point.
  std::vector<int32_t> inst(n);
  std::vector<int64_t> full_area;
  for (int pass = 0; pass < 2; ++pass) {
    full_area.assign(objects.size(), 0);
    std::vector<int64_t> visible(objects.size(), 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int32_t top = -1;
        for (size_t k = 0; k < objects.size(); ++k)
          if (objects[k].contains(x + 0.5, y + 0.5)) top = int32_t(k), ++full_area[k];
        inst[size_t(y) * w + x] = top;
        if (top >= 0) ++visible[size_t(top)];
      }
    if (pass == 1) break;
    std::vector<Object> kept;
    double min_area = 40 * scale * scale;
    for (size_t k = 0; k < objects.size(); ++k)
      if (double(visible[k]) >= std::max(min_area, 0.3 * double(full_area[k])))
        kept.push_back(objects[k]);
    objects.swap(kept);
  }

  SyntheticScene scene;
  scene.image = engine::Tensor::empty({h, w, 3}, engine::DType::u8);
  scene.label = engine::Tensor::empty({h, w}, engine::DType::u8);
  scene.instance = engine::Tensor::from_vector(inst, {h, w});
  uint8_t* img = scene.image.data<uint8_t>();
  uint8_t* lab = scene.label.data<uint8_t>();
  const double bg_scale = 22 * scale;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      size_t p = size_t(y) * w + x;
      double px = x + 0.5, py = y + 0.5;
      Color c;
      int32_t k = inst[p];
      if (k >= 0) {
        c = objects[size_t(k)].color(px, py);
        lab[p] = uint8_t(objects[size_t(k)].cls);
      } else {
        lab[p] = 0;
        double t = 0.7 * value_noise(bg_key1, px, py, bg_scale) +
                   0.3 * value_noise(bg_key2, px, py, bg_scale / 3);
        for (int ch = 0; ch < 3; ++ch) c.c[ch] = bg_a.c[ch] * (1 - t) + bg_b.c[ch] * t;
        for (size_t d = distractors.size(); d-- > 0;) {
          const Object& o = distractors[d];
          if (!o.contains(px, py)) continue;
          c = o.color(px, py);
          if (o.grain > 0) {
            double g = o.grain * hashed_normal(pixel_key ^ 0xD15ull, p);
            for (double& v : c.c) v += g;
          }
          break;
        }
      }
      for (int ch = 0; ch < 3; ++ch) {
        double v = c.c[ch] + 4.0 * hashed_normal(pixel_key, 3 * p + size_t(ch));
        img[3 * p + size_t(ch)] = uint8_t(std::clamp(std::lround(v), 0l, 255l));
      }
    }

  // Boxes of the visible pixels.
  scene.objects.resize(objects.size());
  for (size_t k = 0; k < objects.size(); ++k) {
    SyntheticObject& so = scene.objects[k];
    so.class_id = objects[k].cls;
    so.xmin = w, so.ymin = h, so.xmax = -1, so.ymax = -1;
  }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int32_t k = inst[size_t(y) * w + x];
      if (k < 0) continue;
      SyntheticObject& so = scene.objects[size_t(k)];
      so.xmin = std::min(so.xmin, x), so.xmax = std::max(so.xmax, x);
      so.ymin = std::min(so.ymin, y), so.ymax = std::max(so.ymax, y);
    }
  for (size_t k = 0; k < objects.size(); ++k) {
    // Truncated when the shape, sampled on a ring of pixels just outside the image, is there.
    const Object& o = objects[k];
    bool t = false;
    for (int x = -1; x <= w && !t; ++x)
      t = o.contains(x + 0.5, -0.5) || o.contains(x + 0.5, h + 0.5);
    for (int y = -1; y <= h && !t; ++y)
      t = o.contains(-0.5, y + 0.5) || o.contains(w + 0.5, y + 0.5);
    scene.objects[k].truncated = t;
  }

  // Scribbles: one per instance and one for the background, each clipped to its own region so
  // that every scribble pixel carries the ground-truth id under it.
  scene.scribble = engine::Tensor::empty({h, w}, engine::DType::u8);
  scene.scribble_half = engine::Tensor::empty({h, w}, engine::DType::u8);
  scene.points = engine::Tensor::empty({h, w}, engine::DType::u8);
  uint8_t* scr = scene.scribble.data<uint8_t>();
  uint8_t* half = scene.scribble_half.data<uint8_t>();
  uint8_t* pts = scene.points.data<uint8_t>();
  std::fill(scr, scr + n, kUnlabeled);
  std::fill(half, half + n, kUnlabeled);
  std::fill(pts, pts + n, kUnlabeled);
  std::vector<uint8_t> mask(n);
  for (int32_t k = -1; k < int32_t(objects.size()); ++k) {
    for (size_t p = 0; p < n; ++p) mask[p] = inst[p] == k;
    std::vector<Point> path = random_scribble(mask, h, w, rng);
    if (path.empty()) continue;
    uint8_t id = k < 0 ? 0 : uint8_t(objects[size_t(k)].cls);
    stamp(scr, mask, h, w, path, 1, false, id);
    size_t keep = std::max<size_t>(1, path.size() / 2);
    size_t first = size_t(rng.below(int(path.size() - keep + 1)));
    std::vector<Point> part(path.begin() + int64_t(first), path.begin() + int64_t(first + keep));
    stamp(half, mask, h, w, part, 1, false, id);
    stamp(pts, mask, h, w, {path[path.size() / 2]}, 3, true, id);
  }
  return scene;
}

std::string synthetic_annotation_xml(const std::string& id, const SyntheticScene& scene,
                                     const std::vector<std::string>& class_names) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("annotation");
  root.append_child("folder").text() = "synthetic";
  root.append_child("filename").text() = (id + ".jpg").c_str();
  pugi::xml_node size = root.append_child("size");
  size.append_child("width").text() = int(scene.image.size(1));
  size.append_child("height").text() = int(scene.image.size(0));
  size.append_child("depth").text() = 3;
  root.append_child("segmented").text() = 1;
  for (const SyntheticObject& o : scene.objects) {
    ENGINE_CHECK(o.class_id >= 0 && size_t(o.class_id) < class_names.size(),
                 "synthetic annotation '{}': class id {} has no name ({} names)", id, o.class_id,
                 class_names.size());
    pugi::xml_node obj = root.append_child("object");
    obj.append_child("name").text() = class_names[size_t(o.class_id)].c_str();
    obj.append_child("pose").text() = "Unspecified";
    obj.append_child("truncated").text() = o.truncated ? 1 : 0;
    obj.append_child("difficult").text() = 0;
    pugi::xml_node box = obj.append_child("bndbox");
    box.append_child("xmin").text() = o.xmin + 1;
    box.append_child("ymin").text() = o.ymin + 1;
    box.append_child("xmax").text() = o.xmax + 1;
    box.append_child("ymax").text() = o.ymax + 1;
  }
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    ENGINE_CHECK(f.good(), "cannot write '{}' (is the directory missing or read-only?)", path);
    f << text;
    f.close();
    ENGINE_CHECK(!f.fail(), "cannot write '{}' (disk full?)", path);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  ENGINE_CHECK(!ec, "cannot write '{}': {}", path, ec.message());
}

const char* const kSubdirs[] = {"JPEGImages",
                                "segcls",
                                "hed",
                                "scribble/dilate_3",
                                "scribble/dilate_3_0.5",
                                "scribble/dilate_6_0.0",
                                "Annotations",
                                "ImageSets/Segmentation"};

}  // namespace

void write_synthetic_scene(const std::string& root, const std::string& id,
                           const SyntheticScene& scene, const SyntheticConfig& config,
                           const std::vector<std::string>& class_names) {
  const std::string base = root + "/";
  write_jpeg(base + "JPEGImages/" + id + ".jpg", scene.image, config.jpeg_quality);
  write_label_png(base + "segcls/" + id + ".png", scene.label);
  write_region_png(base + "hed/" + id + ".png", oversegment(scene.image, config.overseg));
  write_label_png(base + "scribble/dilate_3/" + id + ".png", scene.scribble);
  write_label_png(base + "scribble/dilate_3_0.5/" + id + ".png", scene.scribble_half);
  write_label_png(base + "scribble/dilate_6_0.0/" + id + ".png", scene.points);
  write_text(base + "Annotations/" + id + ".xml", synthetic_annotation_xml(id, scene, class_names));
}

void write_synthetic_dataset(const SyntheticDatasetSpec& spec, int threads, bool progress) {
  check_config(spec.config);
  ENGINE_CHECK(!spec.root.empty(), "synthetic dataset: the output directory is empty");
  ENGINE_CHECK(spec.num_train >= 0 && spec.num_val >= 0 && spec.num_train + spec.num_val > 0,
               "synthetic dataset: need a positive number of images (train {}, val {})",
               spec.num_train, spec.num_val);
  ENGINE_CHECK(threads >= 1, "synthetic dataset: threads {} must be >= 1", threads);
  for (const char* sub : kSubdirs) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(spec.root) / sub, ec);
    ENGINE_CHECK(!ec, "synthetic dataset: cannot create '{}/{}': {}", spec.root, sub, ec.message());
  }
  std::vector<std::string> names = synthetic_class_names(spec.config.num_classes);

  const int64_t total = spec.num_train + spec.num_val;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mutex;  // guards `error` and the progress bar
  std::unique_ptr<engine::ProgressBar> bar;
  if (progress) bar = std::make_unique<engine::ProgressBar>("synthetic", total, "img");
  auto work = [&] {
    while (!failed.load()) {
      int64_t i = next.fetch_add(1);
      if (i >= total) return;
      int split = i < spec.num_train ? 0 : 1;
      int64_t index = split == 0 ? i : i - spec.num_train;
      try {
        SyntheticScene scene =
            render_synthetic_scene(spec.config, synthetic_scene_seed(spec.seed, split, index));
        write_synthetic_scene(spec.root, synthetic_id(split, index), scene, spec.config, names);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
      if (bar) {
        std::lock_guard<std::mutex> lock(mutex);
        bar->advance();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (bar) bar->finish();

  const std::string lists = spec.root + "/ImageSets/Segmentation/";
  for (int split = 0; split < 2; ++split) {
    std::string text;
    int64_t count = split == 0 ? spec.num_train : spec.num_val;
    for (int64_t i = 0; i < count; ++i) text += synthetic_id(split, i) + "\n";
    write_text(lists + (split == 0 ? "train.txt" : "val.txt"), text);
  }
  std::string class_text;
  for (const std::string& name : names) class_text += name + "\n";
  write_text(spec.root + "/classes.txt", class_text);
}

}  // namespace data
