// Op table rows: softmax and log_softmax over the last (NHWC class) dim and other dims.
#include "engine/ops/softmax.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase row(const char* name, Shape shape, OpFn fn) {
  OpCase c;
  c.name = name;
  c.inputs = {{std::move(shape), Init::normal}};
  c.fn = std::move(fn);
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase last =
      row("softmax/nhwc_classes", {2, 5, 7, 21}, [](const V& x) { return softmax(x[0], -1); });
  last.bench_inputs = {{{16, 128, 128, 21}}};
  out.push_back(last);
  out.push_back(row("softmax/dim1", {3, 5, 7}, [](const V& x) { return softmax(x[0], 1); }));
  out.push_back(row("softmax/dim0", {5, 3}, [](const V& x) { return softmax(x[0], 0); }));
  out.push_back(row("softmax/one_class", {4, 1}, [](const V& x) { return softmax(x[0], -1); }));
  OpCase log_last = row("log_softmax/nhwc_classes", {2, 5, 7, 21},
                        [](const V& x) { return log_softmax(x[0], -1); });
  log_last.bench_inputs = {{{16, 128, 128, 21}}};
  out.push_back(log_last);
  out.push_back(
      row("log_softmax/dim_neg3", {2, 5, 7, 3}, [](const V& x) { return log_softmax(x[0], -3); }));
  out.push_back(row("log_softmax/vector", {9}, [](const V& x) { return log_softmax(x[0], 0); }));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(softmax, cases);
}  // namespace engine::testing
