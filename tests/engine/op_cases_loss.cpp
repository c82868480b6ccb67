// Op table rows: cross_entropy and nll_loss with class-last scores and integer targets, some of
// them ignored (255). Targets are drawn in [0, C]; the value C is turned into 255 inside fn.
#include "engine/ops/loss.h"
#include "engine/ops/softmax.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

// Target with every value `classes` replaced by the ignore index 255 (same dtype).
Tensor with_ignored(const Tensor& target, int64_t classes) {
  std::vector<int64_t> v = target.to_vector<int64_t>();
  for (int64_t& t : v)
    if (t == classes) t = 255;
  return Tensor::from_vector(v, target.shape()).to(target.dtype());
}

OpCase ce_row(const char* name, Shape logits, DType tdtype, Reduction red, bool nll = false) {
  OpCase c;
  c.name = name;
  int64_t classes = logits.back();
  Shape tshape(logits.begin(), logits.end() - 1);
  InputSpec t{tshape, Init::integers, tdtype, false, 0.0, double(classes + 1)};
  c.inputs = {{logits, Init::normal}, t};
  c.fn = [classes, red, nll](const V& x) {
    Tensor target = with_ignored(x[1], classes);
    if (nll) return nll_loss(log_softmax(x[0], -1), target, 255, red);
    return cross_entropy(x[0], target, 255, red);
  };
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase nhwc = ce_row("cross_entropy/nhwc_mean", {2, 5, 7, 6}, DType::i64, Reduction::mean);
  nhwc.bench_inputs = {{{16, 128, 128, 21}},
                       {{16, 128, 128}, Init::integers, DType::i32, false, 0.0, 21.0}};
  out.push_back(nhwc);
  out.push_back(ce_row("cross_entropy/nhwc_sum_i32", {2, 3, 5, 5}, DType::i32, Reduction::sum));
  out.push_back(ce_row("cross_entropy/rows_none", {9, 5}, DType::i64, Reduction::none));
  out.push_back(ce_row("cross_entropy/rows_mean_i32", {7, 3}, DType::i32, Reduction::mean));
  out.push_back(
      ce_row("nll_loss/log_softmax_mean", {2, 3, 5, 4}, DType::i64, Reduction::mean, true));
  out.push_back(ce_row("nll_loss/rows_none", {9, 5}, DType::i32, Reduction::none, true));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(loss, cases);
}  // namespace engine::testing
