#include "engine/ops/conv.h"

#include "engine/kernels/conv.h"
#include "engine/ops/common.h"
#include "engine/ops/reduce.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

// Validates the shapes and settings of a convolution and derives its geometry. `op` names the
// public function in errors.
ConvGeometry make_geometry(const char* op, const Shape& in, const Shape& wt,
                           const Conv2dParams& p) {
  ENGINE_CHECK(in.size() == 4, "{}: input must be NHWC [N, H, W, C], got {}", op, shape_str(in));
  ENGINE_CHECK(wt.size() == 4, "{}: weight must be [O, KH, KW, C/groups], got {}", op,
               shape_str(wt));
  ENGINE_CHECK(p.groups >= 1, "{}: groups must be >= 1, got {}", op, p.groups);
  for (int i = 0; i < 2; ++i) {
    ENGINE_CHECK(p.stride[i] >= 1 && p.dilation[i] >= 1 && p.padding[i] >= 0,
                 "{}: stride {{{}, {}}} and dilation {{{}, {}}} must be >= 1 and padding "
                 "{{{}, {}}} >= 0",
                 op, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.padding[0],
                 p.padding[1]);
  }
  ConvGeometry g;
  g.n = in[0], g.h = in[1], g.w = in[2], g.c = in[3];
  g.o = wt[0], g.kh = wt[1], g.kw = wt[2];
  ENGINE_CHECK(g.c % p.groups == 0, "{}: groups {} must divide the input channels of input {}", op,
               p.groups, shape_str(in));
  ENGINE_CHECK(g.o % p.groups == 0, "{}: groups {} must divide the output channels of weight {}",
               op, p.groups, shape_str(wt));
  ENGINE_CHECK(wt[3] * p.groups == g.c,
               "{}: weight {} with groups {} expects input channels {}, input is {}", op,
               shape_str(wt), p.groups, wt[3] * p.groups, shape_str(in));
  ENGINE_CHECK(g.kh >= 1 && g.kw >= 1, "{}: weight {} has an empty kernel", op, shape_str(wt));
  g.sh = p.stride[0], g.sw = p.stride[1];
  g.ph = p.padding[0], g.pw = p.padding[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1];
  g.groups = p.groups;
  const int64_t span_h = g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1;
  const int64_t span_w = g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1;
  g.ho = span_h < 0 ? 0 : span_h / g.sh + 1;
  g.wo = span_w < 0 ? 0 : span_w / g.sw + 1;
  ENGINE_CHECK(g.ho > 0 && g.wo > 0,
               "{}: output size {}x{} is empty: input {} is smaller than the dilated kernel of "
               "weight {} (padding {{{}, {}}}, dilation {{{}, {}}})",
               op, g.ho, g.wo, shape_str(in), shape_str(wt), g.ph, g.pw, g.dh, g.dw);
  return g;
}

Shape output_shape(const ConvGeometry& g) {
  return {g.n, g.ho, g.wo, g.o};
}

void check_operands(const char* op, const char* an, const Tensor& a, const char* bn,
                    const Tensor& b) {
  ops::check_floating(op, an, a);
  ops::check_floating(op, bn, b);
  ops::check_same_dtype(op, an, a, bn, b);
  ops::check_same_device(op, an, a, bn, b);
}

