#include "engine/ops/factory.h"

#include <cmath>

#include "engine/kernels/factory.h"
#include "engine/ops/common.h"

namespace engine {

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return Tensor::empty(shape, dtype, device).fill_(0.0);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return Tensor::empty(shape, dtype, device).fill_(1.0);
}
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  return Tensor::empty(shape, dtype, device).fill_(value);
}
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), t.dtype(), t.device());
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), t.dtype(), t.device());
}
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, t.dtype(), t.device());
}

Tensor arange(int64_t end, DType dtype, Device device) {
  return arange(0.0, double(end), 1.0, dtype, device);
}

namespace {
// Fills a tensor with fill_value_at(kind, ...) element by element: on the host in double and
// then converted (as every CPU factory does), or on the device by the same function, so both
// give the same values. A random kind reserves its counter blocks from `gen`.
Tensor draw(const Shape& shape, FillKind kind, uint64_t seed, uint64_t base, double a, double b,
            DType dtype, Device device) {
  int64_t n = numel(shape);
  if (device.is_cuda()) {
#if ENGINE_WITH_CUDA
    Tensor out = Tensor::empty(shape, dtype, device);
    cuda::DeviceGuard guard(device.index);
    cuda::NvtxRange range("philox_fill");
    cuda::fill_values(kind, seed, base, a, b, out.raw_data(), dtype, n);
    return out;
#else
    ENGINE_THROW("factory: a tensor on {} needs the CUDA backend, which this build lacks",
                 device.str());
#endif
  }
  Tensor host = Tensor::empty(shape, DType::f64);
  double* p = host.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = fill_value_at(kind, seed, base, i, a, b);
  return host.to(dtype);
}
}  // namespace

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  ENGINE_CHECK(step != 0.0, "arange: step must be non-zero");
  int64_t n = std::max<int64_t>(0, int64_t(std::ceil((end - start) / step)));
  return draw({n}, FillKind::range, 0, 0, start, step, dtype, device);
}

Tensor rand(const Shape& shape, Generator& gen, double low, double high, DType dtype,
            Device device) {
  uint64_t base = gen.reserve(numel(shape));
  return draw(shape, FillKind::uniform, gen.seed(), base, low, high, dtype, device);
}

Tensor randn(const Shape& shape, Generator& gen, double mean, double std, DType dtype,
             Device device) {
  uint64_t base = gen.reserve(numel(shape));
  return draw(shape, FillKind::normal, gen.seed(), base, mean, std, dtype, device);
}

Tensor randint(const Shape& shape, int64_t low, int64_t high, Generator& gen, DType dtype,
               Device device) {
  ENGINE_CHECK(high > low, "randint: empty range [{}, {})", low, high);
  uint64_t base = gen.reserve(numel(shape));
  return draw(shape, FillKind::integer, gen.seed(), base, double(low), double(high), dtype, device);
}

}  // namespace engine
