// The one-token GEMV's codes fed to the tensor cores with their exponent bias left in
// (mma_staged's symmetric f16 kernels).
//
// CodeDecoder (quant_unpack.cuh) turns a pair of codes into exact small integers q - z in two
// instructions: a LOP3 / PRMT that ORs the codes into the mantissa of a power of two, then a
// half2 subtract of the power plus z (or an fma). Here the mma takes the biased halves as they
// come from the LOP3 / PRMT and the tensor cores subtract the bias, by linearity:
//   sum((q - z) x) = sum((P + q) x) + sum(-(P + z) x),
// the second sum one more mma a k-step with a constant A (every row -(P + z)), done once a
// sub-chunk for all of a block's tiles, and chained into the same accumulator.
//   - 4-bit: even nibbles (bits 0..3 of a half) OR'ed into 1024.0 are 1024 + q; odd nibbles,
//     kept in place at bits 4..7, OR'ed into 64.0 (ulp 1 / 16) are 64 + q. So the constant A
//     is -(1024 + z) on the even pairs' k and -(64 + z) on the odd ones'.
//   - 8-bit: bytes OR'ed into 1024.0: 1024 + q; the constant A is -(1024 + z).
// Why: the half2 subtract / fma was 16 of a 4-bit chunk's ~81 SASS (32 of SwiGLU's ~145) and 8
// of an 8-bit chunk's ~47, for two mma a sub-chunk; the one-token GEMV is bound by its loop's
// issue (s25's stream_floor sweep: each SASS a chunk costs ~0.1 µs at Llama-2-7B's QKV), not by
// its tensor pipe. Products are exact in the tensor cores; the sums are ~100x the result
// before the bias cancels (s26 c1's precision test: ~2e-6 relative with a bias staged the
// same size, against 1e-4 allowed). s26 c1 staged the bias per block instead (an x pass before
// the loop): that prologue cost ~1.3 µs a launch.
#pragma once

#include "cuda/common/mma.cuh"
#include "cuda/common/quant_unpack.cuh"
#include "cuda/gemv/gemv_common.cuh"

namespace klab::cuda::gemv_impl::biased {

constexpr std::uint32_t kEvenMagic = 0x64006400u;  // 1024.0 in both halves
constexpr std::uint32_t kOddMagic = 0x54005400u;   // 64.0: a nibble at bits 4..7 adds q

// Pair J of a word as biased halves: 4-bit pairs are nibbles (J, J + 4), odd J in place;
// 8-bit pairs are bytes (2J, 2J + 1).
template <int Bits, int J>
__device__ __forceinline__ std::uint32_t pair(std::uint32_t w, std::uint32_t even_magic,
                                              std::uint32_t odd_magic) {
  if constexpr (Bits == 4) {
    const std::uint32_t v = w >> (8 * (J / 2));
    return J % 2 == 0 ? and_or<0x000F000Fu>(v, even_magic) : and_or<0x00F000F0u>(v, odd_magic);
  } else {
    constexpr unsigned sel = J == 0 ? 0x5150u : 0x5352u;  // {b[2J], 0x64, b[2J+1], 0x64}
    return __byte_perm(w, 0x64646464u, sel);
  }
}

// The loop's constants: the magics in registers (one LOP3 a pair, see and_or) and the constant
// A fragment -(P + z) (mma_gemv's k order: a[0], a[1] even pairs, a[2], a[3] odd ones).
struct Bias {
  std::uint32_t even_magic = kEvenMagic, odd_magic = kOddMagic;
  std::uint32_t a[4];
};

// The constant A fragment's four words, for the block to stage once (Bias::a loads them).
template <int Bits>
__device__ __forceinline__ uint4 minus_bias_words(int z) {
  const std::uint32_t even = as_bits(__float2half2_rn(-(1024.0f + z)));
  const std::uint32_t odd = as_bits(__float2half2_rn(-((Bits == 4 ? 64.0f : 1024.0f) + z)));
  return uint4{even, even, odd, odd};
}

// Bias with the fragment loaded by one 16-byte shared load: computed in registers, its two
// equal pairs were kept as two registers and the mma's quad rebuilt with four moves every
// k-step (ptxas sees through PTX moves and self-shuffles).
__device__ __forceinline__ Bias load_bias(std::uint32_t words_s) {
  Bias b;
  const uint4 w = lds128_at(words_s);
  b.a[0] = w.x, b.a[1] = w.y, b.a[2] = w.z, b.a[3] = w.w;
  return b;
}

// d = a b + c (f16 inputs, f32 accumulators), c in its own registers: one bias quad serves
// every tile.
__device__ __forceinline__ void mma_from(float (&d)[4], const std::uint32_t (&a)[4],
                                         const std::uint32_t (&b)[2], const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
}

// A fragment of k-step J of sub-chunk S (mma_gemv.cuh's code_fragment, biased).
template <int Bits, int S, int J>
__device__ __forceinline__ void fragment(const Bias& bias, const uint4& q, std::uint32_t (&a)[4]) {
  const auto p = [&](auto pair_const, std::uint32_t w) {
    return pair<Bits, decltype(pair_const)::value>(w, bias.even_magic, bias.odd_magic);
  };
  using std::integral_constant;
  if constexpr (Bits == 4) {
    const std::uint32_t wg = word_of<2 * S>(q), wg8 = word_of<2 * S + 1>(q);
    a[0] = p(integral_constant<int, 2 * J>{}, wg), a[1] = p(integral_constant<int, 2 * J>{}, wg8);
    a[2] = p(integral_constant<int, 2 * J + 1>{}, wg);
    a[3] = p(integral_constant<int, 2 * J + 1>{}, wg8);
  } else {
    const std::uint32_t wg = word_of<2 * J>(q), wg8 = word_of<2 * J + 1>(q);
    a[0] = p(integral_constant<int, 0>{}, wg), a[1] = p(integral_constant<int, 0>{}, wg8);
    a[2] = p(integral_constant<int, 1>{}, wg), a[3] = p(integral_constant<int, 1>{}, wg8);
  }
}

// acc[i] += scale * sum((q - z) x) over sub-chunk S of tile i.
template <int Bits, int S, int Tiles>
__device__ __forceinline__ void mma_sub_chunk(const Bias& bias, const uint4 (&q)[Tiles],
                                              const uint4& xv, const float2 (&sc)[Tiles],
                                              float (&acc)[Tiles][4]) {
  const std::uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
  float minus_b[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // -sum((P + z) x), every row
  mma_m16n8k16<__half>(minus_b, bias.a, b0);
  mma_m16n8k16<__half>(minus_b, bias.a, b1);
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    float d[4];
    std::uint32_t a[4];
    fragment<Bits, S, 0>(bias, q[i], a);
    mma_from(d, a, b0, minus_b);
    fragment<Bits, S, 1>(bias, q[i], a);
    mma_m16n8k16<__half>(d, a, b1);
    acc[i][0] = fmaf(d[0], sc[i].x, acc[i][0]);
    acc[i][1] = fmaf(d[1], sc[i].x, acc[i][1]);
    acc[i][2] = fmaf(d[2], sc[i].y, acc[i][2]);
    acc[i][3] = fmaf(d[3], sc[i].y, acc[i][3]);
  }
}

}  // namespace klab::cuda::gemv_impl::biased
