// CUDA index ops: GB/s of the bytes each must move (source rows and indices read once, output
// written once) against the HBM roofline (H100 SXM 3.35 TB/s, H200 4.8 TB/s by device name).
// "op" benchmarks go through the engine API, so they include the device-side index check and
// its one host round trip (and, for segment_sum, zeroing the output); "kernel" benchmarks call
// engine::cuda:: directly. Each iteration ends with a device synchronize. Skips without a GPU;
// builds without CUDA (every benchmark then skips).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/ops/factory.h"
#include "engine/ops/index.h"

#if ENGINE_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/kernels/index.h"
#include "engine/kernels/runtime.h"
#endif

namespace engine {
namespace {

constexpr int64_t kRows = 262144, kCols = 64, kSegments = 1000;

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

// kRows i64 indices uniform in [0, size), on the GPU.
Tensor device_index(int64_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, size - 1);
  std::vector<int64_t> v(static_cast<size_t>(kRows));
  for (auto& x : v) x = pick(rng);
  return Tensor::from_vector<int64_t>(v, {kRows}).to(Device::cuda(0));
}

Tensor device_randn(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, g, 0.0, 1.0, DType::f32, Device::cuda(0));
}

// Read kRows picked rows and the index, write kRows rows.
double select_bytes() {
  return 2.0 * kRows * kCols * 4 + kRows * 8.0;
}
// Read every row and the ids, write the segment rows.
double segment_bytes() {
  return double(kRows) * kCols * 4 + kRows * 8.0 + double(kSegments) * kCols * 4;
}

void BM_index_select_rows_op(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({kRows, kCols}, 1), idx = device_index(kRows, 2);
  for (auto _ : state) {
    Tensor y = index_select(x, 0, idx);
    sync();
  }
  report(state, select_bytes());
}
BENCHMARK(BM_index_select_rows_op)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_segment_sum_op(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({kRows, kCols}, 3), ids = device_index(kSegments, 4);
  for (auto _ : state) {
    Tensor y = segment_sum(x, ids, kSegments);
    sync();
  }
  report(state, segment_bytes());
}
BENCHMARK(BM_segment_sum_op)->Unit(benchmark::kMicrosecond)->UseRealTime();

#if ENGINE_WITH_CUDA
void BM_index_select_rows_kernel(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({kRows, kCols}, 5), idx = device_index(kRows, 6);
  Tensor out = Tensor::empty({kRows, kCols}, DType::f32, Device::cuda(0));
  for (auto _ : state) {
    cuda::index_select<int64_t>(x.data<float>(), 1, kRows, kCols, idx.data<int64_t>(), kRows,
                                out.data<float>());
    sync();
  }
  report(state, select_bytes());
}
BENCHMARK(BM_index_select_rows_kernel)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_segment_sum_kernel(benchmark::State& state) {
  if (!have_gpu(state)) return;
  Tensor x = device_randn({kRows, kCols}, 7), ids = device_index(kSegments, 8);
  Tensor out = zeros({kSegments, kCols}, DType::f32, Device::cuda(0));
  for (auto _ : state) {
    cuda::index_add<int64_t>(out.data<float>(), 1, kSegments, kCols, ids.data<int64_t>(), kRows,
                             x.data<float>());
    sync();
  }
  report(state, segment_bytes());
}
BENCHMARK(BM_segment_sum_kernel)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif

}  // namespace
}  // namespace engine

BENCHMARK_MAIN();
