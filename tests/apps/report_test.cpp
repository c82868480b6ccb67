// The report pieces: the line-plot renderer checked pixel by pixel, and write_report on a small
// hand-written run folder and eval JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/plot.h"
#include "apps/common/report_writer.h"
#include "data/image_io.h"
#include "support/expect_error.h"

namespace {

namespace fs = std::filesystem;
using engine::testing::expect_error;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

apps::Rgb pixel(const engine::Tensor& img, int row, int col) {
  const uint8_t* p = img.data<uint8_t>() + (int64_t(row) * img.size(1) + col) * 3;
  return {p[0], p[1], p[2]};
}

// Rows of column `col` holding exactly `color`.
std::vector<int> rows_with(const engine::Tensor& img, int col, apps::Rgb color) {
  std::vector<int> rows;
  for (int r = 0; r < int(img.size(0)); ++r)
    if (pixel(img, r, col) == color) rows.push_back(r);
  return rows;
}

apps::PlotSeries flat(const std::string& name, double y, apps::Rgb color, int n = 11) {
  apps::PlotSeries s;
  s.name = name;
  s.color = color;
  for (int i = 0; i < n; ++i) s.x.push_back(i), s.y.push_back(y);
  return s;
}

const apps::Rgb kRed{200, 0, 0}, kBlue{0, 0, 200};

TEST(Plot, HorizontalSeriesLandOnTheirRows) {
  apps::PlotOptions opt;
  opt.width = 400;
  opt.height = 300;
  const apps::Plot p = apps::render_line_plot({flat("", 1.0, kRed), flat("", 3.0, kBlue)}, opt);
  ASSERT_EQ(p.image.shape(), (engine::Shape{300, 400, 3}));
  const apps::PlotFrame& f = p.frame;
  // Data range [1, 3] padded by 5% on each side, mapped linearly onto the box.
  EXPECT_NEAR(f.y_min, 0.9, 1e-12);
  EXPECT_NEAR(f.y_max, 3.1, 1e-12);
  const double h = f.bottom - f.top;
  const int red_row = int(std::lround(f.bottom - (1.0 - 0.9) / 2.2 * h));
  const int blue_row = int(std::lround(f.bottom - (3.0 - 0.9) / 2.2 * h));
  const int col = (f.left + f.right) / 3;
  EXPECT_EQ(rows_with(p.image, col, kRed), std::vector<int>{red_row});
  EXPECT_EQ(rows_with(p.image, col, kBlue), std::vector<int>{blue_row});
  EXPECT_GT(red_row, blue_row);  // larger values higher up
  // Both lines span the box from the first to the last x.
  EXPECT_EQ(pixel(p.image, red_row, f.left + 1), kRed);
  EXPECT_EQ(pixel(p.image, red_row, f.right - 1), kRed);
}

TEST(Plot, AxisBoxIsDrawn) {
  apps::PlotOptions opt;
  opt.width = 320;
  opt.height = 200;
  opt.title = "loss";
  const apps::Plot p = apps::render_line_plot({flat("a", 2.0, kRed)}, opt);
  const apps::PlotFrame& f = p.frame;
  const apps::Rgb black{0, 0, 0}, white{255, 255, 255};
  for (int c = f.left; c <= f.right; ++c) {
    EXPECT_EQ(pixel(p.image, f.top, c), black) << "top edge, col " << c;
    EXPECT_EQ(pixel(p.image, f.bottom, c), black) << "bottom edge, col " << c;
  }
  for (int r = f.top; r <= f.bottom; ++r) {
    EXPECT_EQ(pixel(p.image, r, f.left), black) << "left edge, row " << r;
    EXPECT_EQ(pixel(p.image, r, f.right), black) << "right edge, row " << r;
  }
  // Outside the box, right of it, the image is background.
  EXPECT_EQ(pixel(p.image, (f.top + f.bottom) / 2, f.right + 5), white);
  EXPECT_GT(f.left, 8);  // room was made for the tick labels
}

TEST(Plot, NonFiniteValuesLeaveGaps) {
  apps::PlotSeries s;
  s.color = kRed;
  s.x = {0, 1, 2, 3, 4, 5, 6};
  s.y = {1, 1, kNaN, kNaN, std::numeric_limits<double>::infinity(), 1, 1};
  apps::PlotOptions opt;
  opt.width = 400;
  opt.height = 200;
  const apps::Plot p = apps::render_line_plot({s, flat("", 0.0, kBlue, 7)}, opt);
  const int row = int(std::lround(p.frame.row(1.0)));
  EXPECT_EQ(pixel(p.image, row, int(std::lround(p.frame.col(0.5)))), kRed);
  EXPECT_EQ(pixel(p.image, row, int(std::lround(p.frame.col(5.5)))), kRed);
  // From x = 1 to x = 5 no point is drawable: nothing is drawn there.
  for (double x : {1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5})
    EXPECT_TRUE(rows_with(p.image, int(std::lround(p.frame.col(x))), kRed).empty()) << "x " << x;
}

TEST(Plot, LogAxisPutsDecadesEvenlyApart) {
  apps::PlotOptions opt;
  opt.width = 300;
  opt.height = 400;
  opt.log_y = true;
  apps::PlotSeries neg = flat("", -1.0, kBlue);  // not drawable on a log axis
  const apps::Plot p =
      apps::render_line_plot({flat("", 10.0, kRed), flat("", 1000.0, kRed), neg}, opt);
  const double r10 = p.frame.row(10), r100 = p.frame.row(100), r1000 = p.frame.row(1000);
  EXPECT_NEAR(r10 - r100, r100 - r1000, 1e-9);
  EXPECT_GT(r10, r1000);
  const int col = (p.frame.left + p.frame.right) / 3;
  EXPECT_EQ(rows_with(p.image, col, kRed),
            (std::vector<int>{int(std::lround(r1000)), int(std::lround(r10))}));
  EXPECT_TRUE(rows_with(p.image, col, kBlue).empty());
}

TEST(Plot, FaintSeriesBlendWithTheBackground) {
  apps::PlotSeries s = flat("", 2.1, {0, 0, 0});  // 2.1: not on a grid line
  s.opacity = 0.25f;
  apps::PlotOptions opt;
  opt.width = 300;
  opt.height = 200;
  const apps::Plot p = apps::render_line_plot({s, flat("", 4.0, kRed)}, opt);
  const int row = int(std::lround(p.frame.row(2.1)));
  // 255 * 0.75 between grid lines; a single blend even where the line's steps overlap.
  EXPECT_EQ(pixel(p.image, row, p.frame.left + 3), (apps::Rgb{191, 191, 191}));
}

TEST(Plot, BadInputIsAnError) {
  apps::PlotOptions opt;
  expect_error([&] { apps::render_line_plot({}, opt); }, "no series");
  apps::PlotSeries empty;
  empty.name = "sem_ann";
  expect_error([&] { apps::render_line_plot({empty}, opt); }, {"'sem_ann'", "no points"});
  apps::PlotSeries odd = flat("ce", 1.0, kRed);
  odd.x.pop_back();
  expect_error([&] { apps::render_line_plot({odd}, opt); }, {"'ce'", "10 x and 11 y"});
  apps::PlotSeries nan = flat("total", kNaN, kRed);
  expect_error([&] { apps::render_line_plot({nan}, opt); }, "no series has a drawable point");
  opt.width = 50;
  expect_error([&] { apps::render_line_plot({flat("a", 1, kRed)}, opt); }, "50x480");
}

TEST(Plot, MovingAverageIsCentredAndSkipsNaN) {
  const std::vector<double> m = apps::moving_average({1, 2, 3, kNaN, 5, 6}, 3);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_DOUBLE_EQ(m[0], 1.5);  // window shrinks at the start: (1 + 2) / 2
  EXPECT_DOUBLE_EQ(m[1], 2.0);
  EXPECT_DOUBLE_EQ(m[2], 2.5);  // (2 + 3) / 2, the NaN left out
  EXPECT_TRUE(std::isnan(m[3]));
  EXPECT_DOUBLE_EQ(m[4], 5.5);
  EXPECT_DOUBLE_EQ(m[5], 5.5);
  expect_error([] { apps::moving_average({1.0}, 0); }, "window 0");
}

TEST(Plot, TicksAndLabels) {
  const std::vector<double> t = apps::nice_ticks(0.0, 1.0, 5);
  ASSERT_EQ(t.size(), 6u);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], 0.2 * double(i), 1e-12);
  EXPECT_EQ(apps::nice_ticks(3, 97, 4), (std::vector<double>{20, 40, 60, 80}));
  EXPECT_EQ(apps::format_tick(0.4, 0.2), "0.4");
  EXPECT_EQ(apps::format_tick(1500, 500), "1500");
  EXPECT_EQ(apps::format_tick(0.0, 0.1), "0");
  EXPECT_EQ(apps::format_tick(-0.25, 0.05), "-0.25");
  EXPECT_EQ(apps::format_tick(1e-5, 1e-5), "1e-5");
}

