// Memory-bound CUDA ops through the engine API: GB/s of the bytes each op must move (inputs read
// once, outputs written once) and that rate as a share of the HBM roofline (H100 SXM 3.35 TB/s,
// H200 4.8 TB/s, picked from the device name). Each iteration ends with a device synchronize.
// Skips without a GPU; builds without CUDA (every benchmark then skips).
#include <benchmark/benchmark.h>

#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

#if ENGINE_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/kernels/runtime.h"
#endif

namespace engine {
namespace {

bool have_gpu(benchmark::State& state) {
  if (cuda_available()) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

void sync() {
#if ENGINE_WITH_CUDA
  engine::cuda::synchronize();
#endif
}

double hbm_bytes_per_s() {
#if ENGINE_WITH_CUDA
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess && std::strstr(prop.name, "H200"))
    return 4.8e12;
#endif
  return 3.35e12;
}

void report(benchmark::State& state, double bytes_per_iter) {
  double bytes = bytes_per_iter * double(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["roofline_%"] =
      benchmark::Counter(bytes * 100.0 / hbm_bytes_per_s(), benchmark::Counter::kIsRate);
}

Tensor device_randn(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, g, 0.0, 1.0, DType::f32, Device::cuda(0));
}

// [16, 64, 64, 256] + itself: read 2, write 1.
void BM_add_dense(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor a = device_randn({16, 64, 64, 256}, 1), b = device_randn({16, 64, 64, 256}, 2);
  for (auto _ : state) {
    Tensor c = add(a, b);
    sync();
  }
  report(state, 3.0 * double(a.nbytes()));
}
BENCHMARK(BM_add_dense)->Unit(benchmark::kMicrosecond)->UseRealTime();

// NHWC activations plus a per-channel bias [256]: read 1, write 1 (the bias stays in cache).
void BM_add_broadcast_channels(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor a = device_randn({16, 64, 64, 256}, 3), bias = device_randn({256}, 4);
  for (auto _ : state) {
    Tensor c = add(a, bias);
    sync();
  }
  report(state, 2.0 * double(a.nbytes()));
}
BENCHMARK(BM_add_broadcast_channels)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Sum over C of [16, 128, 128, 64] NHWC: read x, write [16, 128, 128].
void BM_sum_channels_nhwc(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({16, 128, 128, 64}, 5);
  for (auto _ : state) {
    Tensor s = sum(x, {3});
    sync();
  }
  report(state, double(x.nbytes()) * (1.0 + 1.0 / 64.0));
}
BENCHMARK(BM_sum_channels_nhwc)->Unit(benchmark::kMicrosecond)->UseRealTime();

constexpr int64_t kN = 16, kH = 128, kW = 128, kC = 21;

// Softmax over the 21 classes of [16, 128, 128, 21]: read 1, write 1.
void BM_softmax_rows(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({kN, kH, kW, kC}, 6);
  for (auto _ : state) {
    Tensor y = softmax(x, -1);
    sync();
  }
  report(state, 2.0 * double(x.nbytes()));
}
BENCHMARK(BM_softmax_rows)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Fused cross-entropy forward + backward at [16, 128, 128, 21] with i32 labels: the forward reads
// the logits and labels and writes per-pixel loss and lse; the backward reads logits, labels and
// lse and writes the logits gradient.
void BM_cross_entropy_fwd_bwd(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({kN, kH, kW, kC}, 7);
  Generator g(8);
  Tensor t = randint({kN, kH, kW}, 0, kC, g, DType::i32, Device::cuda(0));
  x.set_requires_grad(true);
  for (auto _ : state) {
    Tensor loss = cross_entropy(x, t);
    loss.backward();
    x.zero_grad();
    sync();
  }
  double pixels = double(kN * kH * kW);
  report(state, 3.0 * double(x.nbytes()) + pixels * (4.0 * 2 + 4.0 * 3));
}
BENCHMARK(BM_cross_entropy_fwd_bwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// l2_normalize of 262144 embeddings of 64: forward (read 1, write 1), and forward + backward
// (the backward reads x and the gradient and writes dx).
void BM_l2_normalize(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({262144, 64}, 9);
  for (auto _ : state) {
    Tensor y = l2_normalize(x, -1);
    sync();
  }
  report(state, 2.0 * double(x.nbytes()));
}
BENCHMARK(BM_l2_normalize)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_l2_normalize_fwd_bwd(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({262144, 64}, 10), w = device_randn({262144, 64}, 11);
  x.set_requires_grad(true);
  for (auto _ : state) {
    Tensor y = l2_normalize(x, -1);
    y.backward(w);
    x.zero_grad();
    sync();
  }
  report(state, 5.0 * double(x.nbytes()));
}
BENCHMARK(BM_l2_normalize_fwd_bwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace engine

BENCHMARK_MAIN();
