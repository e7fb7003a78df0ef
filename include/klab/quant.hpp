// Group-wise quantized matrices, and their lossless mapping to the GGUF block types.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "klab/tensor.hpp"

namespace klab {

struct QuantFormat {
  int bits = 4;             // 4 or 8
  int group = 32;           // 32, 64 or 128 elements share one scale (and min)
  bool asymmetric = false;  // false: v = q * scale; true: v = q * scale + min

  std::string name() const;  // e.g. "q4_g32_sym"
  bool operator==(const QuantFormat&) const = default;
};

// W[rows=N, cols=K], quantized along K in groups.
//
// Codes (`packed`, row-major, rows * cols * bits / 8 bytes):
//   4-bit: element 2i in the low nibble of byte i, 2i+1 in the high nibble.
//          symmetric:  nibble n in [0, 15] means q = n - 8  (as GGUF Q4_0);
//          asymmetric: nibble n means q = n             (as GGUF Q4_1).
//   8-bit: symmetric: int8 q (as GGUF Q8_0); asymmetric: uint8 q.
// Scales and mins are f16 bit patterns (as in GGUF), [rows, cols / group], so conversion
// to and from GGUF blocks is exact.
struct QuantMatrix {
  QuantFormat format;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::uint8_t> packed;
  std::vector<std::uint16_t> scales;
  std::vector<std::uint16_t> mins;  // empty when symmetric

  std::int64_t groups_per_row() const { return cols / format.group; }
  std::size_t row_bytes() const { return static_cast<std::size_t>(cols * format.bits / 8); }
  // Total bytes of codes + scales + mins: what a kernel must read.
  std::size_t storage_bytes() const;
  // Throws Error when sizes are inconsistent with format, rows and cols.
  void validate(std::string_view op) const;
  // Value of one element (slow; for tests and the reference path): float(q) * scale (+ min),
  // evaluated in f32 in that order (as llama.cpp dequantizes). Throws when out of range.
  float value(std::int64_t row, std::int64_t col) const;
  // The integer q of one element (n - 8 for symmetric 4-bit, the raw code otherwise), and its
  // inverse; both apply the packing rules above. Unchecked: callers validate first.
  std::int32_t code(std::int64_t row, std::int64_t col) const;
  void set_code(std::int64_t row, std::int64_t col, std::int32_t q);
  // Code range of the format: [-8, 7] / [-128, 127] symmetric, [0, 15] / [0, 255] asymmetric.
  std::int32_t min_code() const;
  std::int32_t max_code() const;
};

// GGUF block types that map exactly onto a QuantMatrix.
enum class GgufBlockType { q4_0, q4_1, q8_0 };
QuantFormat gguf_block_format(GgufBlockType t);
std::size_t gguf_block_bytes(GgufBlockType t);  // bytes per 32-element block

// `blocks` holds rows * cols / 32 blocks, row-major, exactly as stored in a GGUF file.
QuantMatrix from_gguf_blocks(GgufBlockType t, std::int64_t rows, std::int64_t cols,
                             std::span<const std::uint8_t> blocks);
std::vector<std::uint8_t> to_gguf_blocks(GgufBlockType t, const QuantMatrix& m);

}  // namespace klab
