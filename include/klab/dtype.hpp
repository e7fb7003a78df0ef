// Element types and exact IEEE conversions between f32, f16 and bf16.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace klab {

enum class DType : std::uint8_t { f32, f16, bf16, i32, u8 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f16:
      return 2;
    case DType::bf16:
      return 2;
    case DType::i32:
      return 4;
    case DType::u8:
      return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
    case DType::i32:
      return "i32";
    case DType::u8:
      return "u8";
  }
  return "?";
}

constexpr bool is_float_dtype(DType t) {
  return t == DType::f32 || t == DType::f16 || t == DType::bf16;
}

// Parses "f32" | "f16" | "bf16"; throws klab::Error otherwise.
DType parse_dtype(std::string_view name);

// Storage-only host types: bit patterns, no arithmetic. CUDA code reinterprets them as
// __half / __nv_bfloat16 (same size and layout).
struct half_t {
  std::uint16_t bits;
};
struct bfloat16_t {
  std::uint16_t bits;
};

// Round-to-nearest-even, with correct subnormals, overflow to inf, and NaN kept quiet.
std::uint16_t f32_to_f16_bits(float f);
float f16_bits_to_f32(std::uint16_t h);
std::uint16_t f32_to_bf16_bits(float f);
inline float bf16_bits_to_f32(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

inline half_t to_half(float f) {
  return {f32_to_f16_bits(f)};
}
inline bfloat16_t to_bf16(float f) {
  return {f32_to_bf16_bits(f)};
}
inline float to_float(half_t h) {
  return f16_bits_to_f32(h.bits);
}
inline float to_float(bfloat16_t b) {
  return bf16_bits_to_f32(b.bits);
}
inline float to_float(float f) {
  return f;
}

}  // namespace klab
