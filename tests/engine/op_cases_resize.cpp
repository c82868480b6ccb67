// Op table rows: bilinear and nearest resizing of NHWC tensors.
#include "engine/ops/elementwise.h"
#include "engine/ops/resize.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase bilinear_case(std::string name, Shape in, int64_t oh, int64_t ow, bool align) {
  OpCase c;
  c.name = std::move(name);
  c.inputs = {{in}};
  c.fn = [=](const V& x) { return resize_bilinear(x[0], oh, ow, align); };
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  for (bool align : {false, true}) {
    std::string tag = align ? "/align" : "/half_pixel";
    OpCase up2 = bilinear_case("bilinear_up_x2" + tag, {2, 5, 7, 3}, 10, 14, align);
    if (!align) {
      // The SPML head's x2 upsampling at a realistic size.
      up2.bench_inputs = {{{16, 128, 128, 64}}};
    }
    out.push_back(up2);
    out.push_back(bilinear_case("bilinear_odd_mixed" + tag, {1, 7, 9, 2}, 15, 4, align));
    out.push_back(bilinear_case("bilinear_down" + tag, {2, 11, 13, 3}, 5, 6, align));
    out.push_back(bilinear_case("bilinear_same" + tag, {1, 5, 7, 3}, 5, 7, align));
    out.push_back(bilinear_case("bilinear_to_1x1" + tag, {1, 3, 5, 2}, 1, 1, align));
    out.push_back(bilinear_case("bilinear_from_1px" + tag, {2, 1, 3, 2}, 3, 7, align));
  }
  // DeepLab's logits upsampling: (H - 1) * 8 + 1 with aligned corners (41 -> 321 at bench size).
  OpCase logits;
  logits.name = "bilinear_logits_x8_plus_1/align";
  logits.inputs = {{{1, 4, 3, 3}}};
  logits.fn = [](const V& x) {
    return resize_bilinear(x[0], (x[0].size(1) - 1) * 8 + 1, (x[0].size(2) - 1) * 8 + 1, true);
  };
  logits.bench_inputs = {{{1, 41, 41, 21}}};
  out.push_back(logits);

  // The bilinear result composed with a nonlinearity, so second use of the saved geometry and a
  // non-constant upstream gradient both matter.
  OpCase chain;
  chain.name = "bilinear_then_tanh_then_down";
  chain.inputs = {{{1, 5, 7, 3}}};
  chain.fn = [](const V& x) {
    return resize_bilinear(tanh(resize_bilinear(x[0], 9, 11, false)), 4, 3, true);
  };
  out.push_back(chain);

  auto nearest_case = [](std::string name, Shape in, int64_t oh, int64_t ow) {
    OpCase c;
    c.name = std::move(name);
    c.inputs = {{in}};
    c.fn = [=](const V& x) { return resize_nearest(x[0], oh, ow); };
    return c;
  };
  out.push_back(nearest_case("nearest_up", {2, 5, 7, 3}, 11, 15));
  out.push_back(nearest_case("nearest_up_x2", {1, 3, 5, 2}, 6, 10));
  out.push_back(nearest_case("nearest_down", {2, 11, 13, 3}, 5, 4));
  out.push_back(nearest_case("nearest_same", {1, 3, 5, 2}, 3, 5));
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(resize, cases);
}  // namespace engine::testing
