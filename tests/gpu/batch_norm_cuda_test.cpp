// CUDA batch norm at sizes the op table does not reach (its rows have C <= 8 and at most a few
// hundred rows): many channel blocks and channel tails (C = 67, 100, 1000), the float4 and scalar
// paths, hundreds of row chunks, a large mean; training forward, running buffers, backward, and
// eval with the updated buffers, against the CPU. Skipped without a GPU.
#include "engine/ops/batch_norm.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaBatchNorm = CudaTest;

// Training, then eval with the buffers training updated, on the CPU and on CUDA from the same
// values: outputs, running buffers and the gradients of x, weight, bias (and the residual, for
// batch_norm_add_relu) must agree.
void check_batch_norm(const Shape& shape, double x_mean, double x_std, bool residual) {
  Generator g(51);
  const int64_t C = shape.back();
  Tensor x = randn(shape, g, x_mean, x_std), res = randn(shape, g);
  Tensor w = rand({C}, g, 0.5, 1.5), b = randn({C}, g), seed = randn(shape, g);
  Tensor rm0 = randn({C}, g), rv0 = rand({C}, g, 0.5, 2.0);
  struct Side {
    Tensor x, res, w, b, rm, rv;
  };
  auto make = [&](Device d) {
    Side s{x.to(d).clone(), res.to(d).clone(), w.to(d).clone(),
           b.to(d).clone(), rm0.to(d).clone(), rv0.to(d).clone()};
    s.x.set_requires_grad(true);
    s.res.set_requires_grad(true);
    s.w.set_requires_grad(true);
    s.b.set_requires_grad(true);
    return s;
  };
  Side a = make(Device::cpu()), c = make(Device::cuda(0));
  for (bool training : {true, false}) {
    auto run = [&](Side& s) {
      return residual ? batch_norm_add_relu(s.x, s.res, s.w, s.b, s.rm, s.rv, training, 0.1, 1e-5)
                      : batch_norm(s.x, s.w, s.b, s.rm, s.rv, training, 0.1, 1e-5);
    };
    const char* mode = training ? "train" : "eval";
    Tensor ya = run(a), yc = run(c);
    ASSERT_EQ(yc.device(), Device::cuda(0));
    expect_close(yc.cpu(), ya, 1e-4, 1e-4, mode);
    // Training updated the buffers (eval reads them).
    expect_close(c.rm.cpu(), a.rm, 1e-5, 1e-4, "running_mean");
    expect_close(c.rv.cpu(), a.rv, 1e-5, 1e-4, "running_var");
    sum(mul(ya, seed)).backward();
    sum(mul(yc, on_cuda(seed))).backward();
    expect_close(c.x.grad().cpu(), a.x.grad(), 1e-4, 1e-3, "dx");
    expect_close(c.w.grad().cpu(), a.w.grad(), 1e-3, 1e-4, "dweight");
    expect_close(c.b.grad().cpu(), a.b.grad(), 1e-3, 1e-4, "dbias");
    if (residual) expect_close(c.res.grad().cpu(), a.res.grad(), 0.0, 0.0, "dresidual");
    for (Side* s : {&a, &c}) {
      s->x.zero_grad();
      s->res.zero_grad();
      s->w.zero_grad();
      s->b.zero_grad();
    }
  }
}

TEST_F(CudaBatchNorm, WideAndLongInputsMatchTheCpu) {
  check_batch_norm({4, 40, 40, 100}, 0.0, 1.0, false);  // float4, one channel block with a tail
  check_batch_norm({3, 50, 50, 67}, 0.0, 1.0, false);   // scalar loads, three channel blocks
  check_batch_norm({2, 9, 9, 1000}, 0.0, 1.0, false);   // many channel blocks, few rows
  check_batch_norm({70000, 5}, 5.0, 0.5, false);        // ~1000 row chunks, |mean| >> std
  check_batch_norm({2, 16, 16, 36}, 0.0, 1.0, true);    // fused add + ReLU
}

}  // namespace
}  // namespace engine::testing