void check_grad_y(const char* op, const ConvGeometry& g, const Tensor& grad_y) {
  Shape want = output_shape(g);
  ENGINE_CHECK(grad_y.shape() == want, "{}: grad_y is {}, the convolution's output is {}", op,
               shape_str(grad_y.shape()), shape_str(want));
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dParams& params) {
  const char* op = "conv2d";
  check_operands(op, "input", input, "weight", weight);
  ConvGeometry g = make_geometry(op, input.shape(), weight.shape(), params);
  if (bias.defined()) {
    check_operands(op, "input", input, "bias", bias);
    ENGINE_CHECK(bias.dim() == 1 && bias.size(0) == g.o,
                 "conv2d: bias {} must be [{}] for weight {}", shape_str(bias.shape()), g.o,
                 shape_str(weight.shape()));
  }
  Tensor x = input.contiguous(), w = weight.contiguous();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty(output_shape(g), input.dtype(), input.device());
  ops::dispatch_float(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::conv2d_forward<T>(g, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr,
                               out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::conv2d_forward(g, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr,
                             out.data<T>());
      });
  const bool gx = input.requires_grad(), gw = weight.requires_grad();
  const bool gb = bias.defined() && bias.requires_grad();
  Tensor sx = gw ? autograd::save(input) : Tensor();
  Tensor sw = gx ? autograd::save(weight) : Tensor();
  Shape in_shape = input.shape(), w_shape = weight.shape();
  autograd::record(op, {input, weight, bias}, {&out}, [=](const G& gr) {
    const Tensor& gy = gr[0];
    return G{gx ? conv2d_backward_input(gy, sw, in_shape, params) : Tensor(),
             gw ? conv2d_backward_weight(sx, gy, w_shape, params) : Tensor(),
             gb ? sum(gy, {0, 1, 2}) : Tensor()};
  });
  return out;
}

Tensor conv2d_backward_input(const Tensor& grad_y, const Tensor& weight, const Shape& input_shape,
                             const Conv2dParams& params) {
  const char* op = "conv2d_backward_input";
  check_operands(op, "grad_y", grad_y, "weight", weight);
  ConvGeometry g = make_geometry(op, input_shape, weight.shape(), params);
  check_grad_y(op, g, grad_y);
  Tensor gy = grad_y.contiguous(), w = weight.contiguous();
  Tensor out = Tensor::empty(input_shape, grad_y.dtype(), grad_y.device());
  ops::dispatch_float(
      op, gy,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::conv2d_backward_input<T>(g, gy.data<T>(), w.data<T>(), out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::conv2d_backward_input(g, gy.data<T>(), w.data<T>(), out.data<T>());
      });
  // Linear in both operands: <out, G> = <conv2d(G, weight), grad_y>.
  const bool ggy = grad_y.requires_grad(), gw = weight.requires_grad();
  Tensor s_gy = gw ? autograd::save(grad_y) : Tensor();
  Tensor s_w = ggy ? autograd::save(weight) : Tensor();
  Shape w_shape = weight.shape();
  autograd::record(op, {grad_y, weight}, {&out}, [=](const G& gr) {
    return G{ggy ? conv2d(gr[0], s_w, Tensor(), params) : Tensor(),
             gw ? conv2d_backward_weight(gr[0], s_gy, w_shape, params) : Tensor()};
  });
  return out;
}

Tensor conv2d_backward_weight(const Tensor& input, const Tensor& grad_y, const Shape& weight_shape,
                              const Conv2dParams& params) {
  const char* op = "conv2d_backward_weight";
  check_operands(op, "input", input, "grad_y", grad_y);
  ConvGeometry g = make_geometry(op, input.shape(), weight_shape, params);
  check_grad_y(op, g, grad_y);
  Tensor x = input.contiguous(), gy = grad_y.contiguous();
  Tensor out = Tensor::empty(weight_shape, input.dtype(), input.device());
  ops::dispatch_float(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::conv2d_backward_weight<T>(g, x.data<T>(), gy.data<T>(), out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::conv2d_backward_weight(g, x.data<T>(), gy.data<T>(), out.data<T>());
      });
  // Linear in both operands: <out, G> = <conv2d(input, G), grad_y>.
  const bool gx = input.requires_grad(), ggy = grad_y.requires_grad();
  Tensor s_x = ggy ? autograd::save(input) : Tensor();
  Tensor s_gy = gx ? autograd::save(grad_y) : Tensor();
  Shape in_shape = input.shape();
  autograd::record(op, {input, grad_y}, {&out}, [=](const G& gr) {
    return G{gx ? conv2d_backward_input(s_gy, gr[0], in_shape, params) : Tensor(),
             ggy ? conv2d(s_x, gr[0], Tensor(), params) : Tensor()};
  });
  return out;
}

}  // namespace engine
