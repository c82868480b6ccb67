// Op table rows: reductions beyond sum/mean (max/min with indices, amax/amin, var).
// Max-like rows use Init::distinct so no two elements tie (ties have no derivative).
#include "engine/ops/reduce.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase row(const char* name, Shape shape, Init init, OpFn fn) {
  OpCase c;
  c.name = name;
  c.inputs = {{std::move(shape), init}};
  c.fn = std::move(fn);
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  out.push_back(
      row("max/dim1", {3, 5, 7}, Init::distinct, [](const V& x) { return max(x[0], 1).values; }));
  out.push_back(row("max/dim0_keepdim", {5, 7, 3}, Init::distinct,
                    [](const V& x) { return max(x[0], 0, true).values; }));
  out.push_back(row("min/dim_neg_keepdim", {2, 5, 7, 3}, Init::distinct,
                    [](const V& x) { return min(x[0], -2, true).values; }));
  out.push_back(
      row("min/last", {3, 7}, Init::distinct, [](const V& x) { return min(x[0], -1).values; }));
  out.push_back(row("max/full", {5, 7}, Init::distinct, [](const V& x) { return max(x[0]); }));
  out.push_back(row("min/full", {3, 5, 3}, Init::distinct, [](const V& x) { return min(x[0]); }));
  OpCase amax_nhw = row("amax/nhw", {2, 5, 7, 3}, Init::distinct, [](const V& x) {
    return amax(x[0], {0, 1, 2});
  });
  amax_nhw.bench_inputs = {{{16, 128, 128, 64}, Init::normal}};
  out.push_back(amax_nhw);
  out.push_back(row("amax/hw_keepdim", {2, 5, 7, 3}, Init::distinct, [](const V& x) {
    return amax(x[0], {1, 2}, true);
  }));
  out.push_back(row("amin/scattered_dims", {3, 5, 7}, Init::distinct, [](const V& x) {
    return amin(x[0], {0, -1});
  }));
  out.push_back(row("amin/all", {5, 7}, Init::distinct, [](const V& x) { return amin(x[0]); }));
  OpCase var_nhw = row("var/nhw_unbiased", {2, 5, 7, 3}, Init::normal, [](const V& x) {
    return var(x[0], {0, 1, 2});
  });
  var_nhw.bench_inputs = {{{16, 128, 128, 64}, Init::normal}};
  out.push_back(var_nhw);
  out.push_back(row("var/last_biased_keepdim", {3, 5, 7}, Init::normal,
                    [](const V& x) { return var(x[0], {-1}, false, true); }));
  out.push_back(row("var/scattered_dims", {3, 5, 7}, Init::normal, [](const V& x) {
    return var(x[0], {0, 2});
  }));
  out.push_back(row("var/all", {5, 7}, Init::normal, [](const V& x) { return var(x[0]); }));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(reduce, cases);
}  // namespace engine::testing
