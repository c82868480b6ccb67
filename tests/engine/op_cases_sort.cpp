// Op table rows: sort, topk, argsort. Values are Init::distinct so that no tie can flip under
// the finite-difference steps. Indices join the result scaled down (they are not
// differentiable), so the determinism check covers them too.
#include "engine/ops/elementwise.h"
#include "engine/ops/sort.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

Tensor combine(const SortResult& r) {
  return r.values + r.indices.to(r.values.dtype()) * 1e-3;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  auto add = [&](const char* name, Shape shape, OpFn fn) {
    OpCase c;
    c.name = name;
    c.inputs = {{std::move(shape), Init::distinct}};
    c.fn = std::move(fn);
    out.push_back(c);
    return &out.back();
  };
  OpCase* s = add("sort/last_dim", {3, 7}, [](const V& x) { return combine(sort(x[0])); });
  s->bench_inputs = {{{2048, 1000}, Init::distinct}};
  add("sort/dim0_descending", {5, 3, 4}, [](const V& x) { return combine(sort(x[0], 0, true)); });
  add("sort/neg_dim_middle", {2, 9, 3}, [](const V& x) { return combine(sort(x[0], -2)); });
  add("topk/largest_sorted", {4, 9}, [](const V& x) { return combine(topk(x[0], 3)); });
  add("topk/smallest_dim0", {7, 3, 2}, [](const V& x) { return combine(topk(x[0], 2, 0, false)); });
  add("topk/unsorted_middle", {3, 11, 2},
      [](const V& x) { return combine(topk(x[0], 5, 1, true, false)); });
  add("argsort/descending", {3, 7}, [](const V& x) {
    // argsort is not differentiable: x carries the gradient, the indices ride along.
    return x[0] * 1.0 + argsort(x[0], -1, true).to(x[0].dtype()) * 1e-3;
  });
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(sort, cases);
}  // namespace engine::testing
