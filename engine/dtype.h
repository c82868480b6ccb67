// Element types. f32 is the compute type; f64 is supported on CPU for double-precision gradient
// checks; bf16/f16 are storage types for mixed precision; i32 (labels, segment ids; 255 = ignore
// in label maps), i64 (indices), u8 (decoded images, masks) and boolean (masks).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/hd.h"

namespace engine {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64, u8, boolean };

inline constexpr DType kAllDTypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16,
                                       DType::i32, DType::i64, DType::u8,   DType::boolean};

// Bytes per element.
size_t dtype_size(DType t);
// "f32", "bf16", ...; the same names the safetensors header uses are given by safetensors.h.
const char* dtype_name(DType t);
// Parses the names dtype_name returns; throws engine::Error otherwise.
DType parse_dtype(std::string_view name);
bool is_floating(DType t);  // f32, f64, bf16, f16
bool is_integral(DType t);  // i32, i64, u8, boolean

ENGINE_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

ENGINE_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// 16-bit float storage types: plain bit containers, converted through float.
struct BF16 {
  uint16_t bits;
};
struct F16 {
  uint16_t bits;
};

ENGINE_HD float bf16_to_float(BF16 v) {
  return bits_float(uint32_t(v.bits) << 16);
}

// Round to nearest even; NaN stays NaN.
ENGINE_HD BF16 float_to_bf16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu))
    return BF16{uint16_t((u >> 16) | 0x40)};
  uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return BF16{uint16_t((u + rounding) >> 16)};
}

ENGINE_HD float f16_to_float(F16 v) {
  uint32_t sign = uint32_t(v.bits & 0x8000u) << 16;
  uint32_t exp = (v.bits >> 10) & 0x1fu;
  uint32_t man = v.bits & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      u = sign | (uint32_t(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  return bits_float(u);
}

// Round to nearest even, with overflow to infinity and gradual underflow.
ENGINE_HD F16 float_to_f16(float f) {
  uint32_t u = float_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) return F16{uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0))};
  if (abs >= 0x477ff000u) return F16{uint16_t(sign | 0x7c00u)};  // rounds past 65504
  if (abs < 0x38800000u) {                                       // below 2^-14: subnormal or 0
    if (abs < 0x33000000u) return F16{uint16_t(sign)};
    uint32_t e = abs >> 23;
    uint32_t man = (abs & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14..24
    uint32_t half = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return F16{uint16_t(sign | half)};
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return F16{uint16_t(sign | ((rounded - 0x38000000u) >> 13))};
}

// Element conversions shared by every backend: any element type to and from double (bf16/f16
// through float; bool is "non-zero"), and S -> D directly when the types agree.
template <typename T>
ENGINE_HD double to_double(T v) {
  if constexpr (std::is_same_v<T, BF16>)
    return bf16_to_float(v);
  else if constexpr (std::is_same_v<T, F16>)
    return f16_to_float(v);
  else
    return double(v);
}

template <typename T>
ENGINE_HD T from_double(double v) {
  if constexpr (std::is_same_v<T, BF16>)
    return float_to_bf16(float(v));
  else if constexpr (std::is_same_v<T, F16>)
    return float_to_f16(float(v));
  else if constexpr (std::is_same_v<T, bool>)
    return v != 0.0;
  else
    return T(v);
}

template <typename S, typename D>
ENGINE_HD D convert_element(S v) {
  if constexpr (std::is_same_v<S, D>)
    return v;
  else
    return from_double<D>(to_double(v));
}

// Maps a C++ element type to its DType.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct DTypeOf<BF16> {
  static constexpr DType value = DType::bf16;
};
template <>
struct DTypeOf<F16> {
  static constexpr DType value = DType::f16;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::i64;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::u8;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::boolean;
};

}  // namespace engine

// Calls F with a value of the C++ type of `dtype` as first argument (a tag), for every dtype.
// Usage: dispatch_dtype(t, [&](auto tag) { using T = decltype(tag); ... });
namespace engine {
template <typename F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    case DType::bf16:
      return f(BF16{});
    case DType::f16:
      return f(F16{});
    case DType::i32:
      return f(int32_t{});
    case DType::i64:
      return f(int64_t{});
    case DType::u8:
      return f(uint8_t{});
    case DType::boolean:
      return f(bool{});
  }
  return f(float{});
}
}  // namespace engine
