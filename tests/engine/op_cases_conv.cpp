// Op table rows: conv2d over small odd NHWC shapes covering padding, stride, dilation, groups,
// 1x1 (the no-im2col path), the 7x7 stem, rectangular kernels and no bias; plus the two backward
// halves as ops of their own (their gradients are conv2d's second derivatives).
#include "engine/ops/conv.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

double conv_flops(const V& x, const Conv2dParams& p) {
  const Tensor& in = x[0];
  const Tensor& w = x[1];
  int64_t kh = w.size(1), kw = w.size(2);
  int64_t ho = (in.size(1) + 2 * p.padding[0] - p.dilation[0] * (kh - 1) - 1) / p.stride[0] + 1;
  int64_t wo = (in.size(2) + 2 * p.padding[1] - p.dilation[1] * (kw - 1) - 1) / p.stride[1] + 1;
  return 2.0 * double(in.size(0) * ho * wo) * double(w.numel());
}

OpCase conv_case(const char* name, Shape in, Shape w, bool bias, Conv2dParams p) {
  OpCase c;
  c.name = name;
  c.inputs = {{in}, {w}};
  if (bias) c.inputs.push_back({{w[0]}});
  c.fn = [p, bias](const V& x) { return conv2d(x[0], x[1], bias ? x[2] : Tensor(), p); };
  c.flops = [p](const V& x) { return conv_flops(x, p); };
  return c;
}

Conv2dParams params(int64_t s, int64_t pad, int64_t d = 1, int64_t groups = 1) {
  Conv2dParams p;
  p.stride = {s, s};
  p.padding = {pad, pad};
  p.dilation = {d, d};
  p.groups = groups;
  return p;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase c3 = conv_case("conv2d/3x3_pad1", {2, 7, 9, 4}, {6, 3, 3, 4}, true, params(1, 1));
  c3.bench_inputs = {{{2, 56, 56, 256}}, {{256, 3, 3, 256}}, {{256}}};
  out.push_back(c3);
  out.push_back(conv_case("conv2d/3x3_stride2", {1, 9, 11, 3}, {4, 3, 3, 3}, true, params(2, 1)));
  OpCase dil =
      conv_case("conv2d/3x3_dilation2_pad2", {1, 9, 7, 3}, {4, 3, 3, 3}, true, params(1, 2, 2));
  dil.bench_inputs = {{{1, 42, 42, 256}}, {{256, 3, 3, 256}}, {{256}}};
  out.push_back(dil);
  out.push_back(
      conv_case("conv2d/3x3_groups2", {2, 7, 7, 4}, {6, 3, 3, 2}, true, params(1, 1, 1, 2)));
  OpCase one = conv_case("conv2d/1x1", {2, 7, 9, 5}, {3, 1, 1, 5}, true, params(1, 0));
  one.bench_inputs = {{{1, 42, 42, 1024}}, {{256, 1, 1, 1024}}, {{256}}};
  out.push_back(one);
  out.push_back(conv_case("conv2d/1x1_stride2", {1, 9, 7, 4}, {3, 1, 1, 4}, false, params(2, 0)));
  out.push_back(
      conv_case("conv2d/1x1_groups2", {1, 5, 7, 4}, {6, 1, 1, 2}, true, params(1, 0, 1, 2)));
  OpCase stem =
      conv_case("conv2d/7x7_stride2_pad3_stem", {1, 11, 9, 3}, {4, 7, 7, 3}, false, params(2, 3));
  stem.bench_inputs = {{{2, 224, 224, 3}}, {{64, 7, 7, 3}}};
  out.push_back(stem);
  Conv2dParams rect;
  rect.stride = {2, 1};
  rect.padding = {1, 2};
  rect.dilation = {1, 2};
  out.push_back(conv_case("conv2d/rect_3x5_no_bias", {1, 7, 11, 3}, {4, 3, 5, 3}, false, rect));

  // Second derivatives: each backward half is itself an op with its own backward.
  Conv2dParams p2 = params(2, 1, 1, 2);
  OpCase bi;
  bi.name = "conv2d_backward_input/stride2_groups2";
  bi.inputs = {{{1, 4, 5, 4}}, {{4, 3, 3, 2}}};  // grad_y of a [1, 7, 9, 4] input
  bi.fn = [p2](const V& x) { return conv2d_backward_input(x[0], x[1], {1, 7, 9, 4}, p2); };
  out.push_back(bi);
  Conv2dParams pd = params(1, 2, 2);
  OpCase bw;
  bw.name = "conv2d_backward_weight/dilation2";
  bw.inputs = {{{1, 7, 9, 3}}, {{1, 7, 9, 4}}};
  bw.fn = [pd](const V& x) { return conv2d_backward_weight(x[0], x[1], {4, 3, 3, 3}, pd); };
  out.push_back(bw);
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(conv, cases);
}  // namespace engine::testing
