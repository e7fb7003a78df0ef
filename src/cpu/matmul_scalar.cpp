// Portable tile kernels: the same arithmetic as the AVX2 ones (exact integer block sums, one
// float multiply-add per block), written as plain loops.
#include <cmath>
#include <type_traits>

#include "cpu/kernels.hpp"
#include "klab/dtype.hpp"

namespace klab::cpu::detail {
namespace {

float f16_at(const std::uint8_t* p) {
  return f16_bits_to_f32(load_u16(p));
}

// Sum over the block of nibble * q (nibbles unsigned, 0..15; q int8 or int16: at most
// 32 * 15 * 32767 in magnitude, well inside int32).
template <class Q>
std::int32_t nibble_dot(const std::uint8_t* qs, const Q* q) {
  std::int32_t sum = 0;
  for (int j = 0; j < kQuantBlock / 2; ++j) {
    sum += (qs[j] & 0x0F) * q[j];
    sum += (qs[j] >> 4) * q[j + kQuantBlock / 2];
  }
  return sum;
}

template <class Q>
std::int32_t int8_dot(const std::int8_t* w, const Q* q) {
  std::int32_t sum = 0;
  for (int j = 0; j < kQuantBlock; ++j) sum += w[j] * q[j];
  return sum;
}

// Q4_0 and Q4_1 share the kernel: Q4_0's "- 8" is a min of -8 * d, folded in through x's s.
template <bool kHasMin, class XBlock>
void q4_tile(const QuantTileOf<XBlock>& t) {
  const std::size_t block_bytes = kHasMin ? kQ4_1Bytes : kQ4_0Bytes;
  for (std::int64_t r = 0; r < t.rows; ++r) {
    const XBlock* x = t.x + r * t.x_row_blocks;
    for (std::int64_t n = t.n0; n < t.n1; ++n) {
      const std::uint8_t* w = t.w + static_cast<std::size_t>(n) * t.w_row_bytes;
      float acc = 0, acc_min = 0;
      for (std::int64_t b = 0; b < t.x_row_blocks; ++b, w += block_bytes) {
        const float d = f16_at(w);
        const float m = kHasMin ? f16_at(w + 2) : -8.0f * d;
        const std::uint8_t* qs = w + (kHasMin ? 4 : 2);
        acc += static_cast<float>(nibble_dot(qs, x[b].q)) * (d * x[b].d);
        acc_min += m * x[b].s;
      }
      t.y[r * t.ldy + n] = acc + acc_min;
    }
  }
}

template <class XBlock>
void q8_0_tile(const QuantTileOf<XBlock>& t) {
  for (std::int64_t r = 0; r < t.rows; ++r) {
    const XBlock* x = t.x + r * t.x_row_blocks;
    for (std::int64_t n = t.n0; n < t.n1; ++n) {
      const std::uint8_t* w = t.w + static_cast<std::size_t>(n) * t.w_row_bytes;
      float acc = 0;
      for (std::int64_t b = 0; b < t.x_row_blocks; ++b, w += kQ8_0Bytes) {
        const auto* qs = reinterpret_cast<const std::int8_t*>(w + 2);
        acc += static_cast<float>(int8_dot(qs, x[b].q)) * (f16_at(w) * x[b].d);
      }
      t.y[r * t.ldy + n] = acc;
    }
  }
}

// d = max|x| / qmax, q = round(x / d) (half to even), s = d * sum(q).
template <class XBlock, int kQmax>
void quantize_blocks(XBlock* out, const float* x, std::int64_t blocks) {
  using Q = std::remove_reference_t<decltype(out->q[0])>;
  for (std::int64_t b = 0; b < blocks; ++b, x += kQuantBlock) {
    float amax = 0;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / static_cast<float>(kQmax);
    const float inv_d = d != 0 ? 1.0f / d : 0.0f;
    std::int32_t sum = 0;
    for (int j = 0; j < kQuantBlock; ++j) {
      const auto q = static_cast<Q>(std::nearbyint(x[j] * inv_d));
      out[b].q[j] = q;
      sum += q;
    }
    out[b].d = d;
    out[b].s = d * static_cast<float>(sum);
  }
}

template <class Load>
void float_tile(const FloatTile& t, Load load) {
  for (std::int64_t r = 0; r < t.rows; ++r) {
    const float* x = t.x + r * t.k;
    for (std::int64_t n = t.n0; n < t.n1; ++n) {
      const std::uint8_t* w = t.w + static_cast<std::size_t>(n) * t.w_row_bytes;
      float acc = 0;
      for (std::int64_t k = 0; k < t.k; ++k) acc += load(w, k) * x[k];
      t.y[r * t.ldy + n] = acc;
    }
  }
}

}  // namespace

void q4_0_tile_scalar(const QuantTile& t) {
  q4_tile<false>(t);
}
void q4_1_tile_scalar(const QuantTile& t) {
  q4_tile<true>(t);
}
void q8_0_tile_scalar(const QuantTile& t) {
  q8_0_tile(t);
}
void q4_0_q16_tile_scalar(const Quant16Tile& t) {
  q4_tile<false>(t);
}
void q4_1_q16_tile_scalar(const Quant16Tile& t) {
  q4_tile<true>(t);
}
void q8_0_q16_tile_scalar(const Quant16Tile& t) {
  q8_0_tile(t);
}

void f32_tile_scalar(const FloatTile& t) {
  float_tile(t, [](const std::uint8_t* w, std::int64_t k) {
    float v;
    std::memcpy(&v, w + 4 * k, sizeof v);
    return v;
  });
}

void f16_tile_scalar(const FloatTile& t) {
  float_tile(t, [](const std::uint8_t* w, std::int64_t k) { return f16_at(w + 2 * k); });
}

void bf16_tile_scalar(const FloatTile& t) {
  float_tile(t, [](const std::uint8_t* w, std::int64_t k) {
    return bf16_bits_to_f32(load_u16(w + 2 * k));
  });
}

void quantize_q8_scalar(Q8Block* out, const float* x, std::int64_t blocks) {
  quantize_blocks<Q8Block, 127>(out, x, blocks);
}
void quantize_q16_scalar(Q16Block* out, const float* x, std::int64_t blocks) {
  quantize_blocks<Q16Block, 32767>(out, x, blocks);
}

}  // namespace klab::cpu::detail
