// The one-token GEMV's codes fed to the tensor cores with their exponent bias left in
// (mma_staged's symmetric f16 kernels).
//
// CodeDecoder (quant_unpack.cuh) turns a pair of codes into exact small integers q - z in two
// instructions: a LOP3 / PRMT that ORs the codes into the mantissa of 1024.0 (f16), then a
// half2 subtract of 1024 + z (odd 4-bit nibbles, kept in place at bits 4..7, are 1024 + 16 q
// and take an fma with 1 / 16). Here the mma takes the biased halves as they come from the
// LOP3 / PRMT (1024 + q, or 1024 + 16 q), and the bias goes into the accumulator instead:
//   - the x columns that meet an odd nibble are staged as s = x / 16 (exact: a power of two),
//     so (1024 + 16 q) s = 1024 s + q x, as (1024 + q) x = 1024 s + q x for the others (s = x);
//   - per 32-column sub-chunk and token the block stages -B, B = 1024 sum(s) + z sum(x), and
//     the sub-chunk's first mma starts from it: the pair of mma leaves sum((q - z) x).
// Why: the half2 subtract / fma was 16 of a 4-bit chunk's ~81 SASS and 8 of an 8-bit chunk's
// ~47, and the one-token GEMV is bound by its loop's issue (s25's stream_floor sweep: each SASS
// a chunk costs ~0.1 µs at Llama-2-7B's QKV). The products are exact in the tensor core; the
// bias makes the f32 sums ~200x larger than the result, costing ~2^-24 x 200 relative (far
// below the f16 x's own rounding).
//
// The k order differs from mma_gemv.cuh's: k-step 0 of a sub-chunk takes the even nibble pairs
// (columns 8t + 0, 1 | 4, 5), k-step 1 the odd ones (2, 3 | 6, 7), so one k-step's A halves
// share one scale (1 or 1 / 16, folded into x); the staged x item holds its words in that order
// (x0 x1 x4 x5 x2 x3 x6 x7), so each k-step's B pair is two consecutive registers of one
// 16-byte load. 8-bit codes keep the mma_gemv order (no odd scale).
#pragma once

#include "cuda/common/mma.cuh"
#include "cuda/common/quant_unpack.cuh"
#include "cuda/gemv/gemv_common.cuh"

namespace klab::cuda::gemv_impl::biased {

constexpr std::uint32_t kMagic = 0x64006400u;  // 1024.0 in both halves
constexpr float kBias = 1024.0f;

// Pair J of a word as biased halves: 4-bit pairs are nibbles (J, J + 4), odd J in place
// (1024 + 16 q); 8-bit pairs are bytes (2J, 2J + 1).
template <int Bits, int J>
__device__ __forceinline__ std::uint32_t pair(std::uint32_t w) {
  if constexpr (Bits == 4) {
    const std::uint32_t v = w >> (8 * (J / 2));
    return J % 2 == 0 ? and_or<0x000F000Fu>(v, kMagic) : and_or<0x00F000F0u>(v, kMagic);
  } else {
    constexpr unsigned sel = J == 0 ? 0x5150u : 0x5352u;
    return __byte_perm(w, 0x64646464u, sel);
  }
}

// Whether x column c (within its 8-column item) meets an odd 4-bit nibble.
constexpr bool odd_column(int c) {
  return (c & 2) != 0;
}

// d = a b + c (f16 inputs, f32 accumulators): c in its own registers, so a quad loaded once
// serves every tile without moves.
__device__ __forceinline__ void mma_from(float (&d)[4], const std::uint32_t (&a)[4],
                                         const std::uint32_t (&b)[2], const float4& c) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c.x), "f"(c.y),
        "f"(c.z), "f"(c.w));
}

