#include "engine/ops/elementwise.h"

#include "engine/kernels/elementwise.h"
#include "engine/ops/common.h"
#include "engine/ops/reduce.h"

namespace engine {

using ops::broadcast_layout;
using ops::layout_of;
using G = std::vector<Tensor>;

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "add";
    case BinaryOp::sub:
      return "sub";
    case BinaryOp::mul:
      return "mul";
    case BinaryOp::div:
      return "div";
    case BinaryOp::pow:
      return "pow";
    case BinaryOp::maximum:
      return "maximum";
    case BinaryOp::minimum:
      return "minimum";
  }
  return "binary";
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
      return "neg";
    case UnaryOp::exp:
      return "exp";
    case UnaryOp::log:
      return "log";
    case UnaryOp::sqrt:
      return "sqrt";
    case UnaryOp::rsqrt:
      return "rsqrt";
    case UnaryOp::abs:
      return "abs";
    case UnaryOp::relu:
      return "relu";
    case UnaryOp::sigmoid:
      return "sigmoid";
    case UnaryOp::tanh:
      return "tanh";
  }
  return "unary";
}

// Forward of a binary op, without autograd.
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  ops::check_floating(name, "a", a);
  ops::check_floating(name, "b", b);
  ops::check_same_dtype(name, "a", a, "b", b);
  ops::check_same_device(name, "a", a, "b", b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  Layout la = broadcast_layout(a, shape), lb = broadcast_layout(b, shape);
  ops::dispatch_float(
      name, a,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::binary<T>(op, a.data<T>(), la, b.data<T>(), lb, out.data<T>(), out.numel());
      },
      [&](auto) {
        cuda::binary(op, a.data<float>(), la, b.data<float>(), lb, out.data<float>(), out.numel());
      });
  return out;
}

Tensor unary_forward(UnaryOp op, const Tensor& x) {
  const char* name = unary_name(op);
  ops::check_floating(name, "x", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  ops::dispatch_float(
      name, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::unary<T>(op, x.data<T>(), layout_of(x), out.data<T>(), out.numel());
      },
      [&](auto) {
        cuda::unary(op, x.data<float>(), layout_of(x), out.data<float>(), out.numel());
      });
  return out;
}

Tensor compare_forward(CompareOp op, const Tensor& a, const Tensor& b, const char* name) {
  ops::check_defined(name, "a", a);
  ops::check_defined(name, "b", b);
  ops::check_same_dtype(name, "a", a, "b", b);
  ops::check_same_device(name, "a", a, "b", b);
  ENGINE_CHECK(a.dtype() != DType::bf16 && a.dtype() != DType::f16,
               "{}: compare {} tensors after to(f32)", name, dtype_name(a.dtype()));
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, DType::boolean, a.device());
  if (out.numel() == 0) return out;
  Layout la = broadcast_layout(a, shape), lb = broadcast_layout(b, shape);
  if (a.device().is_cuda()) {
#if ENGINE_WITH_CUDA
    ENGINE_CHECK(a.dtype() != DType::f64, "{}: f64 tensors on {} have no CUDA kernel; use f32",
                 name, a.device().str());
    cuda::DeviceGuard guard(a.device().index);
    cuda::NvtxRange range(name);
    dispatch_dtype(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t> || std::is_same_v<T, uint8_t> ||
                    std::is_same_v<T, bool>) {
        cuda::compare<T>(op, a.data<T>(), la, b.data<T>(), lb, out.data<bool>(), out.numel());
      }
    });
    return out;
#else
    ops::no_kernel(name, a);
#endif
  }
  if (!a.device().is_cpu()) ops::no_kernel(name, a);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, BF16> || std::is_same_v<T, F16>) {
      return;
    } else {
      cpu::compare<T>(op, a.data<T>(), la, b.data<T>(), lb, out.data<bool>(), out.numel());
    }
  });
  return out;
}

// Sum a gradient down to an input's shape; undefined when the input needs none.
Tensor grad_for(const Tensor& g, const Tensor& input_meta, bool needed) {
  return needed ? sum_to(g, input_meta.shape()) : Tensor();
}

}  // namespace

