// conv2d against a direct-loop convolution written here (the independent reference), for many
// parameter combinations, forward and both backward halves; plus error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/ops/conv.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"

namespace engine {
namespace {

using ::testing::HasSubstr;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

struct Problem {
  int64_t n, h, w, c, o, kh, kw;
  Conv2dParams p;
  bool bias;
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) {
  int64_t span = in + 2 * pad - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

// Direct 7-deep loop; also accumulates grad_x and grad_w for a given grad_y.
struct Naive {
  std::vector<double> y, gx, gw;
};

Naive naive_conv(const Problem& q, const std::vector<double>& x, const std::vector<double>& w,
                 const std::vector<double>& b, const std::vector<double>& gy) {
  const auto& p = q.p;
  int64_t ho = out_size(q.h, q.kh, p.stride[0], p.padding[0], p.dilation[0]);
  int64_t wo = out_size(q.w, q.kw, p.stride[1], p.padding[1], p.dilation[1]);
  int64_t cg = q.c / p.groups, og = q.o / p.groups;
  Naive r;
  r.y.assign(size_t(q.n * ho * wo * q.o), 0.0);
  r.gx.assign(x.size(), 0.0);
  r.gw.assign(w.size(), 0.0);
  for (int64_t n = 0; n < q.n; ++n)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow)
        for (int64_t o = 0; o < q.o; ++o) {
          int64_t yi = ((n * ho + oh) * wo + ow) * q.o + o;
          double acc = q.bias ? b[size_t(o)] : 0.0;
          int64_t grp = o / og;
          for (int64_t i = 0; i < q.kh; ++i)
            for (int64_t j = 0; j < q.kw; ++j) {
              int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
              int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
              if (ih < 0 || ih >= q.h || iw < 0 || iw >= q.w) continue;
              for (int64_t cc = 0; cc < cg; ++cc) {
                int64_t xi = ((n * q.h + ih) * q.w + iw) * q.c + grp * cg + cc;
                int64_t wi = ((o * q.kh + i) * q.kw + j) * cg + cc;
                acc += x[size_t(xi)] * w[size_t(wi)];
                r.gx[size_t(xi)] += gy[size_t(yi)] * w[size_t(wi)];
                r.gw[size_t(wi)] += gy[size_t(yi)] * x[size_t(xi)];
              }
            }
          r.y[size_t(yi)] = acc;
        }
  return r;
}

Conv2dParams make_params(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw,
                         int64_t groups) {
  Conv2dParams p;
  p.stride = {sh, sw};
  p.padding = {ph, pw};
  p.dilation = {dh, dw};
  p.groups = groups;
  return p;
}

template <typename T>
void check_against_naive(const Problem& q, double tol) {
  SCOPED_TRACE(::testing::Message()
               << "input [" << q.n << "," << q.h << "," << q.w << "," << q.c << "] weight [" << q.o
               << "," << q.kh << "," << q.kw << "," << q.c / q.p.groups << "] stride "
               << q.p.stride[0] << "," << q.p.stride[1] << " pad " << q.p.padding[0] << ","
               << q.p.padding[1] << " dil " << q.p.dilation[0] << "," << q.p.dilation[1]
               << " groups " << q.p.groups << " bias " << q.bias);
  DType dt = std::is_same_v<T, double> ? DType::f64 : DType::f32;
  Generator gen(7);
  Tensor x = randn({q.n, q.h, q.w, q.c}, gen, 0, 1, dt).set_requires_grad();
  Tensor w = randn({q.o, q.kh, q.kw, q.c / q.p.groups}, gen, 0, 1, dt).set_requires_grad();
  Tensor b = q.bias ? randn({q.o}, gen, 0, 1, dt).set_requires_grad() : Tensor();
  Tensor y = conv2d(x, w, b, q.p);
  Tensor gy = randn(y.shape(), gen, 0, 1, dt);
  y.backward(gy);
  Naive r =
      naive_conv(q, x.to_vector<double>(), w.to_vector<double>(),
                 q.bias ? b.to_vector<double>() : std::vector<double>{}, gy.to_vector<double>());
  auto expect_near = [tol](const std::vector<double>& got, const std::vector<double>& want,
                           const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
  };
  expect_near(y.to_vector<double>(), r.y, "output");
  expect_near(x.grad().to_vector<double>(), r.gx, "grad_input");
  expect_near(w.grad().to_vector<double>(), r.gw, "grad_weight");
  if (q.bias) {
    std::vector<double> gb(size_t(q.o), 0.0);
    std::vector<double> g = gy.to_vector<double>();
    for (size_t i = 0; i < g.size(); ++i) gb[i % size_t(q.o)] += g[i];
    expect_near(b.grad().to_vector<double>(), gb, "grad_bias");
  }
}

std::vector<Problem> problems() {
  std::vector<Problem> out;
  // A grid over kernel size, stride, padding, dilation and groups on odd spatial sizes.
  for (int64_t k : {1, 2, 3, 5})
    for (int64_t s : {1, 2, 3})
      for (int64_t pad : {0, 1, 2})
        for (int64_t d : {1, 2})
          for (int64_t groups : {1, 2}) {
            Problem q{2,
                      9,
                      7,
                      4,
                      6,
                      k,
                      k,
                      make_params(s, s, pad, pad, d, d, groups),
                      (k + s + pad) % 2 == 0};
            if (out_size(q.h, k, s, pad, d) <= 0 || out_size(q.w, k, s, pad, d) <= 0) continue;
            out.push_back(q);
          }
  out.push_back({1, 11, 9, 3, 5, 7, 7, make_params(2, 2, 3, 3, 1, 1, 1), true});   // stem
  out.push_back({1, 7, 11, 3, 4, 3, 5, make_params(2, 1, 1, 2, 1, 2, 1), false});  // rectangular
  out.push_back({1, 5, 7, 6, 6, 3, 3, make_params(1, 1, 1, 1, 1, 1, 6), true});    // depthwise
  out.push_back({3, 5, 5, 8, 4, 1, 1, make_params(1, 1, 0, 0, 1, 1, 4), true});    // 1x1 grouped
  return out;
}

TEST(Conv2d, MatchesDirectLoopF64) {
  for (const Problem& q : problems()) check_against_naive<double>(q, 1e-10);
}

TEST(Conv2d, MatchesDirectLoopF32) {
  for (const Problem& q : problems()) check_against_naive<float>(q, 1e-4);
}

TEST(Conv2d, LargeTiledCaseMatchesDirectLoop) {
  // 3198 output rows of 1152 columns: several 4 MB im2col tiles and the parallel col2im path.
  check_against_naive<float>({2, 41, 39, 128, 16, 3, 3, make_params(1, 1, 1, 1, 1, 1, 1), true},
                             1e-4);
  // Threaded paths with stride, dilation and groups; rows split mid-image between threads.
  check_against_naive<float>({3, 23, 19, 64, 32, 3, 3, make_params(2, 2, 2, 2, 2, 2, 2), true},
                             1e-4);
  // Threaded 1x1 paths (no im2col), grouped.
  check_against_naive<float>({2, 21, 19, 128, 64, 1, 1, make_params(1, 1, 0, 0, 1, 1, 2), true},
                             1e-4);
  // Large enough to thread but a single output pixel: fewer rows than threads.
  check_against_naive<double>({1, 1, 1, 1024, 2048, 1, 1, make_params(1, 1, 0, 0, 1, 1, 1), true},
                              1e-10);
  check_against_naive<double>({1, 1, 1, 256, 1024, 3, 3, make_params(1, 1, 1, 1, 1, 1, 1), true},
                              1e-10);
  check_against_naive<double>({3, 23, 19, 64, 32, 3, 3, make_params(2, 1, 2, 1, 2, 1, 2), false},
                              1e-10);
}

TEST(Conv2d, HandComputedSum) {
  // All-ones 3x3 input and 2x2 kernel of ones, padding 1: each output counts covered pixels.
  Tensor x = ones({1, 3, 3, 1});
  Tensor w = ones({1, 2, 2, 1});
  Tensor y = conv2d(x, w, Tensor(), make_params(1, 1, 1, 1, 1, 1, 1));
  EXPECT_EQ(y.shape(), (Shape{1, 4, 4, 1}));
  EXPECT_THAT(y.to_vector<float>(),
              ::testing::ElementsAre(1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1));
}

TEST(Conv2d, Errors) {
  EXPECT_THAT(error_of([] {
                conv2d(ones({2, 9, 9, 16}), ones({64, 3, 3, 32}));
              }),
              HasSubstr("conv2d: weight [64, 3, 3, 32] with groups 1 expects input channels 32, "
                        "input is [2, 9, 9, 16]"));
  Conv2dParams g3;
  g3.groups = 3;
  EXPECT_THAT(error_of([&] {
                conv2d(ones({1, 5, 5, 4}), ones({6, 1, 1, 1}), Tensor(), g3);
              }),
              HasSubstr("conv2d: groups 3 must divide the input channels of input [1, 5, 5, 4]"));
  EXPECT_THAT(error_of([&] {
                conv2d(ones({1, 5, 5, 6}), ones({4, 1, 1, 2}), Tensor(), g3);
              }),
              HasSubstr("conv2d: groups 3 must divide the output channels of weight [4, 1, 1, 2]"));
  EXPECT_THAT(error_of([] {
                conv2d(ones({1, 2, 2, 1}), ones({1, 3, 3, 1}));
              }),
              HasSubstr("conv2d: output size 0x0 is empty"));
  EXPECT_THAT(error_of([] {
                conv2d(ones({1, 5, 5}), ones({1, 3, 3, 1}));
              }),
              HasSubstr("conv2d: input must be NHWC [N, H, W, C], got [1, 5, 5]"));
  EXPECT_THAT(error_of([] {
                conv2d(ones({1, 5, 5, 1}), ones({2, 3, 3, 1}), ones({3}));
              }),
              HasSubstr("conv2d: bias [3] must be [2]"));
  Conv2dParams s0;
  s0.stride = {0, 1};
  EXPECT_THAT(error_of([&] {
                conv2d(ones({1, 5, 5, 1}), ones({1, 3, 3, 1}), Tensor(), s0);
              }),
              HasSubstr("conv2d: stride {0, 1}"));
  EXPECT_THAT(error_of([] {
                conv2d_backward_input(ones({1, 4, 4, 2}), ones({2, 3, 3, 1}), {1, 5, 5, 1});
              }),
              HasSubstr("conv2d_backward_input: grad_y is [1, 4, 4, 2], the convolution's output "
                        "is [1, 3, 3, 2]"));
}

}  // namespace
}  // namespace engine
