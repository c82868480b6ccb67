// The op conformance table (STYLE.md, after ggml): one row per op case with its inputs' shapes
// and initialisation, the function to run and its tolerances. The same rows drive
//  - the double-precision finite-difference gradient checks (tests/engine/op_table_test.cpp),
//  - the CUDA-versus-CPU comparisons (tests/gpu/op_table_gpu_test.cpp, skipped without a GPU),
//  - the op benchmarks (bench/op_table_bench.cpp, rows with bench_inputs).
// Each op family registers its rows from tests/engine/op_cases_<family>.cpp with
// ENGINE_REGISTER_OP_CASES(family, function).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"

namespace engine::testing {

enum class Init {
  normal,          // N(0, 1)
  uniform,         // U(lo, hi)
  positive,        // U(0.5, 2): log, sqrt, pow, div denominators
  away_from_zero,  // |x| in [0.2, 1.2] with random sign: relu, abs away from their kink
  distinct,        // a random permutation of values spaced 0.05 apart: max/min/sort/pool
  integers,        // integers in [lo, hi): labels, indices (dtype i32/i64/u8)
  mask,            // bool with P(true) = 0.5
};

struct InputSpec {
  Shape shape;
  Init init = Init::normal;
  DType dtype = DType::f32;    // floating inputs run as f64 in gradient checks, f32 on devices
  bool differentiable = true;  // floating inputs only
  double lo = -1.0, hi = 1.0;
};

using OpFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

struct OpCase {
  std::string family;
  std::string name;  // unique within the family: "add/broadcast_rows"
  std::vector<InputSpec> inputs;
  OpFn fn;  // returns one floating tensor (for several outputs, return a concatenation or sum)
  bool check_grad = true;
  double grad_atol = 1e-6, grad_rtol = 1e-5;  // f64 finite differences
  double fd_eps = 1e-6;
  double device_atol = 1e-5, device_rtol = 1e-4;  // CUDA f32 (TF32 rows widen these) vs CPU
  std::vector<InputSpec> bench_inputs;            // realistic sizes; empty: not benchmarked
  // FLOPs of one call at bench_inputs (0: the benchmark reports GB/s of inputs + output).
  std::function<double(const std::vector<Tensor>&)> flops;

  std::string id() const { return family + "." + name; }
};

// GoogleTest prints a row by its id.
inline void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.id();
}

// All registered rows, sorted by id.
std::vector<OpCase> all_op_cases();

// Creates one input per spec; floating inputs get `float_dtype` (f32 or f64).
std::vector<Tensor> make_inputs(const std::vector<InputSpec>& specs, DType float_dtype,
                                Generator& gen, Device device = Device::cpu());

struct OpCaseRegistrar {
  OpCaseRegistrar(const char* family, std::vector<OpCase> (*make)());
};

}  // namespace engine::testing

#define ENGINE_REGISTER_OP_CASES(family, fn) \
  static ::engine::testing::OpCaseRegistrar engine_op_cases_registrar_##family(#family, fn)
