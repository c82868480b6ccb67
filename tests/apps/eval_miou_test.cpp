// Runs the built eval_miou binary on small label PNGs and checks the numbers it writes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "engine/tensor.h"

namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "eval_miou" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_ids(const fs::path& path, const std::vector<uint8_t>& ids, int64_t h, int64_t w) {
  fs::create_directories(path.parent_path());
  data::write_label_png(path.string(), engine::Tensor::from_vector(ids, {h, w}));
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs eval_miou with `args`; stdout and stderr go to files in `dir`. Returns the exit status.
int run_eval(const fs::path& dir, const std::string& args) {
  const std::string cmd = std::string(ENGINE_APPS_DIR) + "/eval_miou " + args + " >" +
                          (dir / "stdout.txt").string() + " 2>" + (dir / "stderr.txt").string();
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The number after "key": in a JSON text (NaN is null, returned as -1).
double json_value(const std::string& json, const std::string& key) {
  const std::string tag = "\"" + key + "\": ";
  const size_t at = json.find(tag);
  EXPECT_NE(at, std::string::npos) << key << " not in " << json;
  if (at == std::string::npos) return -2;
  if (json.compare(at + tag.size(), 4, "null") == 0) return -1;
  return std::stod(json.substr(at + tag.size()));
}

// A VOC-layout root with 3 classes and two 2x3 images:
//   a: gt 0 0 1 / 1 2 255   pred 0 1 1 / 1 2 2   -> (0,0) (0,1) (1,1) (1,1) (2,2), 1 ignored
//   b: gt 2 2 2 / 0 0 0     pred 2 2 0 / 0 0 0   -> (2,2)x2 (2,0) (0,0)x3
// total: TP0 = 4, gt0 = 5, pred0 = 5 -> IoU 4/6; TP1 = 2, gt1 = 2, pred1 = 3 -> 2/3;
//        TP2 = 3, gt2 = 4, pred2 = 3 -> 3/4.  pixel acc = 9/11.
fs::path make_root(const std::string& name) {
  fs::path root = fresh_dir(name);
  write_text(root / "ImageSets" / "Segmentation" / "val.txt", "a\nb\n");
  write_text(root / "classes.txt", "background\nsquare\ncircle\n");
  write_ids(root / "segcls" / "a.png", {0, 0, 1, 1, 2, 255}, 2, 3);
  write_ids(root / "segcls" / "b.png", {2, 2, 2, 0, 0, 0}, 2, 3);
  write_ids(root / "pred" / "a.png", {0, 1, 1, 1, 2, 2}, 2, 3);
  write_ids(root / "pred" / "b.png", {2, 2, 0, 0, 0, 0}, 2, 3);
  return root;
}

TEST(EvalMiouApp, ScoresAVocLayoutRoot) {
  fs::path root = make_root("voc");
  const std::string args = "--root " + root.string() + " --split val --pred-dir " +
                           (root / "pred").string() + " --json " + (root / "m.json").string() +
                           " --csv " + (root / "m.csv").string() + " --threads 2 --confusion";
  ASSERT_EQ(run_eval(root, args), 0) << read_text(root / "stderr.txt");
  const std::string json = read_text(root / "m.json");
  EXPECT_NEAR(json_value(json, "miou"), (4.0 / 6 + 2.0 / 3 + 3.0 / 4) / 3, 1e-9) << json;
  EXPECT_NEAR(json_value(json, "pixel_accuracy"), 9.0 / 11, 1e-9);
  EXPECT_EQ(json_value(json, "images"), 2);
  EXPECT_EQ(json_value(json, "ignored_pixels"), 1);
  EXPECT_NE(json.find("\"name\": \"circle\""), std::string::npos) << json;
  const std::string csv = read_text(root / "m.csv");
  EXPECT_NE(csv.find("\n1,square,0.6666666667,1,2,3\n"), std::string::npos) << csv;
  const std::string out = read_text(root / "stdout.txt");
  EXPECT_NE(out.find("square"), std::string::npos) << out;
  EXPECT_NE(out.find("GT \\ pred"), std::string::npos) << out;  // --confusion
}

TEST(EvalMiouApp, MissingPredictionFailsOrCountsAsWrong) {
  fs::path root = make_root("missing");
  fs::remove(root / "pred" / "b.png");
  const std::string base = "--gt-dir " + (root / "segcls").string() + " --pred-dir " +
                           (root / "pred").string() + " --num-classes 3 --quiet";
  EXPECT_EQ(run_eval(root, base), 1);
  const std::string err = read_text(root / "stderr.txt");
  EXPECT_NE(err.find("1 of 2 predictions are missing"), std::string::npos) << err;
  EXPECT_NE(err.find((root / "pred" / "b.png").string()), std::string::npos) << err;

  ASSERT_EQ(run_eval(root, base + " --allow-missing --json " + (root / "m.json").string()), 0)
      << read_text(root / "stderr.txt");
  // b's six GT pixels are all misses: TP0 = 1, gt0 = 5, pred0 = 1 -> 1/5; class 1 as before
  // (2/3); TP2 = 1, gt2 = 4, pred2 = 1 -> 1/4.  pixel acc = 4/11.
  const std::string json = read_text(root / "m.json");
  EXPECT_NEAR(json_value(json, "miou"), (1.0 / 5 + 2.0 / 3 + 1.0 / 4) / 3, 1e-9) << json;
  EXPECT_NEAR(json_value(json, "pixel_accuracy"), 4.0 / 11, 1e-9);
  EXPECT_EQ(json_value(json, "missing_predictions"), 1);
}

TEST(EvalMiouApp, SizeMismatchNamesBothFiles) {
  fs::path root = make_root("size");
  write_ids(root / "pred" / "b.png", {0, 0, 0, 0}, 2, 2);
  EXPECT_EQ(run_eval(root, "--root " + root.string() + " --split val --quiet --pred-dir " +
                               (root / "pred").string()),
            1);
  const std::string err = read_text(root / "stderr.txt");
  EXPECT_NE(err.find((root / "pred" / "b.png").string() + "' is 2x2"), std::string::npos) << err;
  EXPECT_NE(err.find((root / "segcls" / "b.png").string() + "' is 2x3"), std::string::npos) << err;
}

TEST(EvalMiouApp, DenseposeModeAndAbsentClassesCountedAsZero) {
  fs::path root = fresh_dir("densepose");
  write_text(root / "ImageSets" / "Segmentation" / "val.txt", "p\n");
  write_ids(root / "segcls" / "densepose" / "gray" / "p.png", {0, 0, 14, 14}, 2, 2);
  write_ids(root / "pred" / "p.png", {0, 0, 14, 1}, 2, 2);
  ASSERT_EQ(run_eval(root, "--densepose --absent zero --quiet --root " + root.string() +
                               " --split val --pred-dir " + (root / "pred").string() + " --json " +
                               (root / "m.json").string()),
            0)
      << read_text(root / "stderr.txt");
  // IoU bg = 1, head = 1/2, torso = 0 (predicted, never GT); 12 absent parts count as 0 of 15.
  const std::string json = read_text(root / "m.json");
  EXPECT_NEAR(json_value(json, "miou"), 1.5 / 15, 1e-9) << json;
  EXPECT_EQ(json_value(json, "num_classes"), 15);
  EXPECT_NE(json.find("\"name\": \"Head\""), std::string::npos) << json;
}

TEST(EvalMiouApp, BadArgumentsFailClearly) {
  fs::path dir = fresh_dir("args");
  EXPECT_EQ(run_eval(dir, "--pred-dir " + dir.string()), 1);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--root and --split"), std::string::npos);
  EXPECT_EQ(run_eval(dir, "--help"), 0);
  EXPECT_NE(read_text(dir / "stdout.txt").find("--allow-missing"), std::string::npos);
}

}  // namespace
