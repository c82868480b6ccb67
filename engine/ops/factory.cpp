#include "engine/ops/factory.h"

#include <cmath>

#include "engine/kernels/philox.h"
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

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  ENGINE_CHECK(step != 0.0, "arange: step must be non-zero");
  int64_t n = std::max<int64_t>(0, int64_t(std::ceil((end - start) / step)));
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = start + double(i) * step;
  return Tensor::from_vector(v, {n}).to(dtype).to(device);
}

namespace {
// Host draw (the Philox convention makes it identical to a device draw), then moved.
template <typename F>
Tensor draw(const Shape& shape, Generator& gen, DType dtype, Device device, F&& value_at) {
  int64_t n = numel(shape);
  uint64_t base = gen.reserve(n);
  Tensor host = Tensor::empty(shape, DType::f64);
  double* p = host.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = value_at(gen.seed(), base, i);
  return host.to(dtype).to(device);
}
}  // namespace

Tensor rand(const Shape& shape, Generator& gen, double low, double high, DType dtype,
            Device device) {
  return draw(shape, gen, dtype, device, [&](uint64_t s, uint64_t b, int64_t i) {
    return low + (high - low) * double(philox_uniform(s, b, i));
  });
}

Tensor randn(const Shape& shape, Generator& gen, double mean, double std, DType dtype,
             Device device) {
  return draw(shape, gen, dtype, device, [&](uint64_t s, uint64_t b, int64_t i) {
    return mean + std * double(philox_normal(s, b, i));
  });
}

Tensor randint(const Shape& shape, int64_t low, int64_t high, Generator& gen, DType dtype,
               Device device) {
  ENGINE_CHECK(high > low, "randint: empty range [{}, {})", low, high);
  double span = double(high - low);
  return draw(shape, gen, dtype, device, [&](uint64_t s, uint64_t b, int64_t i) {
    // uniform in (0, 1] -> index in [0, span)
    double k = std::ceil(double(philox_uniform(s, b, i)) * span) - 1.0;
    return double(low) + std::max(0.0, k);
  });
}

}  // namespace engine
