// Bilinear resize throughput on NHWC f32: forward, backward kernel alone, and forward+backward
// through autograd. Bytes counted: tensors read plus tensors written (GB/s in bytes_per_second).
#include <benchmark/benchmark.h>

#include "engine/kernels/resize.h"
#include "engine/ops/factory.h"
#include "engine/ops/resize.h"

namespace engine {
namespace {

struct Config {
  Shape in;
  int64_t out_h, out_w;
  bool align;
};

// 0: the SPML head's x2 upsampling; 1: DeepLab logits 41 -> 321 with aligned corners.
const Config kConfigs[] = {{{16, 128, 128, 64}, 256, 256, false},
                           {{1, 41, 41, 21}, 321, 321, true}};

int64_t out_numel(const Config& c) {
  return c.in[0] * c.out_h * c.out_w * c.in[3];
}

void set_bytes(benchmark::State& state, int64_t elems) {
  state.SetBytesProcessed(int64_t(state.iterations()) * elems * int64_t(sizeof(float)));
}

void BM_bilinear_forward(benchmark::State& state) {
  const Config& c = kConfigs[state.range(0)];
  Generator gen(1);
  Tensor x = randn(c.in, gen);
  for (auto _ : state) benchmark::DoNotOptimize(resize_bilinear(x, c.out_h, c.out_w, c.align));
  set_bytes(state, numel(c.in) + out_numel(c));
}

void BM_bilinear_backward_kernel(benchmark::State& state) {
  const Config& c = kConfigs[state.range(0)];
  Generator gen(2);
  Tensor g = randn({c.in[0], c.out_h, c.out_w, c.in[3]}, gen);
  Tensor gi = Tensor::empty(c.in);
  ResizeDims d{c.in[0], c.in[1], c.in[2], c.in[3], c.out_h, c.out_w};
  for (auto _ : state) {
    cpu::resize_bilinear_backward<float>(g.data<float>(), d, c.align, gi.data<float>());
    benchmark::ClobberMemory();
  }
  set_bytes(state, numel(c.in) + out_numel(c));
}

void BM_bilinear_forward_backward(benchmark::State& state) {
  const Config& c = kConfigs[state.range(0)];
  Generator gen(3);
  Tensor x = randn(c.in, gen).set_requires_grad();
  Tensor g = randn({c.in[0], c.out_h, c.out_w, c.in[3]}, gen);
  for (auto _ : state) {
    x.zero_grad();
    resize_bilinear(x, c.out_h, c.out_w, c.align).backward(g);
    benchmark::DoNotOptimize(x.grad());
  }
  // forward reads x, writes y; backward reads g, writes grad x.
  set_bytes(state, 2 * (numel(c.in) + out_numel(c)));
}

BENCHMARK(BM_bilinear_forward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_bilinear_backward_kernel)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_bilinear_forward_backward)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace engine

BENCHMARK_MAIN();
