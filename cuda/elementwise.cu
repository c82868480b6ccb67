// CUDA elementwise kernels (f32, plus every numeric dtype for comparisons). The host side first
// merges dims that are contiguous in every operand, so a broadcast like [N, H, W, C] + [C]
// becomes [N*H*W, C] (one div/mod per element); fully dense operands take 128-bit loads.
#include <cuda_runtime.h>

#include <type_traits>

#include "cuda/launch.h"
#include "engine/kernels/elementwise.h"

namespace engine::cuda {

namespace {

template <typename T>
struct In {
  const T* p;
  Layout l;
};

// Offset of linear index i in l, in index type I (32-bit when every offset fits).
template <typename I>
__device__ __forceinline__ I offset_in(const Layout& l, I i) {
  I off = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    I s = I(l.shape[d]);
    off += (i % s) * I(l.strides[d]);
    i /= s;
  }
  return off;
}

struct UnaryFn {
  UnaryOp op;
  __device__ float operator()(float x) const { return apply_unary(op, x); }
};
struct BinaryFn {
  BinaryOp op;
  __device__ float operator()(float a, float b) const { return apply_binary(op, a, b); }
};
struct ClampFn {
  float lo, hi;
  __device__ float operator()(float x) const { return clamp_value(x, lo, hi); }
};
struct WhereFn {
  __device__ float operator()(uint8_t c, float a, float b) const { return c ? a : b; }
};
template <typename T>
struct CompareFn {
  CompareOp op;
  __device__ bool operator()(T a, T b) const { return apply_compare(op, a, b); }
};

template <typename I, typename Out, typename F, typename... T>
__global__ void elementwise_broadcast(F f, Out* out, int64_t begin, int64_t n, In<T>... in) {
  for (I i = I(begin + global_thread()); i < I(n); i += I(grid_threads()))
    out[i] = f(in.p[offset_in(in.l, i)]...);
}

__device__ __forceinline__ float4 apply4(const UnaryFn& f, float4 x) {
  return make_float4(f(x.x), f(x.y), f(x.z), f(x.w));
}
__device__ __forceinline__ float4 apply4(const ClampFn& f, float4 x) {
  return make_float4(f(x.x), f(x.y), f(x.z), f(x.w));
}
__device__ __forceinline__ float4 apply4(const BinaryFn& f, float4 a, float4 b) {
  return make_float4(f(a.x, b.x), f(a.y, b.y), f(a.z, b.z), f(a.w, b.w));
}

// Dense f32 operands and output, 16-byte aligned: one float4 per thread per step; the n % 4
// tail is left to elementwise_broadcast.
template <typename F, typename... P>
__global__ void elementwise_dense_vec4(F f, float* out, int64_t n4, const P*... in) {
  for (int64_t v = global_thread(); v < n4; v += grid_threads())
    reinterpret_cast<float4*>(out)[v] =
        apply4(f, __ldg(reinterpret_cast<const float4*>(in) + v)...);
}

// Merges adjacent dims d, d+1 when every layout steps through them as one dim, and drops
// size-1 dims; all layouts share one shape.
void collapse(Layout* ls, int count) {
  Layout& ref = ls[0];
  int nd = 0;
  int64_t shape[kMaxDims];
  int64_t strides[8][kMaxDims];
  for (int d = 0; d < ref.ndim; ++d) {
    if (ref.shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < count && merge; ++k)
      merge = strides[k][nd - 1] == ls[k].strides[d] * ls[k].shape[d];
    if (merge) {
      shape[nd - 1] *= ref.shape[d];
      for (int k = 0; k < count; ++k) strides[k][nd - 1] = ls[k].strides[d];
    } else {
      shape[nd] = ref.shape[d];
      for (int k = 0; k < count; ++k) strides[k][nd] = ls[k].strides[d];
      ++nd;
    }
  }
  for (int k = 0; k < count; ++k) {
    ls[k].ndim = nd;
    for (int d = 0; d < nd; ++d) {
      ls[k].shape[d] = shape[d];
      ls[k].strides[d] = strides[k][d];
    }
  }
}

// Index math in 32 bits when every offset fits and a grid-stride step past n cannot overflow.
// The step is the whole grid's thread count: grid_for caps the grid at 65535 * 32 blocks
// (about 2^29 threads), so the last index plus one step must stay below 2^31.
bool fits_int32(const Layout& l, int64_t n) {
  if (n + int64_t(grid_for(n)) * kBlock >= (int64_t(1) << 31)) return false;
  int64_t span = 0;
  for (int d = 0; d < l.ndim; ++d) {
    if (l.strides[d] < 0) return false;
    span += (l.shape[d] - 1) * l.strides[d];
  }
  return span < (int64_t(1) << 31);
}

bool is_dense_1d(const Layout& l) {
  return l.ndim == 0 || (l.ndim == 1 && l.strides[0] == 1);
}

template <typename Out, typename F, typename... T>
void launch_broadcast(F f, Out* out, int64_t begin, int64_t n, const In<T>&... in) {
  if (n <= begin) return;
  bool small = (fits_int32(in.l, n) && ...);
  unsigned grid = grid_for(n - begin);
  if (small)
    elementwise_broadcast<int32_t><<<grid, kBlock, 0, stream()>>>(f, out, begin, n, in...);
  else
    elementwise_broadcast<int64_t><<<grid, kBlock, 0, stream()>>>(f, out, begin, n, in...);
  ENGINE_CUDA_LAUNCH_CHECK();
}

// Collapses the operands' layouts, then takes the float4 path when everything is dense and
// aligned (f32 only), the indexed path otherwise.
template <typename Out, typename F, typename... T>
void run_elementwise(F f, Out* out, int64_t n, In<T>... in) {
  if (n == 0) return;
  Layout ls[] = {in.l...};
  collapse(ls, int(sizeof...(T)));
  int k = 0;
  ((in.l = ls[k++]), ...);
  constexpr bool all_float = std::is_same_v<Out, float> && (std::is_same_v<T, float> && ...);
  if constexpr (all_float) {
    bool vec = aligned16(out) && ((is_dense_1d(in.l) && aligned16(in.p)) && ...);
    if (vec && n >= 4) {
      int64_t n4 = n / 4;
      elementwise_dense_vec4<<<grid_for(n4), kBlock, 0, stream()>>>(f, out, n4, in.p...);
      ENGINE_CUDA_LAUNCH_CHECK();
      launch_broadcast(f, out, n4 * 4, n, in...);
      return;
    }
  }
  launch_broadcast(f, out, 0, n, in...);
}

}  // namespace

