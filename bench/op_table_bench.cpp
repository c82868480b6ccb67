// Benchmarks every op-table row that has bench_inputs (tests/support/op_table.h): forward, and
// forward + backward for differentiable rows. Reports GFLOP/s for rows with a FLOP count, else
// GB/s of input + output bytes. Run: ./build/bench/bench_op_table [--benchmark_filter=conv]
#include <benchmark/benchmark.h>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

double io_bytes(const std::vector<Tensor>& in, const Tensor& out) {
  double b = double(out.nbytes());
  for (const Tensor& t : in) b += double(t.nbytes());
  return b;
}

void run_forward(benchmark::State& state, const OpCase& c) {
  Generator gen(1);
  auto inputs = make_inputs(c.bench_inputs, DType::f32, gen);
  autograd::NoGradGuard ng;
  Tensor out = c.fn(inputs);
  for (auto _ : state) {
    out = c.fn(inputs);
    benchmark::DoNotOptimize(out.raw_data());
  }
  if (c.flops)
    state.counters["GFLOP/s"] =
        benchmark::Counter(c.flops(inputs) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  else
    state.counters["GB/s"] = benchmark::Counter(io_bytes(inputs, out) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void run_backward(benchmark::State& state, const OpCase& c) {
  Generator gen(1);
  auto inputs = make_inputs(c.bench_inputs, DType::f32, gen);
  Tensor out;
  for (auto _ : state) {
    for (Tensor& t : inputs)
      if (t.requires_grad()) t.zero_grad();
    out = c.fn(inputs);
    sum(out).backward();
  }
  if (c.flops)
    state.counters["GFLOP/s(fwd+bwd=3x)"] = benchmark::Counter(
        3 * c.flops(inputs) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

int register_all() {
  int n = 0;
  for (const OpCase& c : all_op_cases()) {
    if (c.bench_inputs.empty()) continue;
    benchmark::RegisterBenchmark((c.id() + "/forward").c_str(),
                                 [c](benchmark::State& s) { run_forward(s, c); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    if (c.check_grad)
      benchmark::RegisterBenchmark((c.id() + "/forward_backward").c_str(),
                                   [c](benchmark::State& s) { run_backward(s, c); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    ++n;
  }
  return n;
}

}  // namespace
}  // namespace engine::testing

int main(int argc, char** argv) {
  engine::testing::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
