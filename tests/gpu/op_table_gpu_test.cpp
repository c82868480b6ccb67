// The op conformance table on CUDA: every row runs on the CPU and on cuda:0 from the same f32
// inputs; outputs and the gradients of the differentiable inputs (backward of sum(out * w) for a
// fixed random w) must agree within the row's device tolerances. Rows run with strict FP32; the
// GEMM and convolution families run once more with TF32 under TF32-sized tolerances. Skipped
// without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/kernels/runtime.h"
#include "engine/ops/factory.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

struct Tolerance {
  double atol, rtol;
};

// Empty when every element of `got` is within atol + rtol * |want| of `want` (NaNs must match);
// otherwise a description of the mismatches and the worst one.
std::string compare(const Tensor& got_t, const Tensor& want_t, Tolerance tol) {
  if (got_t.shape() != want_t.shape())
    return "shape " + shape_str(got_t.shape()) + " on CUDA, " + shape_str(want_t.shape()) +
           " on the CPU";
  std::vector<double> got = got_t.cpu().to_vector<double>();
  std::vector<double> want = want_t.to_vector<double>();
  size_t bad = 0, worst = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool nan_g = std::isnan(got[i]), nan_w = std::isnan(want[i]);
    double excess;
    if (nan_g || nan_w) {
      excess = nan_g == nan_w ? 0.0 : INFINITY;
    } else if (std::isinf(got[i]) || std::isinf(want[i])) {
      excess = got[i] == want[i] ? 0.0 : INFINITY;
    } else {
      excess = std::abs(got[i] - want[i]) - (tol.atol + tol.rtol * std::abs(want[i]));
    }
    if (excess > 0) {
      ++bad;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
  }
  if (bad == 0) return {};
  std::ostringstream os;
  os << bad << " of " << got.size() << " elements differ (atol " << tol.atol << ", rtol "
     << tol.rtol << "); worst at " << worst << ": CUDA " << got[worst] << ", CPU " << want[worst];
  return os.str();
}

class OpTableCuda : public ::testing::TestWithParam<OpCase> {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
    saved_ = cuda::math_flags();
  }
  void TearDown() override {
    if (cuda_available()) cuda::set_math_flags(saved_);
  }

  void run_case(const OpCase& c, Tolerance tol) {
    Generator gen_cpu(4321), gen_gpu(4321);
    auto in_cpu = make_inputs(c.inputs, DType::f32, gen_cpu);
    auto in_gpu = make_inputs(c.inputs, DType::f32, gen_gpu, Device::cuda(0));
    Tensor out_cpu = c.fn(in_cpu);
    Tensor out_gpu = c.fn(in_gpu);
    ASSERT_EQ(out_gpu.device(), Device::cuda(0)) << c.id() << ": the output left the GPU";
    std::string diff = compare(out_gpu, out_cpu, tol);
    EXPECT_TRUE(diff.empty()) << c.id() << " forward: " << diff;
    if (!c.check_grad || !out_cpu.requires_grad()) return;

    Generator gen_w(77);
    Tensor w = randn(out_cpu.shape(), gen_w).to(out_cpu.dtype());
    out_cpu.backward(w);
    out_gpu.backward(w.to(Device::cuda(0)));
    for (size_t i = 0; i < in_cpu.size(); ++i) {
      if (!in_cpu[i].requires_grad()) continue;
      Tensor g_cpu = in_cpu[i].grad(), g_gpu = in_gpu[i].grad();
      ASSERT_EQ(g_cpu.defined(), g_gpu.defined()) << c.id() << " input " << i;
      if (!g_cpu.defined()) continue;
      EXPECT_EQ(g_gpu.device(), Device::cuda(0)) << c.id() << " grad of input " << i;
      diff = compare(g_gpu, g_cpu, tol);
      EXPECT_TRUE(diff.empty()) << c.id() << " grad of input " << i << ": " << diff;
    }
  }

  cuda::MathFlags saved_;
};

TEST_P(OpTableCuda, MatchesCpuStrictFp32) {
  const OpCase& c = GetParam();
  cuda::MathFlags f = saved_;
  f.allow_tf32 = false;
  cuda::set_math_flags(f);
  run_case(c, {c.device_atol, c.device_rtol});
}

// TF32 keeps 10 mantissa bits: products carry relative errors near 5e-4, so sums of K terms
// drift by about that fraction of their magnitude.
TEST_P(OpTableCuda, MatchesCpuWithTf32) {
  const OpCase& c = GetParam();
  if (c.family != "conv" && c.family != "linalg") GTEST_SKIP() << "no TF32 path in " << c.family;
  cuda::MathFlags f = saved_;
  f.allow_tf32 = true;
  cuda::set_math_flags(f);
  run_case(c, {std::max(c.device_atol, 1e-2), std::max(c.device_rtol, 1e-2)});
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string s = info.param.id();
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(All, OpTableCuda, ::testing::ValuesIn(all_op_cases()), case_name);

}  // namespace
}  // namespace engine::testing