void unary(UnaryOp op, const float* x, const Layout& lx, float* out, int64_t n) {
  run_elementwise(UnaryFn{op}, out, n, In<float>{x, lx});
}

void binary(BinaryOp op, const float* a, const Layout& la, const float* b, const Layout& lb,
            float* out, int64_t n) {
  run_elementwise(BinaryFn{op}, out, n, In<float>{a, la}, In<float>{b, lb});
}

void clamp(const float* x, const Layout& lx, float lo, float hi, float* out, int64_t n) {
  run_elementwise(ClampFn{lo, hi}, out, n, In<float>{x, lx});
}

void where(const uint8_t* cond, const Layout& lc, const float* a, const Layout& la, const float* b,
           const Layout& lb, float* out, int64_t n) {
  run_elementwise(WhereFn{}, out, n, In<uint8_t>{cond, lc}, In<float>{a, la}, In<float>{b, lb});
}

template <typename T>
void compare(CompareOp op, const T* a, const Layout& la, const T* b, const Layout& lb, bool* out,
             int64_t n) {
  run_elementwise(CompareFn<T>{op}, out, n, In<T>{a, la}, In<T>{b, lb});
}

template void compare<float>(CompareOp, const float*, const Layout&, const float*, const Layout&,
                             bool*, int64_t);
template void compare<int32_t>(CompareOp, const int32_t*, const Layout&, const int32_t*,
                               const Layout&, bool*, int64_t);
template void compare<int64_t>(CompareOp, const int64_t*, const Layout&, const int64_t*,
                               const Layout&, bool*, int64_t);
template void compare<uint8_t>(CompareOp, const uint8_t*, const Layout&, const uint8_t*,
                               const Layout&, bool*, int64_t);
template void compare<bool>(CompareOp, const bool*, const Layout&, const bool*, const Layout&,
                            bool*, int64_t);

}  // namespace engine::cuda
