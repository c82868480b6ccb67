// cuBLAS GEMM and cuDNN convolution throughput on cuda:0 at ResNet-101 output-stride-8 shapes
// (513x513 crops -> 65x65 feature maps, batch 16), through the engine's ops. Each row reports
// TFLOP/s and its percentage of the dense roofline (H100/H200: TF32 ~495 TFLOP/s, FP32 ~67).
// Run: build/bench/bench_cuda_gemm_conv [--benchmark_filter=conv]. Skips without a GPU.
#include <benchmark/benchmark.h>

#include <chrono>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/kernels/runtime.h"
#include "engine/ops/conv.h"
#include "engine/ops/factory.h"
#include "engine/ops/linalg.h"
#include "engine/random.h"

namespace {

using engine::Tensor;

constexpr double kTf32PeakTflops = 495.0;  // H100 SXM dense TF32 (H200: same compute)
constexpr double kFp32PeakTflops = 67.0;   // H100 SXM FP32 on CUDA cores

// Runs `op` once per iteration, timing it with a stream synchronize on either side, and reports
// TFLOP/s and % of the roofline for `flops` per call.
template <typename Op>
void time_on_gpu(benchmark::State& state, double flops, bool tf32, Op&& op) {
#if ENGINE_WITH_CUDA
  op();  // plans the algorithm and fills the allocator's cache outside the timed loop
  engine::cuda::synchronize();
  double seconds = 0.0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    Tensor r = op();
    engine::cuda::synchronize();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(dt);
    seconds += dt;
    benchmark::DoNotOptimize(r.raw_data());
  }
  const double tflops = flops * double(state.iterations()) / seconds * 1e-12;
  state.counters["TFLOP/s"] = tflops;
  state.counters["%roofline"] = 100.0 * tflops / (tf32 ? kTf32PeakTflops : kFp32PeakTflops);
#endif
}

bool start(benchmark::State& state, bool tf32) {
#if ENGINE_WITH_CUDA
  if (!engine::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return false;
  }
  engine::cuda::MathFlags f = engine::cuda::math_flags();
  f.allow_tf32 = tf32;
  engine::cuda::set_math_flags(f);
  return true;
#else
  state.SkipWithError("built without CUDA");
  return false;
#endif
}

// args: M, N, K, tf32. C[M, N] = A[M, K] * B[K, N].
void BM_cuda_gemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool tf32 = state.range(3) != 0;
  if (!start(state, tf32)) return;
  engine::autograd::NoGradGuard no_grad;
  engine::Generator gen(1);
  const engine::Device dev = engine::Device::cuda(0);
  Tensor a = engine::randn({m, k}, gen).to(dev);
  Tensor b = engine::randn({k, n}, gen).to(dev);
  time_on_gpu(state, 2.0 * double(m) * double(n) * double(k), tf32,
              [&] { return engine::matmul(a, b); });
}

// args: N, H, W, Cin, Cout, K, dilation, pass (0 forward, 1 backward-data, 2 backward-filter),
// tf32. Stride 1, padding = dilation * (K - 1) / 2 (the size-preserving convolutions of OS8).
void BM_cuda_conv2d(benchmark::State& state) {
  const int64_t n = state.range(0), h = state.range(1), w = state.range(2), c = state.range(3);
  const int64_t o = state.range(4), k = state.range(5), d = state.range(6);
  const int pass = int(state.range(7));
  const bool tf32 = state.range(8) != 0;
  if (!start(state, tf32)) return;
  engine::Conv2dParams p;
  p.dilation = {d, d};
  p.padding = {d * (k - 1) / 2, d * (k - 1) / 2};
  engine::autograd::NoGradGuard no_grad;
  engine::Generator gen(1);
  const engine::Device dev = engine::Device::cuda(0);
  Tensor x = engine::randn({n, h, w, c}, gen).to(dev);
  Tensor wt = engine::randn({o, k, k, c}, gen, 0.0, 0.05).to(dev);
  Tensor y = engine::conv2d(x, wt, Tensor(), p);
  Tensor gy = engine::randn(y.shape(), gen).to(dev);
  const double flops = 2.0 * double(y.size(0) * y.size(1) * y.size(2)) * double(wt.numel());
  time_on_gpu(state, flops, tf32, [&] {
    if (pass == 1) return engine::conv2d_backward_input(gy, wt, x.shape(), p);
    if (pass == 2) return engine::conv2d_backward_weight(x, gy, wt.shape(), p);
    return engine::conv2d(x, wt, Tensor(), p);
  });
}

void gemm_shapes(benchmark::internal::Benchmark* bm) {
  bm->ArgNames({"M", "N", "K", "tf32"});
  for (int tf32 : {1, 0}) {
    bm->Args({16 * 65 * 65, 256, 1024, tf32});  // a 1x1 conv 1024->256 at 65x65, batch 16
    bm->Args({4096, 4096, 4096, tf32});
  }
}

void conv_shapes(benchmark::internal::Benchmark* bm) {
  bm->ArgNames({"N", "H", "W", "Cin", "Cout", "K", "dil", "pass", "tf32"});
  for (int pass : {0, 1, 2}) {
    bm->Args({16, 65, 65, 1024, 256, 1, 1, pass, 1});  // layer3 bottleneck 1x1 reduce
    bm->Args({16, 65, 65, 256, 256, 3, 2, pass, 1});   // layer3 3x3, dilation 2
    bm->Args({16, 65, 65, 512, 512, 3, 4, pass, 1});   // layer4 3x3, dilation 4
  }
  bm->Args({16, 65, 65, 256, 256, 3, 2, 0, 0});  // strict FP32 for comparison
}

BENCHMARK(BM_cuda_gemm)->Apply(gemm_shapes)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_conv2d)->Apply(conv_shapes)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