TEST(Plot, TextUsesTheBitmapFont) {
  engine::Tensor img = engine::Tensor::empty({9, 12, 3}, engine::DType::u8);
  std::memset(img.data<uint8_t>(), 0, size_t(img.numel()));
  apps::draw_text(img, 0, 0, "-1", kRed);
  // '-' is the middle row (row 3) of the first 5 columns.
  for (int c = 0; c < 5; ++c) {
    EXPECT_EQ(pixel(img, 3, c), kRed);
    EXPECT_NE(pixel(img, 2, c), kRed);
  }
  // '1' starts one cell (6 px) on: its stem is column 2 of the glyph on every row.
  for (int r = 0; r < 7; ++r) EXPECT_EQ(pixel(img, r, 6 + 2), kRed) << "row " << r;
  EXPECT_EQ(apps::text_width("-1"), 11);
  EXPECT_EQ(apps::text_height(2), 14);
}

// --- write_report ---

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "report" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 40 steps: total falls 4 -> 2.05, sem_ann tracks half of it, img_sim is off (null).
fs::path write_run(const fs::path& dir) {
  std::string lines;
  for (int s = 1; s <= 40; ++s) {
    const double total = 4.0 - 0.05 * (s - 1);
    lines += "{\"step\": " + std::to_string(s) + ", \"total\": " + std::to_string(total) +
             ", \"sem_ann\": " + std::to_string(total / 2) +
             ", \"img_sim\": null, \"ce\": 0.5, \"lr\": 0.01, \"images_per_s\": " +
             std::to_string(s == 1 ? 1.0 : 8.0) + "}\n";
  }
  write_file(dir / "metrics.jsonl", lines);
  write_file(dir / "config.json",
             "{\"data_root\": \"/tmp/syn\", \"depth\": 101, \"supervision\": \"scribble\", "
             "\"blocks\": [1, 1, 1, "
             "1], \"width\": 8, \"lr\": 0.01, \"unrelated\": true}");
  return dir;
}

