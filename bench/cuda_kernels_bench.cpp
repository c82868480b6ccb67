// GB/s of the hand-written CUDA kernels (batch norm, fused BN + add + ReLU, bilinear resize, max
// pool, concat) through the engine ops on CUDA tensors, each synchronized per iteration, and the
// fraction of the H100 HBM3 roofline (3.35 TB/s). Bytes count the minimal traffic of each pass
// (tensors read + written once per pass). Without a GPU (or in a CPU-only build) every
// benchmark reports an error instead of a figure.
#include <benchmark/benchmark.h>

#include "engine/device.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/factory.h"
#include "engine/ops/join.h"
#include "engine/ops/pool.h"
#include "engine/ops/resize.h"

#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace engine {
namespace {

constexpr double kHbmBytesPerSecond = 3.35e12;  // H100 SXM HBM3

bool skip_without_gpu(benchmark::State& state) {
#if ENGINE_WITH_CUDA
  if (cuda_available()) return false;
  state.SkipWithError("no CUDA device");
#else
  state.SkipWithError("built without CUDA (ENGINE_CUDA=OFF)");
#endif
  return true;
}

void sync() {
#if ENGINE_WITH_CUDA
  cuda::synchronize();
#endif
}

void set_rate(benchmark::State& state, double bytes) {
  state.counters["GB"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_hbm"] = benchmark::Counter(100.0 * bytes / kHbmBytesPerSecond,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

Tensor gpu_randn(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen).to(Device::cuda(0));
}

Shape bn_shape(const benchmark::State& state) {
  return {16, state.range(0), state.range(0), state.range(1)};
}

// Training forward: the stats pass reads x, the apply pass reads x and writes y.
void BM_cuda_batch_norm_forward(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  Shape s = bn_shape(state);
  Tensor x = gpu_randn(s, 1);
  Device d = x.device();
  Tensor w = ones({s.back()}, DType::f32, d), b = zeros({s.back()}, DType::f32, d);
  Tensor rm = zeros({s.back()}, DType::f32, d), rv = ones({s.back()}, DType::f32, d);
  for (auto _ : state) {
    Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
    sync();
  }
  set_rate(state, 3.0 * double(x.nbytes()));
}
BENCHMARK(BM_cuda_batch_norm_forward)
    ->Args({65, 1024})
    ->Args({129, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Backward alone (the forward runs once): reduce reads dy and x, apply reads dy, x, writes dx.
void BM_cuda_batch_norm_backward(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  Shape s = bn_shape(state);
  Tensor x = gpu_randn(s, 2).set_requires_grad();
  Tensor dy = gpu_randn(s, 3);
  Device d = x.device();
  Tensor w = ones({s.back()}, DType::f32, d).set_requires_grad();
  Tensor b = zeros({s.back()}, DType::f32, d).set_requires_grad();
  for (auto _ : state) {
    state.PauseTiming();
    Tensor y = batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5);
    sync();
    state.ResumeTiming();
    y.backward(dy);
    sync();
    state.PauseTiming();
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    state.ResumeTiming();
  }
  set_rate(state, 5.0 * double(x.nbytes()));
}
BENCHMARK(BM_cuda_batch_norm_backward)
    ->Args({65, 1024})
    ->Args({129, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Fused BN + add + ReLU training forward: stats read x; apply reads x, residual, writes y.
void BM_cuda_batch_norm_add_relu_forward(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  Shape s = bn_shape(state);
  Tensor x = gpu_randn(s, 4), r = gpu_randn(s, 5);
  Device d = x.device();
  Tensor w = ones({s.back()}, DType::f32, d), b = zeros({s.back()}, DType::f32, d);
  Tensor rm = zeros({s.back()}, DType::f32, d), rv = ones({s.back()}, DType::f32, d);
  for (auto _ : state) {
    Tensor y = batch_norm_add_relu(x, r, w, b, rm, rv, true, 0.1, 1e-5);
    sync();
  }
  set_rate(state, 4.0 * double(x.nbytes()));
}
BENCHMARK(BM_cuda_batch_norm_add_relu_forward)
    ->Args({65, 1024})
    ->Args({129, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Bilinear x2 of [16, 128, 128, 64]: reads x, writes the 4x larger output.
void BM_cuda_resize_bilinear_x2(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  Tensor x = gpu_randn({16, 128, 128, 64}, 6);
  for (auto _ : state) {
    Tensor y = resize_bilinear(x, 256, 256, state.range(0) != 0);
    sync();
  }
  set_rate(state, 5.0 * double(x.nbytes()));
}
BENCHMARK(BM_cuda_resize_bilinear_x2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// ResNet stem max pool 3x3 / 2 / pad 1 of [16, 128, 128, 64]: reads x, writes y and i64 argmax.
void BM_cuda_max_pool2d(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  Tensor x = gpu_randn({16, 128, 128, 64}, 7);
  for (auto _ : state) {
    Tensor y = max_pool2d(x, 3, 2, 1);
    sync();
  }
  // Output is a quarter of x; its argmax twice that in bytes.
  set_rate(state, double(x.nbytes()) * (1.0 + 0.25 * 3.0));
}
BENCHMARK(BM_cuda_max_pool2d)->Unit(benchmark::kMillisecond)->UseRealTime();

// ASPP-style channel concat of four [16, 65, 65, 256] maps: reads them all, writes the result.
void BM_cuda_concat_channels(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  std::vector<Tensor> parts;
  for (uint64_t i = 0; i < 4; ++i) parts.push_back(gpu_randn({16, 65, 65, 256}, 8 + i));
  for (auto _ : state) {
    Tensor y = concat(parts, 3);
    sync();
  }
  set_rate(state, 2.0 * 4.0 * double(parts[0].nbytes()));
}
BENCHMARK(BM_cuda_concat_channels)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace engine
BENCHMARK_MAIN();
