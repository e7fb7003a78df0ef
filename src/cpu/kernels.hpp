// Internal to the CPU backend: GGUF block layouts and the per-ISA tile kernels that
// matmul() dispatches to. A tile computes y[r, n] for every input row r and the output
// columns [n0, n1); the kernels reuse each weight block across up to 4 input rows.
// Quantized kernels come per (weight type, activation format): *_tile with 8-bit activation
// blocks, *_q16_tile with 16-bit ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "klab/cpu_matmul.hpp"

namespace klab::cpu::detail {

// GGUF block layouts (32 elements each), little-endian, no padding:
//   Q4_0: f16 d, u8 qs[16]          value = (nibble - 8) * d
//   Q4_1: f16 d, f16 m, u8 qs[16]   value = nibble * d + m
//   Q8_0: f16 d, i8 qs[32]          value = q * d
// Element j < 16 is the low nibble of qs[j], element j + 16 its high nibble.
constexpr std::size_t kQ4_0Bytes = 18;
constexpr std::size_t kQ4_1Bytes = 20;
constexpr std::size_t kQ8_0Bytes = 34;

// Weights come from a memory map with no alignment promise beyond 2 bytes: read via memcpy.
inline std::uint16_t load_u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// XBlock: Q8Block or Q16Block, the activation format.
template <class XBlock>
struct QuantTileOf {
  const std::uint8_t* w;    // row 0 of the weight matrix
  std::size_t w_row_bytes;  // bytes per weight row
  std::int64_t n0, n1;      // output columns = weight rows to compute
  const XBlock* x;          // input row r starts at x + r * x_row_blocks
  std::int64_t x_row_blocks;
  std::int64_t rows;  // input rows M
  float* y;           // y[r * ldy + n]
  std::int64_t ldy;
};
using QuantTile = QuantTileOf<Q8Block>;
using Quant16Tile = QuantTileOf<Q16Block>;

struct FloatTile {
  const std::uint8_t* w;
  std::size_t w_row_bytes;
  std::int64_t n0, n1;
  const float* x;  // input row r starts at x + r * k
  std::int64_t k;
  std::int64_t rows;
  float* y;
  std::int64_t ldy;
};

using QuantTileFn = void (*)(const QuantTile&);
using Quant16TileFn = void (*)(const Quant16Tile&);
using FloatTileFn = void (*)(const FloatTile&);
using QuantizeFn = void (*)(Q8Block* out, const float* x, std::int64_t blocks);
using Quantize16Fn = void (*)(Q16Block* out, const float* x, std::int64_t blocks);

// Portable versions.
void q4_0_tile_scalar(const QuantTile& t);
void q4_1_tile_scalar(const QuantTile& t);
void q8_0_tile_scalar(const QuantTile& t);
void f32_tile_scalar(const FloatTile& t);
void f16_tile_scalar(const FloatTile& t);
void bf16_tile_scalar(const FloatTile& t);
void quantize_q8_scalar(Q8Block* out, const float* x, std::int64_t blocks);
void q4_0_q16_tile_scalar(const Quant16Tile& t);
void q4_1_q16_tile_scalar(const Quant16Tile& t);
void q8_0_q16_tile_scalar(const Quant16Tile& t);
void quantize_q16_scalar(Q16Block* out, const float* x, std::int64_t blocks);

// AVX2 + FMA + F16C versions; call only when best_isa() == Isa::avx2.
void q4_0_tile_avx2(const QuantTile& t);
void q4_1_tile_avx2(const QuantTile& t);
void q8_0_tile_avx2(const QuantTile& t);
void f32_tile_avx2(const FloatTile& t);
void f16_tile_avx2(const FloatTile& t);
void bf16_tile_avx2(const FloatTile& t);
void quantize_q8_avx2(Q8Block* out, const float* x, std::int64_t blocks);
void q4_0_q16_tile_avx2(const Quant16Tile& t);
void q4_1_q16_tile_avx2(const Quant16Tile& t);
void q8_0_q16_tile_avx2(const Quant16Tile& t);
void quantize_q16_avx2(Q16Block* out, const float* x, std::int64_t blocks);

}  // namespace klab::cpu::detail
