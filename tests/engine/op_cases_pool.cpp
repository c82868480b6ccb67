// Op table rows: max_pool2d (Init::distinct, so no window has a tie), avg_pool2d and
// adaptive_avg_pool2d on odd NHWC shapes, with stride 2, dilation 2, padding and ceil_mode.
#include "engine/ops/pool.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase pool_case(const char* name, Shape x, Init init, OpFn fn) {
  OpCase c;
  c.name = name;
  c.inputs = {{x, init}};
  c.fn = std::move(fn);
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase stem = pool_case("max/k3s2p1", {2, 7, 9, 3}, Init::distinct,
                          [](const V& x) { return max_pool2d(x[0], 3, 2, 1); });
  stem.bench_inputs = {{{16, 128, 128, 64}, Init::distinct}};
  out.push_back(stem);
  out.push_back(pool_case("max/dilation2", {2, 11, 9, 3}, Init::distinct,
                          [](const V& x) { return max_pool2d(x[0], 3, 1, 1, 2); }));
  out.push_back(pool_case("max/rect_ceil", {3, 11, 5, 4}, Init::distinct, [](const V& x) {
    return max_pool2d(x[0], {3, 2}, {2, 2}, {1, 0}, 1, true);
  }));
  OpCase avg = pool_case("avg/k3s2p1", {2, 7, 9, 3}, Init::normal,
                         [](const V& x) { return avg_pool2d(x[0], 3, 2, 1); });
  avg.bench_inputs = {{{16, 128, 128, 64}}};
  out.push_back(avg);
  out.push_back(pool_case("avg/exclude_pad_ceil", {3, 11, 5, 4}, Init::normal, [](const V& x) {
    return avg_pool2d(x[0], {3, 2}, 2, 1, false, true);
  }));
  out.push_back(pool_case("avg/k2s2", {2, 6, 9, 3}, Init::normal,
                          [](const V& x) { return avg_pool2d(x[0], 2, 2); }));
  OpCase psp = pool_case("adaptive/9x11_to_6x6", {2, 9, 11, 3}, Init::normal,
                         [](const V& x) { return adaptive_avg_pool2d(x[0], 6, 6); });
  psp.bench_inputs = {{{16, 33, 33, 512}}};  // PSPNet's 6-bin pooling of a stride-16 map
  out.push_back(psp);
  out.push_back(pool_case("adaptive/7x5_to_3x2", {2, 7, 5, 4}, Init::normal,
                          [](const V& x) { return adaptive_avg_pool2d(x[0], 3, 2); }));
  out.push_back(pool_case("adaptive/global", {2, 5, 7, 3}, Init::normal,
                          [](const V& x) { return adaptive_avg_pool2d(x[0], 1, 1); }));
  out.push_back(pool_case("adaptive/2x3_to_3x5", {1, 2, 3, 2}, Init::normal,
                          [](const V& x) { return adaptive_avg_pool2d(x[0], 3, 5); }));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(pool, cases);
}  // namespace engine::testing
