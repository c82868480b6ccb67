// Runs every row of the op table: forward is finite and deterministic, and (for differentiable
// rows) autograd matches double-precision finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

class OpTable : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTable, ForwardIsFiniteAndDeterministic) {
  const OpCase& c = GetParam();
  Generator gen(1234);
  auto inputs = make_inputs(c.inputs, DType::f32, gen);
  std::vector<float> a = c.fn(inputs).to_vector<float>();
  std::vector<float> b = c.fn(inputs).to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i])) << c.id() << " element " << i;
    ASSERT_EQ(a[i], b[i]) << c.id() << " element " << i;
  }
}

TEST_P(OpTable, GradientMatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  if (!c.check_grad) GTEST_SKIP() << c.id() << " is not differentiable";
  Generator gen(99);
  auto inputs = make_inputs(c.inputs, DType::f64, gen);
  GradCheckResult r = gradcheck(c.fn, inputs, c.fd_eps, c.grad_atol, c.grad_rtol);
  EXPECT_TRUE(r.ok) << c.id() << ": " << r.message;
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string s = info.param.id();
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(All, OpTable, ::testing::ValuesIn(all_op_cases()), case_name);

}  // namespace
}  // namespace engine::testing
