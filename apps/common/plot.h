// A small raster line-plot renderer for training reports (apps/report): axes with numeric tick
// labels, several coloured series with a legend, optional log-y, gaps at non-finite values; text
// comes from a built-in 5x7 bitmap font. Images are u8 [H, W, 3] RGB (NHWC without the batch
// dim, row 0 at the top), written with data::write_png.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace apps {

using Rgb = std::array<uint8_t, 3>;

struct PlotSeries {
  std::string name;          // legend text; "" keeps the series out of the legend
  std::vector<double> x, y;  // same length >= 1; a non-finite y (or y <= 0 with log_y) is a gap
  Rgb color{31, 119, 180};
  float opacity = 1.0f;  // in (0, 1]: < 1 blends the line over what lies below (faint raw data)
  int thickness = 1;     // line width in pixels, 1..5
};

struct PlotOptions {
  int width = 800;  // image size in pixels, at least 160 x 120
  int height = 480;
  std::string title;    // above the plot box
  std::string x_label;  // under the x tick labels
  std::string y_label;  // above the y axis, left-aligned
  bool log_y = false;   // y axis in decades; values <= 0 become gaps
};

// Where the data landed: the plot box (pixel columns/rows of the axis lines, inclusive) and the
// data range it spans (y_min/y_max are log10 values when log_y).
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_y = false;
  // Fractional pixel column of data x, and row of data y (y in data units, not log10).
  double col(double x) const;
  double row(double y) const;
};

struct Plot {
  engine::Tensor image;  // u8 [options.height, options.width, 3]
  PlotFrame frame;
};

// Renders the series. Errors: no series, a series with no points or with x and y of different
// lengths, non-finite x, no drawable point in any series, a size below the minimum, opacity or
// thickness out of range; each names the series.
Plot render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options);

// Centred moving average over `window` points (odd or even; the window shrinks at the ends so
// the curve does not lag); non-finite values are left out of each mean and stay non-finite in
// the output. window >= 1.
std::vector<double> moving_average(const std::vector<double>& y, int window);

// A distinct colour for series i (cycles after 10).
Rgb series_color(int i);

// The built-in font: 5x7 glyphs on a 6x9 cell, times `scale`. Printable ASCII; characters
// without a glyph are drawn as '?'.
int text_width(const std::string& text, int scale = 1);
int text_height(int scale = 1);
// Draws `text` with its top-left corner at (x, y) into u8 [H, W, 3] `image` (pixels outside are
// clipped).
void draw_text(engine::Tensor& image, int x, int y, const std::string& text, Rgb color,
               int scale = 1);

// Tick values for a linear axis over [lo, hi]: multiples of 1, 2 or 5 x 10^k, about `target`
// of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Short tick label for v on an axis with tick spacing `step` (no "-0"; exponent form for very
// large or small values).
std::string format_tick(double v, double step);

}  // namespace apps
