// Tensor factories. Random ones draw from an explicit Generator (Philox streams, see
// engine/kernels/philox.h), identically on every device.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

namespace engine {

Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// [start, end) by step; i64 by default.
Tensor arange(int64_t end, DType dtype = DType::i64, Device device = Device::cpu());
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32,
              Device device = Device::cpu());
// Uniform in (low, high].
Tensor rand(const Shape& shape, Generator& gen, double low = 0.0, double high = 1.0,
            DType dtype = DType::f32, Device device = Device::cpu());
// Normal with the given mean and std.
Tensor randn(const Shape& shape, Generator& gen, double mean = 0.0, double std = 1.0,
             DType dtype = DType::f32, Device device = Device::cpu());
// Uniform integers in [low, high).
Tensor randint(const Shape& shape, int64_t low, int64_t high, Generator& gen,
               DType dtype = DType::i64, Device device = Device::cpu());

}  // namespace engine