const char* kEvalJson = R"({
  "images": 5,
  "num_classes": 3,
  "miou": 0.625,
  "pixel_accuracy": 0.9,
  "mean_class_accuracy": 0.7,
  "classes": [
    {"id": 0, "name": "background", "iou": 0.75, "accuracy": 0.9, "gt_pixels": 100, "pred_pixels": 90},
    {"id": 1, "name": "cat", "iou": 0.5, "accuracy": 0.5, "gt_pixels": 20, "pred_pixels": 30},
    {"id": 2, "name": "dog", "iou": null, "accuracy": null, "gt_pixels": 0, "pred_pixels": 0}
  ]
})";

TEST(Report, WritesMarkdownAndLossPlot) {
  const fs::path dir = fresh_dir("basic");
  const fs::path run = write_run(dir / "run");
  write_file(dir / "miou.json", kEvalJson);
  apps::ReportRequest req;
  req.runs = {{"stage1", run.string()}};
  req.evals = {{"val", (dir / "miou.json").string()}};
  req.out_dir = (dir / "out").string();
  const apps::ReportFiles files = apps::write_report(req);
  ASSERT_EQ(files.images.size(), 1u);
  const engine::Tensor loss = data::read_image((dir / "out" / "loss.png").string());
  EXPECT_EQ(loss.shape(), (engine::Shape{500, 900, 3}));

  const std::string md = read_file(files.markdown);
  for (const char* row :
       {"| id | class | val |", "| 0 | background | 75.0 |", "| 1 | cat | 50.0 |",
        "| 2 | dog | n/a |", "| | **mIoU** | **62.5** |", "| | pixel accuracy | 90.0 |",
        "| | images | 5 |", "| supervision | `scribble` |", "| blocks | `[1,1,1,1]` |",
        "| total | 4.0000 | 2.1250 | 2.0500 | 2.0500 (40) |", "| img_sim | off | | | |",
        "| ce | 0.5000 | 0.5000 | 0.5000 |", "Throughput: 8.00 images/s (median over 39 steps",
        "![losses of stage1](loss.png)"})
    EXPECT_NE(md.find(row), std::string::npos) << "missing: " << row << "\nin:\n" << md;
  EXPECT_EQ(md.find("unrelated"), std::string::npos);
  EXPECT_EQ(md.find("| depth |"), std::string::npos);  // blocks given: depth is not used
  EXPECT_EQ(md.find("sem_occ"), std::string::npos);    // never logged: not a row
}

