#include "engine/ops/pool.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/kernels/pool.h"
#include "engine/ops/common.h"

namespace engine {

using G = std::vector<Tensor>;

namespace {

PoolShape input_shape(const char* op, const Tensor& x) {
  ops::check_floating(op, "x", x);
  ENGINE_CHECK(x.dim() == 4, "{}: x {} must be 4-d NHWC [N, H, W, C]", op, shape_str(x.shape()));
  PoolShape s;
  s.n = x.size(0);
  s.h = x.size(1);
  s.w = x.size(2);
  s.c = x.size(3);
  return s;
}

int64_t pooled_size(const char* op, const char* dim, int64_t in, int64_t kernel, int64_t stride,
                    int64_t pad, int64_t dilation, bool ceil_mode, const Tensor& x) {
  ENGINE_CHECK(kernel > 0 && stride > 0 && dilation > 0 && pad >= 0,
               "{}: {} needs kernel, stride, dilation > 0 and padding >= 0, got kernel {} "
               "stride {} padding {} dilation {}",
               op, dim, kernel, stride, pad, dilation);
  ENGINE_CHECK(pad <= kernel / 2, "{}: {} padding {} exceeds half the kernel {}", op, dim, pad,
               kernel);
  int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  int64_t out = (span >= 0 ? (span + (ceil_mode ? stride - 1 : 0)) / stride : -1) + 1;
  if (ceil_mode && out > 0 && (out - 1) * stride >= in + pad) --out;
  ENGINE_CHECK(out >= 1,
               "{}: x {} is too small in {} for kernel {} dilation {} padding {} (output size {})",
               op, shape_str(x.shape()), dim, kernel, dilation, pad, out);
  return out;
}

// Bins shared by the avg-pool forward and backward (the backward of one is the other).
struct Bins {
  std::vector<int64_t> h_start, h_end, w_start, w_end;
  std::vector<double> inv_count;
  cpu::AvgBins view() const {
    return {h_start.data(), h_end.data(), w_start.data(), w_end.data(), inv_count.data()};
  }
};

// The bins copied to `device` (small: O(OH + OW) values), and the view of that copy.
struct DeviceBins {
  Tensor bounds, inv_count;
  DeviceBins(const Bins& b, Device device) {
    std::vector<int64_t> all;
    for (const auto* v : {&b.h_start, &b.h_end, &b.w_start, &b.w_end})
      all.insert(all.end(), v->begin(), v->end());
    bounds = Tensor::from_vector<int64_t>(all, {int64_t(all.size())}).to(device);
    inv_count = Tensor::from_vector<double>(b.inv_count, {int64_t(b.inv_count.size())}).to(device);
  }
  cpu::AvgBins view(const Bins& b) const {
    const int64_t* p = bounds.data<int64_t>();
    const int64_t oh = int64_t(b.h_start.size()), ow = int64_t(b.w_start.size());
    return {p, p + oh, p + 2 * oh, p + 2 * oh + ow, inv_count.data<double>()};
  }
};

Tensor avg_bins_backward(const Tensor& dy, const std::shared_ptr<const Bins>& bins,
                         const PoolShape& s);

// Pools x [N, H, W, C] over `bins`; recorded so that its gradient is avg_bins_backward.
Tensor avg_bins_forward(const char* op, const Tensor& x, const std::shared_ptr<const Bins>& bins,
                        const PoolShape& s) {
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty({s.n, s.out_h, s.out_w, s.c}, x.dtype(), x.device());
  ops::dispatch_float(
      op, xc,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::avg_pool2d<T>(xc.data<T>(), s, bins->view(), out.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        DeviceBins db(*bins, x.device());
        cuda::avg_pool2d(xc.data<T>(), s, db.view(*bins), out.data<T>());
      });
  autograd::record(op, {x}, {&out},
                   [=](const G& g) { return G{avg_bins_backward(g[0], bins, s)}; });
  return out;
}

Tensor avg_bins_backward(const Tensor& dy, const std::shared_ptr<const Bins>& bins,
                         const PoolShape& s) {
  Tensor gc = dy.contiguous();
  Tensor dx = Tensor::empty({s.n, s.h, s.w, s.c}, dy.dtype(), dy.device());
  ops::dispatch_float(
      "avg_pool2d_backward", gc,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::avg_pool2d_backward<T>(gc.data<T>(), s, bins->view(), dx.data<T>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        DeviceBins db(*bins, dy.device());
        cuda::avg_pool2d_backward(gc.data<T>(), s, db.view(*bins), dx.data<T>());
      });
  autograd::record("avg_pool2d_backward", {dy}, {&dx},
                   [=](const G& g) { return G{avg_bins_forward("avg_pool2d", g[0], bins, s)}; });
  return dx;
}

}  // namespace

MaxPoolResult max_pool2d_with_indices(const Tensor& x, PoolSize2 kernel, PoolSize2 stride,
                                      PoolSize2 padding, PoolSize2 dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  PoolShape s = input_shape(op, x);
  PoolWindow win{kernel.h,  kernel.w,  stride.h,   stride.w,
                 padding.h, padding.w, dilation.h, dilation.w};
  s.out_h = pooled_size(op, "height", s.h, win.kernel_h, win.stride_h, win.pad_h, win.dilation_h,
                        ceil_mode, x);
  s.out_w = pooled_size(op, "width", s.w, win.kernel_w, win.stride_w, win.pad_w, win.dilation_w,
                        ceil_mode, x);
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty({s.n, s.out_h, s.out_w, s.c}, x.dtype(), x.device());
  Tensor idx = Tensor::empty(out.shape(), DType::i64, x.device());
  ops::dispatch_float(
      op, xc,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::max_pool2d<T>(xc.data<T>(), s, win, out.data<T>(), idx.data<int64_t>());
      },
      [&](auto tag) {
        using T = decltype(tag);
        cuda::max_pool2d(xc.data<T>(), s, win, out.data<T>(), idx.data<int64_t>());
      });
  Tensor sidx = autograd::save(idx);
  autograd::record(op, {x}, {&out}, [=](const G& g) {
    Tensor gc = g[0].contiguous();
    Tensor dx = Tensor::empty({s.n, s.h, s.w, s.c}, gc.dtype(), gc.device());
    ops::dispatch_float(
        "max_pool2d_backward", gc,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::max_pool2d_backward<T>(gc.data<T>(), sidx.data<int64_t>(), s, win, dx.data<T>());
        },
        [&](auto tag) {
          using T = decltype(tag);
          cuda::max_pool2d_backward(gc.data<T>(), sidx.data<int64_t>(), s, win, dx.data<T>());
        });
    return G{dx};
  });
  return {out, idx};
}

