// A klab::QuantMatrix uploaded to the GPU once, in up to two layouts (docs/quant-layout.md):
//
//   plain  the host bytes unchanged: codes row-major, f16 scales / mins [N, K / group].
//          Simple kernels (naive, warp_per_row, ...) and dequantization read it.
//   tiled  repacked for the tensor-core kernels: 16 rows x (256 / bits) columns per 512-byte
//          chunk, one 16-byte load per lane yields that lane's mma.sync m16n8k16 A fragments
//          (nibbles interleaved so one LOP3 makes a half2 pair), scales and mins as f16 pairs
//          of rows (g, g + 8) per group. Rows are padded to 16 and, for 4-bit, columns to 64
//          with zero codes and zero scales, so padded elements are exactly 0.
//
// The device side is read-only after upload; views are plain structs passed to kernels (their
// constexpr helpers are callable from device code through --expt-relaxed-constexpr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "klab/buffer.hpp"
#include "klab/quant.hpp"

namespace klab::cuda {

// Rows per tile of the tiled layout (the M of mma.sync m16n8k16).
inline constexpr int kQuantTileRows = 16;
// Columns per 512-byte chunk of the tiled layout: 64 for 4-bit, 32 for 8-bit.
constexpr int quant_chunk_cols(int bits) {
  return 256 / bits;
}
// Code a symmetric format stores for q = 0 in the tiled layout (codes are kept unsigned).
constexpr int quant_zero_point(const QuantFormat& f) {
  return f.asymmetric ? 0 : (f.bits == 4 ? 8 : 128);
}

struct QuantPlainView {
  const std::uint8_t* codes = nullptr;    // [rows, cols * bits / 8], as klab::QuantMatrix
  const std::uint16_t* scales = nullptr;  // f16 bits [rows, cols / group]
  const std::uint16_t* mins = nullptr;    // f16 bits [rows, cols / group]; null if symmetric
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  int bits = 4;
  int group = 32;
  bool asymmetric = false;

  // Bytes of the codes and of the scales (the mins, when present, are as many as the scales).
  constexpr std::int64_t code_bytes() const { return rows * cols * bits / 8; }
  constexpr std::int64_t scale_bytes() const { return rows * (cols / group) * 2; }
};

struct QuantTiledView {
  // [rows_padded / 16][cols_padded / chunk_cols][32 lanes][16 bytes], unsigned codes
  // (symmetric codes biased by quant_zero_point).
  const std::uint8_t* codes = nullptr;
  // f16 pairs {s[16T + g][grp], s[16T + g + 8][grp]} at [T][grp][g], g in 0..7.
  const std::uint32_t* scales = nullptr;
  const std::uint32_t* mins = nullptr;  // same layout; null if symmetric
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t rows_padded = 0;
  std::int64_t cols_padded = 0;
  int bits = 4;
  int group = 32;
  bool asymmetric = false;

  constexpr std::int64_t tiles() const { return rows_padded / kQuantTileRows; }
  constexpr std::int64_t chunks() const { return cols_padded / quant_chunk_cols(bits); }
  constexpr std::int64_t groups_padded() const { return cols_padded / group; }
  // Bytes of the codes and of the scales (the mins, when present, are as many as the scales).
  constexpr std::int64_t code_bytes() const { return tiles() * chunks() * 512; }
  constexpr std::int64_t scale_bytes() const { return tiles() * groups_padded() * 32; }
};

// The tiled layout built on the host (what upload() copies; exposed for tests and docs).
struct TiledQuantHost {
  std::int64_t rows_padded = 0;
  std::int64_t cols_padded = 0;
  std::vector<std::uint8_t> codes;
  std::vector<std::uint32_t> scales;
  std::vector<std::uint32_t> mins;  // empty when symmetric
};
TiledQuantHost repack_tiled(const QuantMatrix& m);
// Inverse of the tiled code layout: the unsigned code of element (row, col) (for tests).
int tiled_code_at(const TiledQuantHost& t, int bits, std::int64_t row, std::int64_t col);

enum class QuantLayouts : std::uint8_t { plain = 1, tiled = 2, both = 3 };

class DeviceQuantMatrix {
 public:
  DeviceQuantMatrix() = default;
  // Validates `m` (klab::Error on inconsistent sizes) and uploads the requested layouts.
  static DeviceQuantMatrix upload(const QuantMatrix& m, QuantLayouts layouts = QuantLayouts::both);
  // A second device copy (device-to-device; e.g. benchmark sets that rotate past L2).
  DeviceQuantMatrix clone() const;

  const QuantFormat& format() const { return format_; }
  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  bool has_plain() const { return has_plain_; }
  bool has_tiled() const { return has_tiled_; }
  // Throw klab::Error when the layout was not uploaded.
  QuantPlainView plain() const;
  QuantTiledView tiled() const;
  // Codes + scales + mins of the logical (unpadded) matrix: the bytes a GEMV must read.
  std::size_t weight_bytes() const;

 private:
  QuantFormat format_;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
  bool has_plain_ = false;
  bool has_tiled_ = false;
  DeviceBuffer plain_codes_, plain_scales_, plain_mins_;
  DeviceBuffer tiled_codes_, tiled_scales_, tiled_mins_;
  std::int64_t rows_padded_ = 0;
  std::int64_t cols_padded_ = 0;
};

}  // namespace klab::cuda