TEST(Report, SeveralRunsAndEvalsAndOverlays) {
  const fs::path dir = fresh_dir("several");
  write_run(dir / "a");
  write_run(dir / "b");
  write_file(dir / "e1.json", kEvalJson);
  write_file(dir / "e2.json", kEvalJson);
  // A two-image dataset of 24x32 images with ground truth and predictions.
  const fs::path data = dir / "data";
  write_file(data / "ImageSets" / "Segmentation" / "val.txt", "im1\nim2\n");
  fs::create_directories(data / "JPEGImages");
  std::vector<uint8_t> rgb(24 * 32 * 3, 128), ids(24 * 32, 0);
  for (size_t i = 0; i < ids.size() / 2; ++i) ids[i] = 1;
  for (const char* id : {"im1", "im2"}) {
    data::write_jpeg((data / "JPEGImages" / (std::string(id) + ".jpg")).string(),
                     engine::Tensor::from_vector(rgb, {24, 32, 3}));
    fs::create_directories(data / "segcls");
    fs::create_directories(dir / "pred");
    data::write_label_png((data / "segcls" / (std::string(id) + ".png")).string(),
                          engine::Tensor::from_vector(ids, {24, 32}));
    data::write_label_png((dir / "pred" / (std::string(id) + ".png")).string(),
                          engine::Tensor::from_vector(ids, {24, 32}));
  }
  apps::ReportRequest req;
  req.runs = {apps::split_named((dir / "a").string(), false),
              apps::split_named("second=" + (dir / "b").string(), false)};
  req.evals = {apps::split_named((dir / "e1.json").string(), true),
               apps::split_named("crf=" + (dir / "e2.json").string(), true)};
  req.overlays.pred_dir = (dir / "pred").string();
  req.overlays.root = data.string();
  req.overlays.split = "val";
  req.overlays.count = 5;  // more than the list holds: all of it
  req.out_dir = (dir / "out").string();
  const apps::ReportFiles files = apps::write_report(req);
  EXPECT_EQ(files.images.size(), 4u);  // loss.png, loss-a.png, loss-second.png, overlays.png
  for (const char* f : {"loss.png", "loss-a.png", "loss-second.png", "overlays.png"})
    EXPECT_TRUE(fs::is_regular_file(dir / "out" / f)) << f;
  // 32-px images enlarged 4x; three columns with 6-px gaps; a 15-px caption band per row.
  const engine::Tensor grid = data::read_image((dir / "out" / "overlays.png").string());
  EXPECT_EQ(grid.shape(), (engine::Shape{15 + 2 * (15 + 96 + 6), 3 * 128 + 4 * 6, 3}));
  const std::string md = read_file(files.markdown);
  for (const char* row :
       {"## Run `a`", "## Run `second`", "| id | class | e1 | crf |", "| 1 | cat | 50.0 | 50.0 |",
        "First 2 images", "![overlays](overlays.png)"})
    EXPECT_NE(md.find(row), std::string::npos) << "missing: " << row << "\nin:\n" << md;
}

TEST(Report, ClassifierRunsLossIsTheirTotal) {
  const fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "report_classifier_loss";
  fs::create_directories(dir);
  const fs::path file = dir / "metrics.jsonl";
  std::ofstream(file) << "{\"step\": 1, \"loss\": 2.5, \"lr\": 0.01}\n"
                      << "{\"step\": 2, \"loss\": 1.5, \"lr\": 0.02}\n";
  const apps::MetricsLog log = apps::read_metrics_jsonl(file.string());
  ASSERT_EQ(log.step.size(), 2u);
  EXPECT_EQ(log.column("total"), (std::vector<double>{2.5, 1.5}));
  EXPECT_EQ(log.column("lr"), (std::vector<double>{0.01, 0.02}));
  EXPECT_FALSE(log.has_values("loss"));
}

TEST(Report, ErrorsNameTheFileAndKey) {
  const fs::path dir = fresh_dir("errors");
  write_file(dir / "run" / "metrics.jsonl", "{\"step\": 1, \"total\": 2.0}\n{\"step\": 2}\n");
  expect_error([&] { apps::read_metrics_jsonl((dir / "run" / "metrics.jsonl").string()); },
               {"metrics.jsonl:2", "'total'"});
  write_file(dir / "bad.jsonl", "{\"step\": 1, \"total\": 2.0}\nnot json\n");
  expect_error([&] { apps::read_metrics_jsonl((dir / "bad.jsonl").string()); },
               {"bad.jsonl:2", "not valid JSON"});
  write_file(dir / "e.json", "{\"pixel_accuracy\": 0.5, \"classes\": []}");
  expect_error([&] { apps::read_eval_json((dir / "e.json").string(), "x"); }, {"e.json", "'miou'"});
  write_file(dir / "c.json",
             "{\"miou\": 0.5, \"pixel_accuracy\": 0.5, \"classes\": [{\"id\": 0}]}");
  expect_error([&] { apps::read_eval_json((dir / "c.json").string(), "x"); },
               {"c.json", "classes[0]", "'name'"});
  expect_error([&] { apps::read_run("r", (dir / "missing").string()); }, "does not exist");
  apps::ReportRequest req;
  req.out_dir = (dir / "out").string();
  expect_error([&] { apps::write_report(req); }, "nothing to report");
}

}  // namespace
