// CUDA elementwise kernels on layouts the op table does not build: views with arbitrary strides
// and offsets (no 128-bit loads), sizes with a tail after the float4 part, large broadcasts,
// where/masked_fill with broadcast conditions and comparisons of every integer dtype. Skipped
// without a GPU.
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaElementwise = CudaTest;

TEST_F(CudaElementwise, BinaryOnViewsAndBroadcastsMatchesTheCpu) {
  Generator g(51);
  Tensor a = rand({6, 17, 9, 13}, g, 0.5, 2.0), b = rand({9, 13}, g, 0.5, 2.0);
  Tensor col = rand({6, 1, 9, 1}, g, 0.5, 2.0);
  Tensor ac = on_cuda(a), bc = on_cuda(b), colc = on_cuda(col);
  Tensor at = a.permute({0, 3, 1, 2}), atc = ac.permute({0, 3, 1, 2});
  Tensor as = a.slice(1, 1, 16, 2), asc = ac.slice(1, 1, 16, 2);
  expect_close(add(ac, bc).cpu(), add(a, b), 0.0, 0.0, "add broadcast rows");
  expect_close(mul(ac, colc).cpu(), mul(a, col), 0.0, 0.0, "mul broadcast columns");
  expect_close(div(atc, 3.0).cpu(), div(at, 3.0), 0.0, 1e-7, "div on a permuted view");
  expect_close(sub(asc, asc).cpu(), sub(as, as), 0.0, 0.0, "sub on a strided slice");
  expect_close(pow(asc, colc.slice(1, 0, 1)).cpu(), pow(as, col.slice(1, 0, 1)), 0.0, 1e-6, "pow");
  expect_close(maximum(ac, bc).cpu(), maximum(a, b), 0.0, 0.0, "maximum");
  // Dense with a 3-element tail and a view starting one float in (scalar path).
  Tensor d = rand({4099}, g), dv = d.slice(0, 1, 4099);
  Tensor dc = on_cuda(d), dvc = dc.slice(0, 1, 4099);
  expect_close(add(dc, dc).cpu(), add(d, d), 0.0, 0.0, "add dense with tail");
  expect_close(mul(dvc, dvc).cpu(), mul(dv, dv), 0.0, 0.0, "mul unaligned view");
}

TEST_F(CudaElementwise, UnaryClampWhereMatchTheCpu) {
  Generator g(52);
  Tensor x = rand({5, 1031}, g, 0.1, 3.0), xs = x.slice(1, 3, 1000, 3);
  Tensor xc = on_cuda(x), xsc = xc.slice(1, 3, 1000, 3);
  expect_close(exp(xc).cpu(), exp(x), 0.0, 1e-6, "exp");
  expect_close(log(xsc).cpu(), log(xs), 1e-7, 1e-6, "log on a view");
  expect_close(sqrt(xc).cpu(), sqrt(x), 0.0, 1e-7, "sqrt");
  expect_close(rsqrt(xc).cpu(), rsqrt(x), 0.0, 1e-6, "rsqrt");
  expect_close(sigmoid(neg(xc)).cpu(), sigmoid(neg(x)), 1e-7, 1e-6, "sigmoid");
  expect_close(tanh(xsc).cpu(), tanh(xs), 1e-7, 1e-6, "tanh on a view");
  expect_close(relu(sub(xc, 1.5)).cpu(), relu(sub(x, 1.5)), 0.0, 0.0, "relu");
  expect_close(clamp(xsc, 0.5, 2.0).cpu(), clamp(xs, 0.5, 2.0), 0.0, 0.0, "clamp on a view");
  Tensor cond = gt(rand({5, 1}, g), 0.5);
  Tensor y = rand({1031}, g);
  expect_close(where(on_cuda(cond), xc, on_cuda(y)).cpu(), where(cond, x, y), 0.0, 0.0,
               "where broadcast");
  Tensor mask = lt(x, 1.0);
  expect_close(masked_fill(xc, on_cuda(mask), -3.0).cpu(), masked_fill(x, mask, -3.0), 0.0, 0.0,
               "masked_fill");
}

TEST_F(CudaElementwise, ComparisonsOfEveryDtype) {
  Generator g(53);
  for (DType dt : {DType::f32, DType::i32, DType::i64, DType::u8, DType::boolean}) {
    Tensor a = randint({7, 33}, 0, 3, g, dt), b = randint({33}, 0, 3, g, dt);
    Tensor ac = on_cuda(a), bc = on_cuda(b);
    expect_identical(eq(ac, bc).cpu(), eq(a, b), "eq");
    expect_identical(ne(ac, bc).cpu(), ne(a, b), "ne");
    expect_identical(lt(ac, bc).cpu(), lt(a, b), "lt");
    expect_identical(le(ac, bc).cpu(), le(a, b), "le");
    expect_identical(gt(ac, bc).cpu(), gt(a, b), "gt");
    expect_identical(ge(ac, bc).cpu(), ge(a, b), "ge");
    expect_identical(logical_and(ac, bc).cpu(), logical_and(a, b), "logical_and");
  }
  Tensor f = randn({100}, g);
  expect_identical(logical_not(on_cuda(gt(f, 0.0))).cpu(), logical_not(gt(f, 0.0)), "logical_not");
}

}  // namespace
}  // namespace engine::testing
