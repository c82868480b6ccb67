// report: turns training runs and evaluation results into a Markdown report with loss curves
// and prediction overlays (the last step of scripts/demo.sh).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "apps/common/report_writer.h"

int main(int argc, char** argv) {
  std::vector<std::string> run_args, eval_args;
  apps::ReportRequest req;
  CLI::App app{
      "Writes a short report of SPML runs as Markdown with pictures:\n"
      "  OUT/report.md      settings, first/final/min losses, throughput, per-class IoU\n"
      "  OUT/loss.png       total and per-relation losses against the step (thick: moving\n"
      "                     average; faint: every step). With several --run: the totals\n"
      "                     compared, and each run's losses in OUT/loss-<name>.png\n"
      "  OUT/overlays.png   --overlays N: image | ground truth | prediction for the first N\n"
      "                     images of the split\n\n"
      "Inputs:\n"
      "  --run [NAME=]RUN       a run folder written by train_voc (RUN/metrics.jsonl, whose\n"
      "                         lines need 'step' and 'total'; RUN/config.json is optional)\n"
      "  --eval [LABEL=]FILE    the JSON written by `eval_miou --json FILE`; several make a\n"
      "                         column each in the IoU table\n"
      "  --pred-dir P --root ROOT --split S --overlays N   prediction PNGs P/<id>.png shown\n"
      "                         over ROOT/JPEGImages/<id>.jpg next to ROOT/segcls/<id>.png\n\n"
      "Example: report --run demo-out/stage1 --eval val=demo-out/miou.json --pred-dir\n"
      "         demo-out/pred --root demo-out/data --split val --overlays 6 --out "
      "demo-out/report",
      "report"};
  app.add_option("--run", run_args, "A run folder, optionally named: NAME=RUN");
  app.add_option("--eval", eval_args, "An eval_miou JSON, optionally labelled: LABEL=FILE");
  app.add_option("--pred-dir", req.overlays.pred_dir, "Predicted label PNGs for the overlays");
  app.add_option("--root", req.overlays.root, "Dataset root (VOC layout) for the overlays");
  app.add_option("--split", req.overlays.split, "Split whose first images are shown")
      ->capture_default_str();
  app.add_option("--overlays", req.overlays.count, "How many images to show (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--gt-subdir", req.overlays.gt_dir, "Ground-truth folder under ROOT")
      ->capture_default_str();
  app.add_option("--title", req.title, "Report title")->capture_default_str();
  app.add_option("--smooth", req.smooth_window,
                 "Moving-average window in steps (0: about 1/25 of the run)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_flag("--log-y", req.log_y, "Loss plots on a logarithmic axis");
  app.add_option("--out", req.out_dir, "Output folder (created if missing)")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    for (const std::string& a : run_args) req.runs.push_back(apps::split_named(a, false));
    for (const std::string& a : eval_args) req.evals.push_back(apps::split_named(a, true));
    if (req.overlays.count > 0 && req.overlays.split.empty()) req.overlays.split = "val";
    const apps::ReportFiles files = apps::write_report(req);
    std::printf("report: %s\n", files.markdown.c_str());
    for (const std::string& f : files.images) std::printf("  %s\n", f.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report: %s\n", e.what());
    return 1;
  }
  return 0;
}
