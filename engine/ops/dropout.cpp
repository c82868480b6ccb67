#include "engine/ops/dropout.h"

#include "engine/kernels/dropout.h"
#include "engine/ops/common.h"
#include "engine/ops/elementwise.h"

namespace engine {

using G = std::vector<Tensor>;

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  ops::check_floating("dropout", "x", x);
  ENGINE_CHECK(p >= 0.0 && p <= 1.0, "dropout: p {} outside [0, 1] (x {})", p,
               shape_str(x.shape()));
  if (!training || p == 0.0) return x;
  Tensor xc = x.contiguous();
  const int64_t n = x.numel();
  const uint64_t base = gen.reserve(n);
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mask = Tensor::empty(x.shape(), DType::u8, x.device());
  ops::dispatch_float(
      "dropout", xc,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::dropout<T>(xc.data<T>(), n, float(p), T(scale), gen.seed(), base, out.data<T>(),
                        mask.data<uint8_t>());
      },
      [&](auto) {
        cuda::dropout(xc.data<float>(), n, float(p), float(scale), gen.seed(), base,
                      out.data<float>(), mask.data<uint8_t>());
      });
  Tensor smask = autograd::save(mask);
  autograd::record("dropout", {x}, {&out}, [=](const G& g) {
    return G{where(smask, mul(g[0], scale), scalar_like(0.0, g[0]))};
  });
  return out;
}

}  // namespace engine