Tensor scalar_like(double value, const Tensor& like) {
  return Tensor::empty({}, like.dtype(), like.device()).fill_(value);
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::add, a, b);
  Shape sa = a.shape(), sb = b.shape();
  bool ga = a.requires_grad(), gb = b.requires_grad();
  autograd::record("add", {a, b}, {&out}, [=](const G& g) {
    return G{ga ? sum_to(g[0], sa) : Tensor(), gb ? sum_to(g[0], sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::sub, a, b);
  Shape sa = a.shape(), sb = b.shape();
  bool ga = a.requires_grad(), gb = b.requires_grad();
  autograd::record("sub", {a, b}, {&out}, [=](const G& g) {
    return G{ga ? sum_to(g[0], sa) : Tensor(), gb ? sum_to(neg(g[0]), sb) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::mul, a, b);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = ga || gb ? autograd::save(a) : Tensor(), sb = ga || gb ? autograd::save(b) : Tensor();
  autograd::record("mul", {a, b}, {&out}, [=](const G& g) {
    return G{grad_for(ga ? mul(g[0], sb) : Tensor(), sa, ga),
             grad_for(gb ? mul(g[0], sa) : Tensor(), sb, gb)};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::div, a, b);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = autograd::save(a), sb = autograd::save(b);
  autograd::record("div", {a, b}, {&out}, [=](const G& g) {
    Tensor da = ga ? div(g[0], sb) : Tensor();
    Tensor db = gb ? neg(div(mul(g[0], sa), mul(sb, sb))) : Tensor();
    return G{grad_for(da, sa, ga), grad_for(db, sb, gb)};
  });
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::pow, a, b);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = autograd::save(a), sb = autograd::save(b), so = autograd::save(out);
  autograd::record("pow", {a, b}, {&out}, [=](const G& g) {
    Tensor da = ga ? mul(g[0], mul(sb, pow(sa, sub(sb, 1.0)))) : Tensor();
    Tensor db = gb ? mul(g[0], mul(so, log(sa))) : Tensor();
    return G{grad_for(da, sa, ga), grad_for(db, sb, gb)};
  });
  return out;
}

namespace {
Tensor extremum(BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(op, a, b);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = autograd::save(a), sb = autograd::save(b);
  autograd::record(binary_name(op), {a, b}, {&out}, [=](const G& g) {
    Tensor a_wins = op == BinaryOp::maximum ? ge(sa, sb) : le(sa, sb);
    Tensor zero = scalar_like(0.0, g[0]);
    Tensor da = ga ? where(a_wins, g[0], zero) : Tensor();
    Tensor db = gb ? where(a_wins, zero, g[0]) : Tensor();
    return G{grad_for(da, sa, ga), grad_for(db, sb, gb)};
  });
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum(BinaryOp::maximum, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum(BinaryOp::minimum, a, b);
}

Tensor add(const Tensor& a, double b) {
  return add(a, scalar_like(b, a));
}
Tensor sub(const Tensor& a, double b) {
  return sub(a, scalar_like(b, a));
}
Tensor sub(double a, const Tensor& b) {
  return sub(scalar_like(a, b), b);
}
Tensor mul(const Tensor& a, double b) {
  return mul(a, scalar_like(b, a));
}
Tensor div(const Tensor& a, double b) {
  return div(a, scalar_like(b, a));
}
Tensor div(double a, const Tensor& b) {
  return div(scalar_like(a, b), b);
}

Tensor pow(const Tensor& a, double exponent) {
  Tensor out = binary_forward(BinaryOp::pow, a, scalar_like(exponent, a));
  Tensor sa = autograd::save(a);
  autograd::record("pow_scalar", {a}, {&out}, [=](const G& g) {
    return G{mul(g[0], mul(pow(sa, exponent - 1.0), exponent))};
  });
  return out;
}

Tensor neg(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::neg, x);
  autograd::record("neg", {x}, {&out}, [](const G& g) { return G{neg(g[0])}; });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::exp, x);
  Tensor so = autograd::save(out);
  autograd::record("exp", {x}, {&out}, [=](const G& g) { return G{mul(g[0], so)}; });
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::log, x);
  Tensor sx = autograd::save(x);
  autograd::record("log", {x}, {&out}, [=](const G& g) { return G{div(g[0], sx)}; });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::sqrt, x);
  Tensor so = autograd::save(out);
  autograd::record("sqrt", {x}, {&out}, [=](const G& g) { return G{div(mul(g[0], 0.5), so)}; });
  return out;
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::rsqrt, x);
  Tensor so = autograd::save(out);
  autograd::record("rsqrt", {x}, {&out},
                   [=](const G& g) { return G{mul(g[0], mul(pow(so, 3.0), -0.5))}; });
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::abs, x);
  Tensor sx = autograd::save(x);
  autograd::record("abs", {x}, {&out}, [=](const G& g) {
    Tensor zero = scalar_like(0.0, g[0]);
    Tensor pos = where(gt(sx, 0.0), g[0], zero);
    return G{sub(pos, where(lt(sx, 0.0), g[0], zero))};
  });
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::relu, x);
  Tensor so = autograd::save(out);
  autograd::record("relu", {x}, {&out},
                   [=](const G& g) { return G{where(gt(so, 0.0), g[0], scalar_like(0.0, g[0]))}; });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::sigmoid, x);
  Tensor so = autograd::save(out);
  autograd::record("sigmoid", {x}, {&out},
                   [=](const G& g) { return G{mul(g[0], mul(so, sub(1.0, so)))}; });
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::tanh, x);
  Tensor so = autograd::save(out);
  autograd::record("tanh", {x}, {&out},
                   [=](const G& g) { return G{mul(g[0], sub(1.0, mul(so, so)))}; });
  return out;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  ops::check_floating("clamp", "x", x);
  ENGINE_CHECK(lo <= hi, "clamp: lo {} > hi {}", lo, hi);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  ops::dispatch_float(
      "clamp", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::clamp<T>(x.data<T>(), layout_of(x), T(lo), T(hi), out.data<T>(), out.numel());
      },
      [&](auto) {
        cuda::clamp(x.data<float>(), layout_of(x), float(lo), float(hi), out.data<float>(),
                    out.numel());
      });
  Tensor sx = autograd::save(x);
  autograd::record("clamp", {x}, {&out}, [=](const G& g) {
    Tensor inside = logical_and(ge(sx, scalar_like(lo, sx)), le(sx, scalar_like(hi, sx)));
    return G{where(inside, g[0], scalar_like(0.0, g[0]))};
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  ops::check_dtype("where", "cond", cond, {DType::boolean, DType::u8});
  ops::check_floating("where", "a", a);
  ops::check_same_dtype("where", "a", a, "b", b);
  ops::check_same_device("where", "a", a, "b", b);
  ops::check_same_device("where", "cond", cond, "a", a);
  Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const auto* c = static_cast<const uint8_t*>(cond.raw_data());
  Layout lc = broadcast_layout(cond, shape), la = broadcast_layout(a, shape),
         lb = broadcast_layout(b, shape);
  ops::dispatch_float(
      "where", a,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::where<T>(c, lc, a.data<T>(), la, b.data<T>(), lb, out.data<T>(), out.numel());
      },
      [&](auto) {
        cuda::where(c, lc, a.data<float>(), la, b.data<float>(), lb, out.data<float>(),
                    out.numel());
      });
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sc = autograd::save(cond);
  Shape sa = a.shape(), sb = b.shape();
  autograd::record("where", {a, b}, {&out}, [=](const G& g) {
    Tensor zero = scalar_like(0.0, g[0]);
    return G{ga ? sum_to(where(sc, g[0], zero), sa) : Tensor(),
             gb ? sum_to(where(sc, zero, g[0]), sb) : Tensor()};
  });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  Tensor out = where(mask, scalar_like(value, x), x);
  ENGINE_CHECK(out.shape() == x.shape(), "masked_fill: mask {} does not broadcast to x {}",
               shape_str(mask.shape()), shape_str(x.shape()));
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::eq, a, b, "eq");
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::ne, a, b, "ne");
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::lt, a, b, "lt");
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::le, a, b, "le");
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::gt, a, b, "gt");
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::ge, a, b, "ge");
}
Tensor eq(const Tensor& a, double b) {
  return eq(a, scalar_like(b, a));
}
Tensor ne(const Tensor& a, double b) {
  return ne(a, scalar_like(b, a));
}
Tensor lt(const Tensor& a, double b) {
  return lt(a, scalar_like(b, a));
}
Tensor gt(const Tensor& a, double b) {
  return gt(a, scalar_like(b, a));
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare_forward(CompareOp::logical_and, a.to(DType::boolean), b.to(DType::boolean),
                         "logical_and");
}

Tensor logical_not(const Tensor& a) {
  return eq(a.to(DType::boolean), scalar_like(0.0, a.to(DType::boolean)));
}

}  // namespace engine