Tensor max_pool2d(const Tensor& x, PoolSize2 kernel, PoolSize2 stride, PoolSize2 padding,
                  PoolSize2 dilation, bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel, stride, padding, dilation, ceil_mode).out;
}

Tensor avg_pool2d(const Tensor& x, PoolSize2 kernel, PoolSize2 stride, PoolSize2 padding,
                  bool count_include_pad, bool ceil_mode) {
  const char* op = "avg_pool2d";
  PoolShape s = input_shape(op, x);
  s.out_h = pooled_size(op, "height", s.h, kernel.h, stride.h, padding.h, 1, ceil_mode, x);
  s.out_w = pooled_size(op, "width", s.w, kernel.w, stride.w, padding.w, 1, ceil_mode, x);
  auto bins = std::make_shared<Bins>();
  // Window sizes clipped to the padded input (what count_include_pad divides by).
  std::vector<int64_t> padded_h(size_t(s.out_h)), padded_w(size_t(s.out_w));
  auto fill = [](int64_t out, int64_t in, int64_t k, int64_t st, int64_t p,
                 std::vector<int64_t>& start, std::vector<int64_t>& end,
                 std::vector<int64_t>& padded) {
    start.resize(size_t(out));
    end.resize(size_t(out));
    for (int64_t o = 0; o < out; ++o) {
      int64_t a = o * st - p, b = std::min(a + k, in + p);
      padded[size_t(o)] = b - a;
      start[size_t(o)] = std::max<int64_t>(a, 0);
      end[size_t(o)] = std::min(b, in);
    }
  };
  fill(s.out_h, s.h, kernel.h, stride.h, padding.h, bins->h_start, bins->h_end, padded_h);
  fill(s.out_w, s.w, kernel.w, stride.w, padding.w, bins->w_start, bins->w_end, padded_w);
  bins->inv_count.resize(size_t(s.out_h * s.out_w));
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      int64_t count = count_include_pad ? padded_h[size_t(oh)] * padded_w[size_t(ow)]
                                        : (bins->h_end[size_t(oh)] - bins->h_start[size_t(oh)]) *
                                              (bins->w_end[size_t(ow)] - bins->w_start[size_t(ow)]);
      bins->inv_count[size_t(oh * s.out_w + ow)] = count > 0 ? 1.0 / double(count) : 0.0;
    }
  }
  return avg_bins_forward(op, x, bins, s);
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  const char* op = "adaptive_avg_pool2d";
  PoolShape s = input_shape(op, x);
  ENGINE_CHECK(out_h >= 1 && out_w >= 1, "adaptive_avg_pool2d: output size {}x{} must be >= 1",
               out_h, out_w);
  ENGINE_CHECK(s.h >= 1 && s.w >= 1, "adaptive_avg_pool2d: x {} has an empty spatial dim",
               shape_str(x.shape()));
  s.out_h = out_h;
  s.out_w = out_w;
  auto bins = std::make_shared<Bins>();
  auto fill = [](int64_t out, int64_t in, std::vector<int64_t>& start, std::vector<int64_t>& end) {
    start.resize(size_t(out));
    end.resize(size_t(out));
    for (int64_t o = 0; o < out; ++o) {
      start[size_t(o)] = o * in / out;                  // floor
      end[size_t(o)] = ((o + 1) * in + out - 1) / out;  // ceil
    }
  };
  fill(out_h, s.h, bins->h_start, bins->h_end);
  fill(out_w, s.w, bins->w_start, bins->w_end);
  bins->inv_count.resize(size_t(out_h * out_w));
  for (int64_t oh = 0; oh < out_h; ++oh)
    for (int64_t ow = 0; ow < out_w; ++ow)
      bins->inv_count[size_t(oh * out_w + ow)] =
          1.0 / double((bins->h_end[size_t(oh)] - bins->h_start[size_t(oh)]) *
                       (bins->w_end[size_t(ow)] - bins->w_start[size_t(ow)]));
  return avg_bins_forward(op, x, bins, s);
}

}  // namespace engine
