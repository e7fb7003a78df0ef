// AVX2 + FMA + F16C tile kernels, compiled for that target function by function (the rest of
// the library stays baseline x86-64) and chosen at run time by best_isa().
//
// Quantized blocks, 8-bit activations: 32 weight codes are widened to one 256-bit register of
// bytes, multiplied with the 32 int8 activations by maddubs (u8 x s8 -> s16 pairs) and madd
// (-> 8 x s32), then scaled by d_w * d_x in float. Q4_x nibbles are already unsigned; Q8_0 uses
// the sign trick (|w| x sign(w) * q).
// 16-bit activations: the codes are widened to two registers of 16 int16 and multiplied with
// the int16 activations by madd (s16 x s16 -> s32 pairs), twice the integer work per block.
// Each unpacked weight block serves up to 4 input rows.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "cpu/kernels.hpp"

namespace klab::cpu::detail {
namespace {

constexpr int kMaxRows = 4;  // input rows sharing one unpacked weight block

[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline float f16_at(const std::uint8_t* p) {
  return _cvtsh_ss(load_u16(p));
}

[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline __m256i unpack_nibbles(
    const std::uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both =
      _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// A weight block widened to int16: elements 0..15 in lo, 16..31 in hi.
struct Codes16 {
  __m256i lo, hi;
};

[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline Codes16 nibbles16(
    const std::uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return {_mm256_cvtepu8_epi16(_mm_and_si128(raw, mask)),
          _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), mask))};
}

// Eight partial sums of u[i] * s[i] (u unsigned bytes, s signed bytes), as floats.
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline __m256 dot_u8s8(__m256i u, __m256i s) {
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// Block formats: how one 32-element weight block is read.
struct Q4_0Format {
  static constexpr std::size_t kBytes = kQ4_0Bytes;
  static constexpr bool kHasOffset = true;  // "- 8", folded in as a min of -8 * d
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256i codes(
      const std::uint8_t* blk) {
    return unpack_nibbles(blk + 2);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static Codes16 codes16(
      const std::uint8_t* blk) {
    return nibbles16(blk + 2);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static float offset(const std::uint8_t*,
                                                                           float d) {
    return -8.0f * d;
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256 dot(__m256i codes, __m256i q) {
    return dot_u8s8(codes, q);
  }
};

struct Q4_1Format {
  static constexpr std::size_t kBytes = kQ4_1Bytes;
  static constexpr bool kHasOffset = true;
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256i codes(
      const std::uint8_t* blk) {
    return unpack_nibbles(blk + 4);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static Codes16 codes16(
      const std::uint8_t* blk) {
    return nibbles16(blk + 4);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static float offset(const std::uint8_t* blk,
                                                                           float) {
    return f16_at(blk + 2);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256 dot(__m256i codes, __m256i q) {
    return dot_u8s8(codes, q);
  }
};

struct Q8_0Format {
  static constexpr std::size_t kBytes = kQ8_0Bytes;
  static constexpr bool kHasOffset = false;
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256i codes(
      const std::uint8_t* blk) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static Codes16 codes16(
      const std::uint8_t* blk) {
    const auto* qs = reinterpret_cast<const __m128i*>(blk + 2);
    return {_mm256_cvtepi8_epi16(_mm_loadu_si128(qs)),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(qs + 1))};
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static float offset(const std::uint8_t*,
                                                                           float) {
    return 0.0f;
  }
  // Signed x signed via the sign trick: |w| (unsigned) times q with w's sign applied.
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256 dot(__m256i codes, __m256i q) {
    return dot_u8s8(_mm256_sign_epi8(codes, codes), _mm256_sign_epi8(q, codes));
  }
};

// Activation formats: how a block of x is loaded, and multiplied with one unpacked weight block
// of format F (eight partial sums, as floats).
template <class F>
struct Act8 {
  using Block = Q8Block;
  using Codes = __m256i;
  using X = __m256i;
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static Codes unpack(
      const std::uint8_t* blk) {
    return F::codes(blk);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static X load(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256 dot(const Codes& c,
                                                                         const X& x) {
    return F::dot(c, x);
  }
};

template <class F>
struct Act16 {
  using Block = Q16Block;
  using Codes = Codes16;
  using X = Codes16;
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static Codes unpack(
      const std::uint8_t* blk) {
    return F::codes16(blk);
  }
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static X load(const Block& b) {
    const auto* q = reinterpret_cast<const __m256i*>(b.q);
    return {_mm256_loadu_si256(q), _mm256_loadu_si256(q + 1)};
  }
  // |sum| <= 32 * 128 * 32767 < 2^31: no overflow for any weight format.
  [[gnu::target("avx2,fma,f16c"), gnu::always_inline]] static __m256 dot(const Codes& c,
                                                                         const X& x) {
    return _mm256_cvtepi32_ps(
        _mm256_add_epi32(_mm256_madd_epi16(c.lo, x.lo), _mm256_madd_epi16(c.hi, x.hi)));
  }
};

// RW weight rows against RX input rows: RW * RX independent accumulators, each weight block
// unpacked once for RX rows and each activation block loaded once for RW rows.
// out[j * RW + i] = dot(weight row i, input row j).
template <class F, class A, int RW, int RX>
[[gnu::target("avx2,fma,f16c")]] void block_tile(const std::uint8_t* w, std::size_t w_row_bytes,
                                                 const typename A::Block* x,
                                                 std::int64_t x_row_blocks, float* out) {
  __m256 acc[RW][RX];
  float acc_offset[RW][RX];
  for (int i = 0; i < RW; ++i)
    for (int j = 0; j < RX; ++j) {
      acc[i][j] = _mm256_setzero_ps();
      acc_offset[i][j] = 0;
    }
  for (std::int64_t b = 0; b < x_row_blocks; ++b) {
    typename A::Codes codes[RW];
    float d[RW], offset[RW];
    for (int i = 0; i < RW; ++i) {
      const std::uint8_t* blk = w + i * w_row_bytes + b * F::kBytes;
      codes[i] = A::unpack(blk);
      d[i] = f16_at(blk);
      offset[i] = F::offset(blk, d[i]);
    }
    for (int j = 0; j < RX; ++j) {
      const typename A::Block& xb = x[j * x_row_blocks + b];
      const typename A::X q = A::load(xb);
      for (int i = 0; i < RW; ++i) {
        acc[i][j] = _mm256_fmadd_ps(A::dot(codes[i], q), _mm256_set1_ps(d[i] * xb.d), acc[i][j]);
        // An explicit fma: left to the compiler, contraction would differ between tile shapes
        // and a batch would not reproduce decode bit for bit.
        if constexpr (F::kHasOffset) acc_offset[i][j] = std::fma(offset[i], xb.s, acc_offset[i][j]);
      }
    }
  }
  for (int j = 0; j < RX; ++j)
    for (int i = 0; i < RW; ++i) out[j * RW + i] = hsum(acc[i][j]) + acc_offset[i][j];
}

// Decode (one input row) takes 4 weight rows at a time for independent accumulators; prefill
// takes 2 weight rows x up to 4 input rows. Leftover weight rows go one at a time.
template <class F, class A>
[[gnu::target("avx2,fma,f16c")]] void quant_tile(const QuantTileOf<typename A::Block>& t) {
  using BlockTileFn =
      void (*)(const std::uint8_t*, std::size_t, const typename A::Block*, std::int64_t, float*);
  static constexpr BlockTileFn kWide[kMaxRows] = {block_tile<F, A, 4, 1>, block_tile<F, A, 2, 2>,
                                                  block_tile<F, A, 2, 3>, block_tile<F, A, 2, 4>};
  static constexpr int kWideRows[kMaxRows] = {4, 2, 2, 2};
  static constexpr BlockTileFn kSingle[kMaxRows] = {block_tile<F, A, 1, 1>, block_tile<F, A, 1, 2>,
                                                    block_tile<F, A, 1, 3>, block_tile<F, A, 1, 4>};
  float out[4 * kMaxRows];
  for (std::int64_t r0 = 0; r0 < t.rows; r0 += kMaxRows) {
    const int rx = static_cast<int>(std::min<std::int64_t>(kMaxRows, t.rows - r0));
    const typename A::Block* x = t.x + r0 * t.x_row_blocks;
    float* y = t.y + r0 * t.ldy;
    std::int64_t n = t.n0;
    const int rw = kWideRows[rx - 1];
    for (; n + rw <= t.n1; n += rw) {
      kWide[rx - 1](t.w + static_cast<std::size_t>(n) * t.w_row_bytes, t.w_row_bytes, x,
                    t.x_row_blocks, out);
      for (int j = 0; j < rx; ++j)
        for (int i = 0; i < rw; ++i) y[j * t.ldy + n + i] = out[j * rw + i];
    }
    for (; n < t.n1; ++n) {
      kSingle[rx - 1](t.w + static_cast<std::size_t>(n) * t.w_row_bytes, t.w_row_bytes, x,
                      t.x_row_blocks, out);
      for (int j = 0; j < rx; ++j) y[j * t.ldy + n] = out[j];
    }
  }
}

// ---- float weights ---------------------------------------------------------------------------

enum class FloatKind { f32, f16, bf16 };

template <FloatKind kKind>
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline __m256 load8(const std::uint8_t* w,
                                                                         std::int64_t k) {
  if constexpr (kKind == FloatKind::f32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + k);
  } else {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * k));
    if constexpr (kKind == FloatKind::f16) {
      return _mm256_cvtph_ps(raw);
    } else {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
    }
  }
}

template <FloatKind kKind>
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline float load1(const std::uint8_t* w,
                                                                        std::int64_t k) {
  if constexpr (kKind == FloatKind::f32) {
    float v;
    std::memcpy(&v, w + 4 * k, sizeof v);
    return v;
  } else if constexpr (kKind == FloatKind::f16) {
    return _cvtsh_ss(load_u16(w + 2 * k));
  } else {
    return bf16_bits_to_f32(load_u16(w + 2 * k));
  }
}

template <FloatKind kKind, int R>
[[gnu::target("avx2,fma,f16c")]] void float_row(const std::uint8_t* w, const float* x,
                                                std::int64_t k_total, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  std::int64_t k = 0;
  for (; k + 8 <= k_total; k += 8) {
    const __m256 wv = load8<kKind>(w, k);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * k_total + k), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float sum = hsum(acc[r]);
    for (std::int64_t kk = k; kk < k_total; ++kk)
      sum = std::fma(load1<kKind>(w, kk), x[r * k_total + kk], sum);
    out[r] = sum;
  }
}

template <FloatKind kKind>
[[gnu::target("avx2,fma,f16c")]] void float_tile(const FloatTile& t) {
  float out[kMaxRows];
  for (std::int64_t r0 = 0; r0 < t.rows; r0 += kMaxRows) {
    const int rows = static_cast<int>(std::min<std::int64_t>(kMaxRows, t.rows - r0));
    const float* x = t.x + r0 * t.k;
    for (std::int64_t n = t.n0; n < t.n1; ++n) {
      const std::uint8_t* w = t.w + static_cast<std::size_t>(n) * t.w_row_bytes;
      switch (rows) {
        case 1:
          float_row<kKind, 1>(w, x, t.k, out);
          break;
        case 2:
          float_row<kKind, 2>(w, x, t.k, out);
          break;
        case 3:
          float_row<kKind, 3>(w, x, t.k, out);
          break;
        default:
          float_row<kKind, 4>(w, x, t.k, out);
          break;
      }
      for (int r = 0; r < rows; ++r) t.y[(r0 + r) * t.ldy + n] = out[r];
    }
  }
}

}  // namespace

void q4_0_tile_avx2(const QuantTile& t) {
  quant_tile<Q4_0Format, Act8<Q4_0Format>>(t);
}
void q4_1_tile_avx2(const QuantTile& t) {
  quant_tile<Q4_1Format, Act8<Q4_1Format>>(t);
}
void q8_0_tile_avx2(const QuantTile& t) {
  quant_tile<Q8_0Format, Act8<Q8_0Format>>(t);
}
void q4_0_q16_tile_avx2(const Quant16Tile& t) {
  quant_tile<Q4_0Format, Act16<Q4_0Format>>(t);
}
void q4_1_q16_tile_avx2(const Quant16Tile& t) {
  quant_tile<Q4_1Format, Act16<Q4_1Format>>(t);
}
void q8_0_q16_tile_avx2(const Quant16Tile& t) {
  quant_tile<Q8_0Format, Act16<Q8_0Format>>(t);
}
void f32_tile_avx2(const FloatTile& t) {
  float_tile<FloatKind::f32>(t);
}
void f16_tile_avx2(const FloatTile& t) {
  float_tile<FloatKind::f16>(t);
}
void bf16_tile_avx2(const FloatTile& t) {
  float_tile<FloatKind::bf16>(t);
}

namespace {

// One block of 32 floats as integers: d = max|x| / qmax, q = round(x / d) with the same
// arithmetic as the scalar path (multiply by the inverse, round half to even), so both give
// identical blocks. Returns d; the codes land in q[0..3] (8 int32 each) and their sum in *sum.
[[gnu::target("avx2,fma,f16c"), gnu::always_inline]] inline float block_codes(const float* x,
                                                                              float qmax,
                                                                              __m256i q[4],
                                                                              int* sum) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v[i]));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float d = _mm_cvtss_f32(m4) / qmax;
  const __m256 inv_d = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
  for (int i = 0; i < 4; ++i)
    q[i] = _mm256_cvtps_epi32(
        _mm256_round_ps(_mm256_mul_ps(v[i], inv_d), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i sum4 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum4), _mm256_extracti128_si256(sum4, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  *sum = _mm_cvtsi128_si32(s);
  return d;
}

}  // namespace

[[gnu::target("avx2,fma,f16c")]] void quantize_q8_avx2(Q8Block* out, const float* x,
                                                       std::int64_t blocks) {
  const __m256i pack_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t b = 0; b < blocks; ++b, x += kQuantBlock) {
    __m256i q[4];
    int sum = 0;
    const float d = block_codes(x, 127.0f, q, &sum);
    // The packs interleave 128-bit lanes; the permutation restores element order.
    const __m256i packed16_lo = _mm256_packs_epi32(q[0], q[1]);
    const __m256i packed16_hi = _mm256_packs_epi32(q[2], q[3]);
    const __m256i packed8 =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(packed16_lo, packed16_hi), pack_order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), packed8);
    out[b].d = d;
    out[b].s = d * static_cast<float>(sum);
  }
}

[[gnu::target("avx2,fma,f16c")]] void quantize_q16_avx2(Q16Block* out, const float* x,
                                                        std::int64_t blocks) {
  for (std::int64_t b = 0; b < blocks; ++b, x += kQuantBlock) {
    __m256i q[4];
    int sum = 0;
    const float d = block_codes(x, 32767.0f, q, &sum);
    auto* dst = reinterpret_cast<__m256i*>(out[b].q);
    // packs gives elements 0-3, 8-11, 4-7, 12-15; the 64-bit permutation puts them in order.
    _mm256_storeu_si256(dst, _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8));
    _mm256_storeu_si256(dst + 1, _mm256_permute4x64_epi64(_mm256_packs_epi32(q[2], q[3]), 0xD8));
    out[b].d = d;
    out[b].s = d * static_cast<float>(sum);
  }
}

}  // namespace klab::cpu::detail

#endif  // __x86_64__
