#include "support/op_table.h"

#include <algorithm>
#include <numeric>

#include "engine/ops/factory.h"

namespace engine::testing {

namespace {
struct Entry {
  const char* family;
  std::vector<OpCase> (*make)();
};
// Test-only registry filled by static registrars before main().
std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}
}  // namespace

OpCaseRegistrar::OpCaseRegistrar(const char* family, std::vector<OpCase> (*make)()) {
  registry().push_back({family, make});
}

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> out;
  for (const Entry& e : registry()) {
    for (OpCase c : e.make()) {
      c.family = e.family;
      out.push_back(std::move(c));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const OpCase& a, const OpCase& b) { return a.id() < b.id(); });
  return out;
}

namespace {
Tensor make_one(const InputSpec& s, DType float_dtype, Generator& gen) {
  int64_t n = numel(s.shape);
  switch (s.init) {
    case Init::normal:
      return randn(s.shape, gen, 0.0, 1.0, DType::f64);
    case Init::uniform:
      return rand(s.shape, gen, s.lo, s.hi, DType::f64);
    case Init::positive:
      return rand(s.shape, gen, 0.5, 2.0, DType::f64);
    case Init::away_from_zero: {
      std::vector<double> v(static_cast<size_t>(n));
      for (auto& x : v) x = (0.2 + gen.next_double()) * (gen.next_double() < 0.5 ? -1.0 : 1.0);
      return Tensor::from_vector(v, s.shape);
    }
    case Init::distinct: {
      std::vector<int64_t> perm(static_cast<size_t>(n));
      std::iota(perm.begin(), perm.end(), 0);
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(perm[size_t(i)], perm[gen.next_below(uint64_t(i + 1))]);
      std::vector<double> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] = 0.05 * double(perm[size_t(i)] - n / 2);
      return Tensor::from_vector(v, s.shape);
    }
    case Init::integers:
      return randint(s.shape, int64_t(s.lo), int64_t(s.hi), gen, DType::f64);
    case Init::mask:
      return rand(s.shape, gen, 0.0, 1.0, DType::f64);
  }
  return Tensor();
}
}  // namespace

std::vector<Tensor> make_inputs(const std::vector<InputSpec>& specs, DType float_dtype,
                                Generator& gen, Device device) {
  std::vector<Tensor> out;
  for (const InputSpec& s : specs) {
    Tensor t = make_one(s, float_dtype, gen);
    if (s.init == Init::mask) {
      std::vector<double> v = t.to_vector<double>();
      std::vector<uint8_t> m(v.size());
      for (size_t i = 0; i < v.size(); ++i) m[i] = v[i] < 0.5;
      t = Tensor::from_vector(m, s.shape).to(DType::boolean);
    } else {
      t = t.to(is_floating(s.dtype) ? float_dtype : s.dtype);
    }
    t = t.to(device);
    if (is_floating(t.dtype()) && s.differentiable) t.set_requires_grad(true);
    out.push_back(t);
  }
  return out;
}

}  // namespace engine::testing
