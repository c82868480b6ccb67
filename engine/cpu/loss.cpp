// CPU classification losses. Each row (one pixel's class scores) is read once in the forward
// (max, then exp-sum; both contiguous) and once in the backward, so the losses run at memory
// speed; threads split rows.
#include "engine/kernels/loss.h"
#include "engine/kernels/softmax.h"

#include <climits>
#include <cmath>

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;

template <typename I>
bool ignored(I t, int64_t ignore_index) {
  return int64_t(t) == ignore_index;
}

template <typename I>
bool in_range(I t, int64_t classes) {
  return int64_t(t) >= 0 && int64_t(t) < classes;
}

// Valid rows and the first bad one, then the loss sum in row order (a parallel reduction of
// doubles would depend on the thread count).
template <typename T, typename I>
LossStats finish_stats(const I* target, const T* loss, int64_t rows, int64_t classes,
                       int64_t ignore_index) {
  LossStats st;
  int64_t bad = LLONG_MAX, valid = 0;
#pragma omp parallel for reduction(min : bad) reduction(+ : valid) if (rows > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    I t = target[r];
    if (ignored(t, ignore_index)) continue;
    if (in_range(t, classes))
      ++valid;
    else if (r < bad)
      bad = r;
  }
  st.valid = valid;
  st.bad_row = bad == LLONG_MAX ? -1 : bad;
  double s = 0;
  for (int64_t r = 0; r < rows; ++r) s += double(loss[r]);
  st.sum = s;
  return st;
}
}  // namespace

template <typename T, typename I>
LossStats cross_entropy_forward(const T* logits, const I* target, int64_t rows, int64_t classes,
                                int64_t ignore_index, T* loss, T* lse) {
#pragma omp parallel for if (rows * classes > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * classes;
    T m = x[0];
#pragma omp simd reduction(max : m)
    for (int64_t c = 1; c < classes; ++c) m = x[c] > m ? x[c] : m;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < classes; ++c) s += double(exp_vec(x[c] - m));
    T l = m + T(std::log(s));
    lse[r] = l;
    I t = target[r];
    loss[r] = in_range(t, classes) && !ignored(t, ignore_index) ? l - x[int64_t(t)] : T(0);
  }
  return finish_stats(target, loss, rows, classes, ignore_index);
}

template <typename T, typename I>
void cross_entropy_backward(const T* logits, const I* target, const T* lse, const T* row_scale,
                            T scale, int64_t rows, int64_t classes, int64_t ignore_index,
                            T* dlogits) {
#pragma omp parallel for if (rows * classes > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * classes;
    T* d = dlogits + r * classes;
    I t = target[r];
    T s = ignored(t, ignore_index) ? T(0) : scale * (row_scale ? row_scale[r] : T(1));
    if (s == T(0)) {
      for (int64_t c = 0; c < classes; ++c) d[c] = T(0);
      continue;
    }
    T l = lse[r];
#pragma omp simd
    for (int64_t c = 0; c < classes; ++c) d[c] = s * exp_vec(x[c] - l);
    d[int64_t(t)] -= s;
  }
}

template <typename T, typename I>
LossStats nll_forward(const T* log_probs, const I* target, int64_t rows, int64_t classes,
                      int64_t ignore_index, T* loss) {
#pragma omp parallel for if (rows > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    I t = target[r];
    loss[r] = in_range(t, classes) && !ignored(t, ignore_index)
                  ? -log_probs[r * classes + int64_t(t)]
                  : T(0);
  }
  return finish_stats(target, loss, rows, classes, ignore_index);
}

template <typename T, typename I>
void nll_backward(const I* target, const T* row_scale, T scale, int64_t rows, int64_t classes,
                  int64_t ignore_index, T* dlog_probs) {
#pragma omp parallel for if (rows * classes > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    T* d = dlog_probs + r * classes;
    for (int64_t c = 0; c < classes; ++c) d[c] = T(0);
    I t = target[r];
    if (!ignored(t, ignore_index)) d[int64_t(t)] = -scale * (row_scale ? row_scale[r] : T(1));
  }
}

#define ENGINE_INSTANTIATE(T, I)                                                                 \
  template LossStats cross_entropy_forward<T, I>(const T*, const I*, int64_t, int64_t, int64_t,  \
                                                 T*, T*);                                        \
  template void cross_entropy_backward<T, I>(const T*, const I*, const T*, const T*, T, int64_t, \
                                             int64_t, int64_t, T*);                              \
  template LossStats nll_forward<T, I>(const T*, const I*, int64_t, int64_t, int64_t, T*);       \
  template void nll_backward<T, I>(const I*, const T*, T, int64_t, int64_t, int64_t, T*);
ENGINE_INSTANTIATE(float, int32_t)
ENGINE_INSTANTIATE(float, int64_t)
ENGINE_INSTANTIATE(double, int32_t)
ENGINE_INSTANTIATE(double, int64_t)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
