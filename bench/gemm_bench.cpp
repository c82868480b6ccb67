// Single-precision GEMM (engine::cpu::gemm, OpenBLAS underneath) at the GEMM shapes that
// ResNet-101's convolutions become: rows = output pixels, inner = KH*KW*Cin, cols = Cout.
// Run with OMP_NUM_THREADS set to the cores to use.
#include <benchmark/benchmark.h>

#include <vector>

#include "engine/kernels/linalg.h"

namespace {

// args: M, N, K, trans_b (the conv forward multiplies by the OHWI weight transposed).
void BM_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool tb = state.range(3) != 0;
  std::vector<float> a(size_t(m * k), 0.5f), b(size_t(k * n), 0.25f), c(size_t(m * n));
  for (auto _ : state) {
    engine::cpu::gemm<float>(false, tb, m, n, k, 1.0f, a.data(), k, b.data(), tb ? k : n, 0.0f,
                             c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_sgemm)
    ->ArgNames({"M", "N", "K", "tB"})
    ->Args({1024, 1024, 1024, 0})
    ->Args({1764, 256, 1024, 1})  // 1x1 1024->256 at 42x42
    ->Args({1764, 1024, 256, 1})  // 1x1 256->1024 at 42x42
    ->Args({1764, 256, 2304, 1})  // 3x3 256->256 at 42x42 (im2col)
    ->Args({7056, 64, 576, 1})    // 3x3 64->64 at 84x84
    ->Args({6272, 256, 2304, 1})  // 3x3 256->256 at 56x56, batch 2
    ->Args({25088, 64, 147, 1})   // 7x7 stem 3->64 stride 2 at 224x224, batch 2
    ->Args({256, 2304, 6272, 0})  // weight-gradient shape of the 56x56 3x3 conv (as NN)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
