#include "apps/common/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "engine/error.h"

namespace apps {

namespace {

// --- font: 7 rows of 5 bits per glyph, bit 4 = leftmost column ---
using Glyph = std::array<uint8_t, 7>;

struct GlyphDef {
  char c;
  Glyph rows;
};

// clang-format off
constexpr GlyphDef kGlyphs[] = {
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'0', {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110}},
    {'1', {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'2', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111}},
    {'3', {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110}},
    {'4', {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010}},
    {'5', {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110}},
    {'6', {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110}},
    {'7', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000}},
    {'8', {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110}},
    {'9', {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100}},
    {'.', {0, 0, 0, 0, 0, 0b01100, 0b01100}},
    {',', {0, 0, 0, 0, 0b01100, 0b00100, 0b01000}},
    {'-', {0, 0, 0, 0b11111, 0, 0, 0}},
    {'+', {0, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0b11111}},
    {':', {0, 0b01100, 0b01100, 0, 0b01100, 0b01100, 0}},
    {'/', {0, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0}},
    {'(', {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010}},
    {')', {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000}},
    {'[', {0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110}},
    {']', {0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110}},
    {'=', {0, 0, 0b11111, 0, 0b11111, 0, 0}},
    {'%', {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011}},
    {'|', {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100}},
    {'x', {0, 0, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001}},
    {'?', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0, 0b00100}},
    {'a', {0, 0, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111}},
    {'b', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110}},
    {'c', {0, 0, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110}},
    {'d', {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111}},
    {'e', {0, 0, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110}},
    {'f', {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000}},
    {'g', {0, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
    {'h', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
    {'i', {0b00100, 0, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'j', {0b00010, 0, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100}},
    {'k', {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010}},
    {'l', {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'m', {0, 0, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001}},
    {'n', {0, 0, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
    {'o', {0, 0, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'p', {0, 0, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000}},
    {'q', {0, 0, 0b01101, 0b10011, 0b01111, 0b00001, 0b00001}},
    {'r', {0, 0, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000}},
    {'s', {0, 0, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110}},
    {'t', {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110}},
    {'u', {0, 0, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101}},
    {'v', {0, 0, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
    {'w', {0, 0, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010}},
    {'y', {0, 0, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
    {'z', {0, 0, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111}},
    {'A', {0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001}},
    {'B', {0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110}},
    {'C', {0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110}},
    {'D', {0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100}},
    {'E', {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111}},
    {'F', {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000}},
    {'G', {0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111}},
    {'H', {0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001}},
    {'I', {0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'J', {0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100}},
    {'K', {0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001}},
    {'L', {0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111}},
    {'M', {0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001}},
    {'N', {0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001}},
    {'O', {0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'P', {0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000}},
    {'Q', {0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101}},
    {'R', {0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001}},
    {'S', {0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110}},
    {'T', {0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100}},
    {'U', {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'V', {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
    {'W', {0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010}},
    {'X', {0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001}},
    {'Y', {0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100}},
    {'Z', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111}},
};
// clang-format on

constexpr int kGlyphW = 5, kGlyphH = 7, kCellW = 6, kCellH = 9;

const Glyph& glyph(char c) {
  static const std::array<const Glyph*, 128> table = [] {
    std::array<const Glyph*, 128> t{};
    const Glyph* unknown = nullptr;
    for (const GlyphDef& g : kGlyphs)
      if (g.c == '?') unknown = &g.rows;
    t.fill(unknown);
    for (const GlyphDef& g : kGlyphs) t[size_t(uint8_t(g.c))] = &g.rows;
    return t;
  }();
  const auto u = uint8_t(c);
  return u < 128 ? *table[u] : *table[size_t('?')];
}

// --- raster helpers on u8 [H, W, 3] ---
struct Canvas {
  uint8_t* px;
  int w, h;
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = px + (size_t(y) * size_t(w) + size_t(x)) * 3;
    p[0] = c[0], p[1] = c[1], p[2] = c[2];
  }
  void blend(int x, int y, Rgb c, float a) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = px + (size_t(y) * size_t(w) + size_t(x)) * 3;
    for (int k = 0; k < 3; ++k) p[k] = uint8_t(std::lround(p[k] * (1.0f - a) + c[size_t(k)] * a));
  }
  void hline(int x0, int x1, int y, Rgb c) {
    for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  void vline(int x, int y0, int y1, Rgb c) {
    for (int y = y0; y <= y1; ++y) set(x, y, c);
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y <= y1; ++y) hline(x0, x1, y, c);
  }
};

Canvas canvas_of(engine::Tensor& image) {
  ENGINE_CHECK(image.dtype() == engine::DType::u8 && image.dim() == 3 && image.size(2) == 3 &&
                   image.is_contiguous(),
               "plot: expected a contiguous u8 [H, W, 3] image, got dtype {} shape {}",
               engine::dtype_name(image.dtype()), engine::shape_str(image.shape()));
  return Canvas{image.data<uint8_t>(), int(image.size(1)), int(image.size(0))};
}

void draw_text_on(Canvas& cv, int x, int y, const std::string& text, Rgb color, int scale) {
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = glyph(text[i]);
    const int gx = x + int(i) * kCellW * scale;
    for (int r = 0; r < kGlyphH; ++r)
      for (int c = 0; c < kGlyphW; ++c)
        if (g[size_t(r)] & (1u << (kGlyphW - 1 - c)))
          cv.fill(gx + c * scale, y + r * scale, gx + (c + 1) * scale - 1, y + (r + 1) * scale - 1,
                  color);
  }
}

const Rgb kWhite{255, 255, 255};
const Rgb kAxis{0, 0, 0};
const Rgb kGrid{225, 225, 225};
const Rgb kText{40, 40, 40};
const Rgb kLegendBorder{160, 160, 160};

bool drawable(double y, bool log_y) {
  return std::isfinite(y) && (!log_y || y > 0);
}

}  // namespace

double PlotFrame::col(double x) const {
  return left + (x - x_min) / (x_max - x_min) * double(right - left);
}

double PlotFrame::row(double y) const {
  const double v = log_y ? std::log10(y) : y;
  return bottom - (v - y_min) / (y_max - y_min) * double(bottom - top);
}

Rgb series_color(int i) {
  static constexpr Rgb kColors[] = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kColors[size_t(((i % 10) + 10) % 10)];
}

int text_width(const std::string& text, int scale) {
  // The last cell's trailing blank column is not part of the text.
  return text.empty() ? 0 : (int(text.size()) * kCellW - 1) * scale;
}

int text_height(int scale) {
  return kGlyphH * scale;
}

void draw_text(engine::Tensor& image, int x, int y, const std::string& text, Rgb color, int scale) {
  ENGINE_CHECK(scale >= 1 && scale <= 16, "draw_text: scale {} is outside 1..16", scale);
  Canvas cv = canvas_of(image);
  draw_text_on(cv, x, y, text, color, scale);
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  ENGINE_CHECK(std::isfinite(lo) && std::isfinite(hi) && hi > lo && target >= 1,
               "nice_ticks: expected finite lo < hi and target >= 1, got [{}, {}] and {}", lo, hi,
               target);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  // The spacing whose tick count comes closest to the target (ties: the wider spacing).
  double step = mag;
  int64_t best = std::numeric_limits<int64_t>::max();
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double s = m * mag;
    const int64_t count =
        int64_t(std::floor(hi / s + 1e-9)) - int64_t(std::ceil(lo / s - 1e-9)) + 1;
    const int64_t miss = std::abs(count - int64_t(target));
    if (miss <= best) best = miss, step = s;
  }
  std::vector<double> ticks;
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int k = 0;; ++k) {
    const double v = first + k * step;
    if (v > hi + step * 1e-9) break;
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::string format_tick(double v, double step) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e6 || a < 1e-4) {
    std::string s = fmt::format("{:.2g}", v);
    // "1e-05" -> "1e-5": shorter labels for narrow axes.
    const size_t e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e), ex = s.substr(e + 1);
      const bool neg = ex[0] == '-';
      if (ex[0] == '-' || ex[0] == '+') ex = ex.substr(1);
      while (ex.size() > 1 && ex[0] == '0') ex = ex.substr(1);
      s = mant + "e" + (neg ? "-" : "") + ex;
    }
    return s;
  }
  const int decimals = step > 0 ? std::clamp(int(-std::floor(std::log10(step) + 1e-9)), 0, 6) : 3;
  return fmt::format("{:.{}f}", v, decimals);
}

std::vector<double> moving_average(const std::vector<double>& y, int window) {
  ENGINE_CHECK(window >= 1, "moving_average: window {} must be >= 1", window);
  const int64_t n = int64_t(y.size());
  // Prefix sums over finite values make each mean O(1).
  std::vector<double> sum(size_t(n) + 1, 0.0);
  std::vector<int64_t> count(size_t(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    const bool ok = std::isfinite(y[size_t(i)]);
    sum[size_t(i) + 1] = sum[size_t(i)] + (ok ? y[size_t(i)] : 0.0);
    count[size_t(i) + 1] = count[size_t(i)] + (ok ? 1 : 0);
  }
  std::vector<double> out(size_t(n), std::numeric_limits<double>::quiet_NaN());
  const int64_t before = (window - 1) / 2, after = window / 2;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(y[size_t(i)])) continue;
    const int64_t lo = std::max<int64_t>(0, i - before), hi = std::min<int64_t>(n, i + after + 1);
    const int64_t c = count[size_t(hi)] - count[size_t(lo)];
    out[size_t(i)] = (sum[size_t(hi)] - sum[size_t(lo)]) / double(c);
  }
  return out;
}

Plot render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt) {
  ENGINE_CHECK(!series.empty(), "render_line_plot: no series to plot");
  ENGINE_CHECK(opt.width >= 160 && opt.height >= 120 && opt.width <= 8192 && opt.height <= 8192,
               "render_line_plot: image size {}x{} (WxH) is outside 160x120 .. 8192x8192",
               opt.width, opt.height);
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : series) {
    ENGINE_CHECK(!s.y.empty(), "render_line_plot: series '{}' has no points", s.name);
    ENGINE_CHECK(s.x.size() == s.y.size(), "render_line_plot: series '{}' has {} x and {} y values",
                 s.name, s.x.size(), s.y.size());
    ENGINE_CHECK(s.opacity > 0.0f && s.opacity <= 1.0f,
                 "render_line_plot: series '{}' opacity {} is outside (0, 1]", s.name, s.opacity);
    ENGINE_CHECK(s.thickness >= 1 && s.thickness <= 5,
                 "render_line_plot: series '{}' thickness {} is outside 1..5", s.name, s.thickness);
    for (size_t i = 0; i < s.y.size(); ++i) {
      ENGINE_CHECK(std::isfinite(s.x[i]), "render_line_plot: series '{}' x[{}] is not finite",
                   s.name, i);
      if (!drawable(s.y[i], opt.log_y)) continue;
      const double v = opt.log_y ? std::log10(s.y[i]) : s.y[i];
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, v), y_hi = std::max(y_hi, v);
    }
  }
  ENGINE_CHECK(std::isfinite(y_lo),
               "render_line_plot: no series has a drawable point (every y is NaN/inf{})",
               opt.log_y ? " or <= 0 on the log axis" : "");
  if (x_hi == x_lo) x_lo -= 0.5, x_hi += 0.5;
  if (y_hi == y_lo) {
    const double pad = opt.log_y ? 0.5 : std::max(std::abs(y_lo) * 0.1, 0.5);
    y_lo -= pad, y_hi += pad;
  } else {
    const double pad = (y_hi - y_lo) * 0.05;
    y_lo -= pad, y_hi += pad;
  }

  // --- ticks and their labels decide the margins ---
  std::vector<double> y_ticks;  // in axis units (log10 when log_y)
  std::vector<std::string> y_labels;
  if (opt.log_y) {
    const int d0 = int(std::ceil(y_lo - 1e-9)), d1 = int(std::floor(y_hi + 1e-9));
    std::vector<double> mults = {1.0};
    if (d1 - d0 < 2) mults = {1.0, 2.0, 5.0};  // too few decades: also 2x and 5x
    for (int d = d0 - 1; d <= d1; ++d)
      for (double m : mults) {
        const double v = d + std::log10(m);
        if (v < y_lo - 1e-9 || v > y_hi + 1e-9) continue;
        y_ticks.push_back(v);
        const double val = m * std::pow(10.0, d);
        y_labels.push_back(format_tick(val, std::pow(10.0, std::min(d, 0))));
      }
  } else {
    y_ticks = nice_ticks(y_lo, y_hi, std::max(2, opt.height / 80));
    const double step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : (y_hi - y_lo);
    for (double v : y_ticks) y_labels.push_back(format_tick(v, step));
  }
  const std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, std::max(2, opt.width / 120));
  const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : (x_hi - x_lo);

  int y_label_w = 0;
  for (const std::string& s : y_labels) y_label_w = std::max(y_label_w, text_width(s));
  PlotFrame f;
  f.log_y = opt.log_y;
  f.x_min = x_lo, f.x_max = x_hi, f.y_min = y_lo, f.y_max = y_hi;
  f.left = 8 + y_label_w + 6;
  f.top = 8 + (opt.title.empty() ? 0 : text_height(2) + 8) +
          (opt.y_label.empty() ? 0 : text_height() + 6);
  f.right = opt.width - 16;
  f.bottom =
      opt.height - 1 - 8 - (text_height() + 8) - (opt.x_label.empty() ? 0 : text_height() + 6);
  ENGINE_CHECK(f.right - f.left >= 40 && f.bottom - f.top >= 30,
               "render_line_plot: {}x{} leaves no room for the plot box after labels", opt.width,
               opt.height);

  Plot plot;
  plot.image = engine::Tensor::empty({opt.height, opt.width, 3}, engine::DType::u8);
  std::memset(plot.image.data<uint8_t>(), 255, size_t(opt.height) * size_t(opt.width) * 3);
  Canvas cv = canvas_of(plot.image);

  // --- grid, ticks, labels ---
  const auto axis_row = [&](double v) {
    return int(std::lround(f.bottom - (v - y_lo) / (y_hi - y_lo) * double(f.bottom - f.top)));
  };
  for (size_t i = 0; i < y_ticks.size(); ++i) {
    const int r = axis_row(y_ticks[i]);
    cv.hline(f.left + 1, f.right - 1, r, kGrid);
    cv.hline(f.left - 4, f.left - 1, r, kAxis);
    draw_text_on(cv, f.left - 6 - text_width(y_labels[i]), r - text_height() / 2, y_labels[i],
                 kText, 1);
  }
  for (double v : x_ticks) {
    const int c = int(std::lround(f.col(v)));
    cv.vline(c, f.top + 1, f.bottom - 1, kGrid);
    cv.vline(c, f.bottom + 1, f.bottom + 4, kAxis);
    const std::string label = format_tick(v, x_step);
    draw_text_on(cv, c - text_width(label) / 2, f.bottom + 7, label, kText, 1);
  }
  if (!opt.title.empty())
    draw_text_on(cv, (opt.width - text_width(opt.title, 2)) / 2, 8, opt.title, kText, 2);
  if (!opt.y_label.empty()) draw_text_on(cv, 8, f.top - text_height() - 6, opt.y_label, kText, 1);
  if (!opt.x_label.empty())
    draw_text_on(cv, (f.left + f.right - text_width(opt.x_label)) / 2,
                 f.bottom + 7 + text_height() + 6, opt.x_label, kText, 1);

  // --- series: each into a coverage mask first, so a faint line blends once per pixel ---
  const int bw = f.right - f.left - 1, bh = f.bottom - f.top - 1;  // inside the box
  std::vector<uint8_t> mask(size_t(bw) * size_t(bh));
  for (const PlotSeries& s : series) {
    std::fill(mask.begin(), mask.end(), uint8_t(0));
    const int half = (s.thickness - 1) / 2;
    const auto stamp = [&](double cx, double cy) {
      const int x0 = int(std::lround(cx)) - half, y0 = int(std::lround(cy)) - half;
      for (int y = y0; y < y0 + s.thickness; ++y)
        for (int x = x0; x < x0 + s.thickness; ++x) {
          const int mx = x - f.left - 1, my = y - f.top - 1;
          if (mx >= 0 && my >= 0 && mx < bw && my < bh)
            mask[size_t(my) * size_t(bw) + size_t(mx)] = 1;
        }
    };
    bool have_prev = false;
    double pc = 0, pr = 0;
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (!drawable(s.y[i], opt.log_y)) {
        have_prev = false;
        continue;
      }
      const double c = f.col(s.x[i]), r = f.row(s.y[i]);
      if (!have_prev) {
        stamp(c, r);
      } else {
        const int n = int(std::ceil(std::max(std::abs(c - pc), std::abs(r - pr))));
        for (int k = 1; k <= n; ++k) {
          const double t = double(k) / n;
          stamp(pc + (c - pc) * t, pr + (r - pr) * t);
        }
        if (n == 0) stamp(c, r);
      }
      have_prev = true, pc = c, pr = r;
    }
    for (int my = 0; my < bh; ++my)
      for (int mx = 0; mx < bw; ++mx)
        if (mask[size_t(my) * size_t(bw) + size_t(mx)])
          cv.blend(f.left + 1 + mx, f.top + 1 + my, s.color, s.opacity);
  }

  // --- axis box on top of the data ---
  cv.hline(f.left, f.right, f.top, kAxis);
  cv.hline(f.left, f.right, f.bottom, kAxis);
  cv.vline(f.left, f.top, f.bottom, kAxis);
  cv.vline(f.right, f.top, f.bottom, kAxis);

  // --- legend, top right inside the box ---
  std::vector<const PlotSeries*> entries;
  for (const PlotSeries& s : series) {
    if (s.name.empty()) continue;
    if (std::none_of(s.y.begin(), s.y.end(), [&](double v) { return drawable(v, opt.log_y); }))
      continue;
    entries.push_back(&s);
  }
  if (!entries.empty()) {
    int tw = 0;
    for (const PlotSeries* s : entries) tw = std::max(tw, text_width(s->name));
    const int lw = 6 + 18 + 6 + tw + 6, lh = 6 + int(entries.size()) * (kCellH + 3) + 3;
    const int x0 = f.right - 8 - lw, y0 = f.top + 8;
    if (x0 > f.left + 8) {
      cv.fill(x0, y0, x0 + lw, y0 + lh, kWhite);
      cv.hline(x0, x0 + lw, y0, kLegendBorder);
      cv.hline(x0, x0 + lw, y0 + lh, kLegendBorder);
      cv.vline(x0, y0, y0 + lh, kLegendBorder);
      cv.vline(x0 + lw, y0, y0 + lh, kLegendBorder);
      for (size_t i = 0; i < entries.size(); ++i) {
        const int ty = y0 + 6 + int(i) * (kCellH + 3);
        const int ly = ty + text_height() / 2;
        for (int t = 0; t < std::max(2, entries[i]->thickness); ++t)
          cv.hline(x0 + 6, x0 + 6 + 17, ly - 1 + t, entries[i]->color);
        draw_text_on(cv, x0 + 6 + 18 + 6, ty, entries[i]->name, kText, 1);
      }
    }
  }
  plot.frame = f;
  return plot;
}

}  // namespace apps