// acc[i] += scale * sum((q - z) x) over sub-chunk S of tile i; bias: -B of tokens
// (2t, 2t + 1, 2t, 2t + 1), the accumulator quad's columns.
template <int Bits, int S, int Tiles>
__device__ __forceinline__ void mma_sub_chunk(const uint4 (&q)[Tiles], const uint4& xv,
                                              const float4& bias, const float2 (&sc)[Tiles],
                                              float (&acc)[Tiles][4]) {
  const std::uint32_t b0[2] = {xv.x, xv.y}, b1[2] = {xv.z, xv.w};
#pragma unroll
  for (int i = 0; i < Tiles; ++i) {
    float d[4];
    std::uint32_t a[4];
    if constexpr (Bits == 4) {
      const std::uint32_t wg = word_of<2 * S>(q[i]), wg8 = word_of<2 * S + 1>(q[i]);
      a[0] = pair<4, 0>(wg), a[1] = pair<4, 0>(wg8), a[2] = pair<4, 2>(wg), a[3] = pair<4, 2>(wg8);
      mma_from(d, a, b0, bias);
      a[0] = pair<4, 1>(wg), a[1] = pair<4, 1>(wg8), a[2] = pair<4, 3>(wg), a[3] = pair<4, 3>(wg8);
      mma_m16n8k16<__half>(d, a, b1);
    } else {
      const std::uint32_t w0 = q[i].x, w08 = q[i].y, w1 = q[i].z, w18 = q[i].w;
      a[0] = pair<8, 0>(w0), a[1] = pair<8, 0>(w08), a[2] = pair<8, 1>(w0), a[3] = pair<8, 1>(w08);
      mma_from(d, a, b0, bias);
      a[0] = pair<8, 0>(w1), a[1] = pair<8, 0>(w18), a[2] = pair<8, 1>(w1), a[3] = pair<8, 1>(w18);
      mma_m16n8k16<__half>(d, a, b1);
    }
    acc[i][0] = fmaf(d[0], sc[i].x, acc[i][0]);
    acc[i][1] = fmaf(d[1], sc[i].x, acc[i][1]);
    acc[i][2] = fmaf(d[2], sc[i].y, acc[i][2]);
    acc[i][3] = fmaf(d[3], sc[i].y, acc[i][3]);
  }
}

// Bytes of the -B region: a quad {-B[2t], -B[2t + 1], -B[2t], -B[2t + 1]} for each token pair
// t < ceil(M / 2) of each 32-column sub-chunk ([pair][sub][4] f32: sub-chunks 16 bytes apart,
// immediate offsets in the loop; the lanes of pairs past M read pair 0's, which only feeds
// their dropped columns).
__host__ __device__ constexpr std::uint32_t bias_pairs(int M) {
  return static_cast<std::uint32_t>((M + 1) / 2);
}
__host__ __device__ constexpr std::uint32_t bias_bytes(int M, std::int64_t cols) {
  return static_cast<std::uint32_t>(cols / 32) * bias_pairs(M) * 16;
}

// The staged x region (shared address xs, M tokens of `cols` halves) rewritten for the biased
// codes (4-bit: odd columns / 16, words in k-step order), and the -B quads written to bias_s.
// Barriers: x must be complete on entry; both regions are complete on return. Every thread of the
// block calls it.
template <int Bits, int W>
__device__ __noinline__ void stage_bias(std::uint32_t xs, std::uint32_t bias_s, int M, int cols,
                                        int z) {
  constexpr int kThreads = W * 32;
  const int row_items = cols / 8, items = M * row_items;  // 4 items (lanes) a sub-chunk
  const std::uint32_t subs = static_cast<std::uint32_t>(cols / 32);
  const __half2 sixteenth = __float2half2_rn(1.0f / 16.0f);
  for (int i0 = 0; i0 < items; i0 += kThreads) {  // uniform trip count: the shuffles below
    const int i = i0 + static_cast<int>(threadIdx.x);
    const bool live = i < items;
    const int m = live ? i / row_items : 0, c = live ? (i - m * row_items) * 8 : 0;
    const std::uint32_t at = xs + static_cast<std::uint32_t>(i * 16);
    uint4 v = live ? lds128_at(at) : uint4{};
    float sum_s = 0.0f, sum_x = 0.0f;
    const auto add = [&](std::uint32_t& word, int col) {
      const float2 f = __half22float2(bits_as<__half2>(word));
      sum_x += f.x + f.y;
      if (Bits == 4 && odd_column(col)) {
        word = as_bits(__hmul2(bits_as<__half2>(word), sixteenth));
        const float2 s = __half22float2(bits_as<__half2>(word));
        sum_s += s.x + s.y;
      } else {
        sum_s += f.x + f.y;
      }
    };
    add(v.x, 0), add(v.y, 2), add(v.z, 4), add(v.w, 6);
    if (Bits == 4 && live) sts128_at(at, uint4{v.x, v.z, v.y, v.w});
    float b = kBias * sum_s + static_cast<float>(z) * sum_x;
    b += __shfl_xor_sync(0xffffffffu, b, 1);
    b += __shfl_xor_sync(0xffffffffu, b, 2);
    if (live && (threadIdx.x & 3) == 0) {
      // Token m is entry (m & 1) and (m & 1) + 2 of pair m / 2; an odd M's last pair pads with 0.
      const std::uint32_t quad =
          bias_s +
          (static_cast<std::uint32_t>(m / 2) * subs + static_cast<std::uint32_t>(c / 32)) * 16;
      const std::uint32_t e = static_cast<std::uint32_t>(m & 1) * 4;
      sts32_at(quad + e, -b);
      sts32_at(quad + e + 8, -b);
      if (m == M - 1 && (M & 1) == 1) {
        sts32_at(quad + 4, 0.0f);
        sts32_at(quad + 12, 0.0f);
      }
    }
  }
  __syncthreads();
}

}  // namespace klab::cuda::gemv_impl::biased
