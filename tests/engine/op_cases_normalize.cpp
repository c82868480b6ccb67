// Op table rows: l2_normalize over the embedding (last) dim and other dims.
#include "engine/ops/normalize.h"
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
  OpCase emb = row("l2_normalize/nhwc_embedding", {2, 5, 7, 9},
                   [](const V& x) { return l2_normalize(x[0], -1); });
  emb.bench_inputs = {{{16, 128, 128, 64}}};
  out.push_back(emb);
  out.push_back(
      row("l2_normalize/dim1", {3, 5, 7}, [](const V& x) { return l2_normalize(x[0], 1); }));
  out.push_back(row("l2_normalize/dim_neg4", {3, 2, 5, 3},
                    [](const V& x) { return l2_normalize(x[0], -4); }));
  out.push_back(row("l2_normalize/vector", {7}, [](const V& x) { return l2_normalize(x[0], 0); }));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(normalize, cases);
}  // namespace engine::testing
