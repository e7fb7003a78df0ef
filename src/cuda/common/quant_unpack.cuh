// Device helpers for quantized weights: exact code -> f16 / bf16 / f32 conversion with the
// "magic exponent" trick (a code OR'ed into the mantissa of 1024.0 (f16), 128.0 (bf16) or 2^23
// (f32) is that float plus the code, so one LOP3 / PRMT and one subtract give exact small
// integers), streaming 16-byte loads, and pair helpers for f16 / bf16.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

namespace klab::cuda {

template <class T>
struct PairOf;
template <>
struct PairOf<__half> {
  using type = __half2;
};
template <>
struct PairOf<__nv_bfloat16> {
  using type = __nv_bfloat162;
};
template <class T>
using pair_t = typename PairOf<T>::type;

template <class P>
__device__ __forceinline__ P bits_as(std::uint32_t u) {
  P p;
  std::memcpy(&p, &u, sizeof(p));
  return p;
}
template <class P>
__device__ __forceinline__ std::uint32_t as_bits(P p) {
  std::uint32_t u;
  std::memcpy(&u, &p, sizeof(u));
  return u;
}

// 16 bytes read once: no L1 allocation, so x and scales keep the L1.
__device__ __forceinline__ uint4 load_stream16(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

__device__ __forceinline__ float half_bits_to_float(std::uint16_t h) {
  return __half2float(__ushort_as_half(h));
}

// (lo, lo) and (hi, hi) of a pair.
__device__ __forceinline__ __half2 pair_lo(__half2 p) {
  return __low2half2(p);
}
__device__ __forceinline__ __half2 pair_hi(__half2 p) {
  return __high2half2(p);
}
__device__ __forceinline__ __nv_bfloat162 pair_lo(__nv_bfloat162 p) {
  return __low2bfloat162(p);
}
__device__ __forceinline__ __nv_bfloat162 pair_hi(__nv_bfloat162 p) {
  return __high2bfloat162(p);
}

// f16 scale / min pair {a, b} (bits) converted to the pair type of T.
template <class T>
__device__ __forceinline__ pair_t<T> f16x2_to(std::uint32_t bits);
template <>
__device__ __forceinline__ __half2 f16x2_to<__half>(std::uint32_t bits) {
  return bits_as<__half2>(bits);
}
template <>
__device__ __forceinline__ __nv_bfloat162 f16x2_to<__nv_bfloat16>(std::uint32_t bits) {
  return __float22bfloat162_rn(__half22float2(bits_as<__half2>(bits)));
}

// Decodes unsigned codes minus the zero point z into exact small integers of type T.
//   Bits = 4: pair<J>(w) = nibbles (J, J + 4) of w, J in 0..3.
//   Bits = 8: pair<J>(w) = bytes (2J, 2J + 1) of w, J in 0..1.
template <class T, int Bits>
struct CodeDecoder;

// (a & Mask) | c in one LOP3. Written out because with both constants as immediates ptxas
// emits an AND and an OR; `c` passed in a register keeps it one instruction.
template <std::uint32_t Mask>
__device__ __forceinline__ std::uint32_t and_or(std::uint32_t a, std::uint32_t c) {
  std::uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "n"(Mask), "r"(c));
  return d;
}

// 4-bit pairs J = 0..3 of a word: bits 4J..4J+3 and 16+4J..16+4J+3. Odd J keep their nibble in
// place (mask 0x00F000F0: 1024 + 16 q, exact) and scale it back with one fma, so a word costs
// one shift (by 8, shared by J = 2, 3), four LOP3 and four half2 ops, all exact.
template <>
struct CodeDecoder<__half, 4> {
  __half2 bias, inv16, bias16;
  std::uint32_t magic = 0x64006400u;  // 1024.0 in both halves
  __device__ explicit CodeDecoder(int z)
      : bias(__float2half2_rn(1024.0f + z)),
        inv16(__float2half2_rn(1.0f / 16.0f)),
        bias16(__float2half2_rn(-64.0f - z)) {}
  template <int J>
  __device__ __forceinline__ __half2 pair(std::uint32_t w) const {
    const std::uint32_t v = w >> (8 * (J / 2));
    if constexpr (J % 2 == 0)
      return __hsub2(bits_as<__half2>(and_or<0x000F000Fu>(v, magic)), bias);
    else
      return __hfma2(bits_as<__half2>(and_or<0x00F000F0u>(v, magic)), inv16, bias16);
  }
};

// bf16 has 7 mantissa bits: a nibble at bits 4..7 would reach the exponent, so every pair is
// shifted down (the f16 trick above does not apply).
template <>
struct CodeDecoder<__nv_bfloat16, 4> {
  __nv_bfloat162 bias;
  std::uint32_t magic = 0x43004300u;  // 128.0 in both halves
  __device__ explicit CodeDecoder(int z) : bias(__float2bfloat162_rn(128.0f + z)) {}
  template <int J>
  __device__ __forceinline__ __nv_bfloat162 pair(std::uint32_t w) const {
    return __hsub2(bits_as<__nv_bfloat162>(and_or<0x000F000Fu>(w >> (4 * J), magic)), bias);
  }
};

template <>
struct CodeDecoder<__half, 8> {
  __half2 bias;
  __device__ explicit CodeDecoder(int z) : bias(__float2half2_rn(1024.0f + z)) {}
  template <int J>
  __device__ __forceinline__ __half2 pair(std::uint32_t w) const {
    constexpr unsigned sel = J == 0 ? 0x5150u : 0x5352u;  // {b[2J], 0x64, b[2J+1], 0x64}
    return __hsub2(bits_as<__half2>(__byte_perm(w, 0x64646464u, sel)), bias);
  }
};

// 8-bit codes do not fit bf16's 7-bit mantissa window, so they go through f32.
template <>
struct CodeDecoder<__nv_bfloat16, 8> {
  float bias;
  __device__ explicit CodeDecoder(int z) : bias(8388608.0f + z) {}
  template <int J>
  __device__ __forceinline__ __nv_bfloat162 pair(std::uint32_t w) const {
    const float lo = __uint_as_float(__byte_perm(w, 0x4B000000u, 0x7440u + 2 * J)) - bias;
    const float hi = __uint_as_float(__byte_perm(w, 0x4B000000u, 0x7441u + 2 * J)) - bias;
    return __floats2bfloat162_rn(lo, hi);
  }
};

// Plain layout, CUDA-core path: the codes of one 32-bit word minus z, as floats in element
// order (8 for 4-bit: low nibble first; 4 for 8-bit).
template <int Bits>
__device__ __forceinline__ void decode_word_f32(std::uint32_t w, const CodeDecoder<__half, Bits>& d,
                                                float (&q)[32 / Bits]) {
  if constexpr (Bits == 4) {
    const float2 p0 = __half22float2(d.template pair<0>(w));
    const float2 p1 = __half22float2(d.template pair<1>(w));
    const float2 p2 = __half22float2(d.template pair<2>(w));
    const float2 p3 = __half22float2(d.template pair<3>(w));
    q[0] = p0.x, q[4] = p0.y, q[1] = p1.x, q[5] = p1.y;
    q[2] = p2.x, q[6] = p2.y, q[3] = p3.x, q[7] = p3.y;
  } else {
    const float2 p0 = __half22float2(d.template pair<0>(w));
    const float2 p1 = __half22float2(d.template pair<1>(w));
    q[0] = p0.x, q[1] = p0.y, q[2] = p1.x, q[3] = p1.y;
  }
}

}  // namespace klab::cuda
