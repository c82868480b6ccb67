// Elementwise kernels: per-element math shared by both backends (ENGINE_HD), and the strided
// broadcasting loops. Inputs arrive as Layouts already expanded to the output shape (broadcast
// dims have stride 0); the output is dense.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/hd.h"
#include "engine/kernels/layout.h"

namespace engine {

enum class UnaryOp : uint8_t { neg, exp, log, sqrt, rsqrt, abs, relu, sigmoid, tanh };
enum class BinaryOp : uint8_t { add, sub, mul, div, pow, maximum, minimum };

template <typename T>
ENGINE_HD T apply_unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::neg:
      return -x;
    case UnaryOp::exp:
      return std::exp(x);
    case UnaryOp::log:
      return std::log(x);
    case UnaryOp::sqrt:
      return std::sqrt(x);
    case UnaryOp::rsqrt:
      return T(1) / std::sqrt(x);
    case UnaryOp::abs:
      return std::abs(x);
    case UnaryOp::relu:
      return x > T(0) ? x : T(0);
    case UnaryOp::sigmoid:
      return T(1) / (T(1) + std::exp(-x));
    case UnaryOp::tanh:
      return std::tanh(x);
  }
  return x;
}

template <typename T>
ENGINE_HD T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    case BinaryOp::div:
      return a / b;
    case BinaryOp::pow:
      return std::pow(a, b);
    case BinaryOp::maximum:
      return a > b ? a : b;
    case BinaryOp::minimum:
      return a < b ? a : b;
  }
  return a;
}

template <typename T>
ENGINE_HD T clamp_value(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

}  // namespace engine

// One entry point per loop shape; T is float or double (CPU), float (CUDA).
namespace engine::cpu {
template <typename T>
void unary(UnaryOp op, const T* x, const Layout& lx, T* out, int64_t n);
template <typename T>
void binary(BinaryOp op, const T* a, const Layout& la, const T* b, const Layout& lb, T* out,
            int64_t n);
template <typename T>
void clamp(const T* x, const Layout& lx, T lo, T hi, T* out, int64_t n);
// out = cond ? a : b; cond is u8/bool (1 byte per element).
template <typename T>
void where(const uint8_t* cond, const Layout& lc, const T* a, const Layout& la, const T* b,
           const Layout& lb, T* out, int64_t n);
}  // namespace engine::cpu

namespace engine::cuda {
void unary(UnaryOp op, const float* x, const Layout& lx, float* out, int64_t n);
void binary(BinaryOp op, const float* a, const Layout& la, const float* b, const Layout& lb,
            float* out, int64_t n);
void clamp(const float* x, const Layout& lx, float lo, float hi, float* out, int64_t n);
void where(const uint8_t* cond, const Layout& lc, const float* a, const Layout& la, const float* b,
           const Layout& lb, float* out, int64_t n);
}  // namespace engine::cuda

namespace engine {
enum class CompareOp : uint8_t { eq, ne, lt, le, gt, ge, logical_and };
template <typename T>
ENGINE_HD bool apply_compare(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::eq:
      return a == b;
    case CompareOp::ne:
      return a != b;
    case CompareOp::lt:
      return a < b;
    case CompareOp::le:
      return a <= b;
    case CompareOp::gt:
      return a > b;
    case CompareOp::ge:
      return a >= b;
    case CompareOp::logical_and:
      return a != T(0) && b != T(0);
  }
  return false;
}
}  // namespace engine

namespace engine::cpu {
// out (bool) = op(a, b) for numeric T (float, double, int32_t, int64_t, uint8_t, bool).
template <typename T>
void compare(CompareOp op, const T* a, const Layout& la, const T* b, const Layout& lb, bool* out,
             int64_t n);
}  // namespace engine::cpu

namespace engine::cuda {
// T = float, int32_t, int64_t, uint8_t or bool.
template <typename T>
void compare(CompareOp op, const T* a, const Layout& la, const T* b, const Layout& lb, bool* out,
             int64_t n);
}  // namespace engine::cuda
